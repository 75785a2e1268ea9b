"""The Magento 2 / Adobe Commerce REST emulator: routing under `/rest[/<store>]/V1`, admin
tokens, the error envelope, and the wiring of customers, catalog, orders and documents.

Follows external-apis.md §3 (CONFIRMED behaviour exactly). Choices where the reference says
LIKELY or UNCONFIRMED, or where the sandbox deliberately simplifies:

- Store codes: `/rest/V1`, `/rest/default/V1` and `/rest/all/V1` reach the same single store
  view; any other code answers 400 "The store that was requested wasn't found. Verify the store
  and try again." (LIKELY text). The async `/rest/async/...` variants are not emulated.
- Admin token: 32 lowercase alphanumerics, JSON string body, lifetime 4 h (configurable through
  `POST /__sandbox__/config {"admin_token_lifetime_s"}`; like Magento the lifetime is applied at
  validation time, so shortening it also expires older tokens). Tokens survive restarts. Bad
  credentials: 401 "The account sign-in was incorrect ..." (LIKELY); no lockout after repeated
  failures. With `two_factor_auth` on, the token call answers 401 "Please use the 2fa
  provider-specific endpoints to obtain a token." (LIKELY). Missing, unknown or expired tokens:
  401 "The consumer isn't authorized to access %resources." with the route's ACL resource.
- Unknown route and wrong verb: both `{"message": "Request does not match any route."}`, 404 and
  405 respectively (405 LIKELY). A body that is not JSON: 400 "Decoding error." (LIKELY, the
  production-mode text). Crashes: 500 with the masked "Internal Error ... Report ID:
  webapi-..." message. Faults without a body: 502/503/504 answer an HTML page as a web server or
  CDN would; 429 answers `{"message": "Too Many Requests"}` (Magento core has no 429: it models
  the merchant's CDN, UNCONFIRMED). The `{"messages": {"error": [...]}}` fatal shape is available
  by scripting a fault with that body.
- Lists: every getList requires `searchCriteria` (400 "%fieldName is a required field.", as the
  reference CONFIRMS for products; the other lists share the same input processor). The
  last-page-repeat quirk applies to every list, products and source items included (the worst
  case a client must handle). Unknown fields are NULL (real Magento would 500 on an unknown
  column); unknown condition types are a 400. Text compares case-insensitively (MySQL collation).
- Web API input limits are ON by default, as 2.4.3 shipped them (list inputs max 20, default
  page size 20 when pageSize is absent, max page size 300 → 400 "Maximum SearchCriteria pageSize
  is %max"); `POST /__sandbox__/config {"input_limits": false}` turns them off. Over-long lists:
  400 'Maximum items of type "%type" is %max' (text from Magento's input-limit validator).
- Not found: orders, invoices, credit memos, shipments and transactions answer 404 "The entity
  that was requested doesn't exist. Verify the entity and try again." (LIKELY); customers 404
  "No such entity with %fieldName = %fieldValue" (customerId); products 404 "The product that
  was requested doesn't exist. Verify the product and try again." (LIKELY).
- Customers: PUT merges the given fields over the stored customer (Magento replaces; the
  difference only shows for omitted optional fields). Region free text: `region_code` = text,
  `region_id` 0. Duplicate email per website: 400 (CONFIRMED text).
- Products: POST and PUT both upsert by SKU (LIKELY); a missing name/price is 400 'The "%1"
  attribute value is empty...'; `url_key` defaults to the name's slug and must be unique (400
  "URL key for specified store already exists.", LIKELY). Simple products only: no
  configurable parent/child rows.
- Stock is MSI-style: one `default` source; `stockItems` is the view of it; placing an order
  reserves (salable quantity drops), shipping deducts the source quantity, refunds with
  `return_to_stock_items` put shipped quantities back. `POST /V1/inventory/source-items` answers
  `[]` (LIKELY) and validates with a 400 "Validation Failed" + `errors`.
- Orders: one currency (GBP), prices exclusive of tax, tax classes "2" 20 %, "9" 5 %, "0" none,
  flat-rate shipping 5.00 (untaxed) per order, increment ids `000000001`... Amount fields appear
  once they are non-zero (`total_paid`, `total_refunded`...), as in Magento's output. Cancel
  answers `false` when the order cannot be canceled. Not emulated: admin order create
  (`POST /V1/orders`, `PUT /V1/orders/create`), invoice capture/void, credit-memo save/cancel.
- Webhooks (see webhooks.py): Adobe Commerce observer event names, `data` holding the event's
  object as the REST API renders it (`order`, `creditmemo`, `product`, `item` for stock with
  `sku` and `source_code` added, `customer_data_object` + `orig_customer_data_object`). Placing
  an order sends only `observer.sales_order_place_after` (Magento also fires save_after). They
  are sent after the change is stored, from a background thread, so an `{"op": "exception"}`
  answer is logged but cannot abort the change.
"""

from __future__ import annotations

import logging
import secrets
import string
import threading
import time
from collections.abc import Callable
from pathlib import Path

from connectors.magento.sandbox.catalog import CatalogApi
from connectors.magento.sandbox.common import (
    NO_ROUTE,
    SIGN_IN_INCORRECT,
    STORE_MISSING,
    TWO_FACTOR_REQUIRED,
    MagentoError,
    html_response,
    json_response,
    masked_internal_error,
    not_authorized,
    required,
)
from connectors.magento.sandbox.control import ControlApi
from connectors.magento.sandbox.customers import CustomersApi
from connectors.magento.sandbox.documents import DocumentsApi
from connectors.magento.sandbox.orders import OrdersApi
from connectors.magento.sandbox.search import InputLimits
from connectors.magento.sandbox.seeding import seed_world
from connectors.magento.sandbox.webhooks import WebhookEmitter, WebhookSigner
from connectors.sandbox.server import Emulator, Request, Response
from connectors.sandbox.state import StateStore

logger = logging.getLogger(__name__)

PREFIX = r"/rest(?:/(?P<store_code>[A-Za-z0-9_]+))?/V1"
STORE_CODES = {None, "default", "all"}
ADMIN_TOKEN_LIFETIME_S = 4 * 3600
ADMIN_USERNAME = "admin"
HTML_STATUSES = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _admin_password(key_dir: Path) -> str:
    """Generated once and kept next to the webhook key, so endpoints.json stays valid."""
    path = key_dir / "admin-password"
    if path.exists():
        return path.read_text().strip()
    alphabet = string.ascii_letters + string.digits
    password = "".join(secrets.choice(alphabet) for _ in range(20))
    path.write_text(password)
    path.chmod(0o600)
    return password


class MagentoEmulator(Emulator):
    system = "magento"

    def __init__(self, store: StateStore, state_dir: Path):
        super().__init__(store, state_dir)
        key_dir = self.state_dir / "magento"
        self.signer = WebhookSigner(key_dir)
        self.username = ADMIN_USERNAME
        self.password = _admin_password(key_dir)
        self.webhooks = WebhookEmitter(store, self.signer, self.state_dir / "tls" / "ca.pem")
        self.limits = InputLimits()
        self.admin_token_lifetime_s: float = ADMIN_TOKEN_LIFETIME_S
        self.two_factor_auth = False
        self.lock = threading.RLock()  # one writer at a time: checkout touches several records
        self.customers = CustomersApi(self)
        self.catalog = CatalogApi(self)
        self.orders = OrdersApi(self)
        self.documents = DocumentsApi(self)
        self.control = ControlApi(self)

    # The contract -------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Callable]]:
        table = [
            ("POST", "/integration/admin/token", self.admin_token, None),
            *self.customers.routes(),
            *self.catalog.routes(),
            *self.orders.routes(),
            *self.documents.routes(),
        ]
        return [
            (method, PREFIX + suffix, self._wrap(handler, resource))
            for method, suffix, handler, resource in table
        ]

    def control_routes(self) -> list[tuple[str, str, Callable]]:
        return [
            (method, pattern, self._wrap(handler, None, control=True))
            for method, pattern, handler in self.control.routes()
        ]

    def error_response(self, status: int, message: str) -> Response:
        if status in (404, 405):
            return json_response({"message": NO_ROUTE}, status)
        if status == 401:
            return not_authorized("Magento_Backend::admin").response()
        if status == 429:
            return json_response({"message": "Too Many Requests"}, 429)
        if status in HTML_STATUSES:
            return html_response(status, HTML_STATUSES[status])
        if status >= 500:
            return masked_internal_error()
        if message.startswith("request body is not valid JSON"):
            message = "Decoding error."  # Magento outside developer mode gives no detail
        return json_response({"message": message}, status)

    def endpoints(self) -> dict:
        return {
            "base_url": f"{self.base_origin}/rest",
            "username": self.username,
            "password": self.password,
            "webhook_public_key": self.signer.public_key_pem,
            "control_url": self.control_url,
        }

    def seed(self, world) -> list[tuple[str, str, str]]:
        return seed_world(self, world)

    def reset(self, reseed: bool = False) -> None:
        # The subscriber is wiring, not shop data: it outlives a reset.
        url = self.webhooks.subscriber_url
        with self.lock:
            super().reset(reseed)
        self.webhooks.subscriber_url = url

    # Request plumbing ---------------------------------------------------------------------
    def _wrap(self, handler: Callable, resource: str | None, control: bool = False) -> Callable:
        def handle(request: Request) -> Response:
            try:
                if not control:
                    self._check_store(request)
                if resource is not None:
                    self._authorize(request, resource)
                if request.method == "GET":
                    result = handler(request)
                else:
                    with self.lock:
                        result = handler(request)
            except MagentoError as error:
                return error.response()
            return result if isinstance(result, Response) else json_response(result)

        return handle

    def _check_store(self, request: Request) -> None:
        if request.match and request.match["store_code"] not in STORE_CODES:
            raise MagentoError(400, STORE_MISSING)

    def _authorize(self, request: Request, resource: str) -> None:
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise not_authorized(resource)
        issued = self.store.get("admin_token", token.strip())
        if issued is None or time.time() - issued["created_at"] > self.admin_token_lifetime_s:
            raise not_authorized(resource)

    def admin_token(self, request: Request) -> str:
        payload = request.json()
        if not isinstance(payload, dict):
            raise required("username")
        if self.two_factor_auth:
            raise MagentoError(401, TWO_FACTOR_REQUIRED)
        username, password = str(payload.get("username", "")), str(payload.get("password", ""))
        if not (
            secrets.compare_digest(username.encode(), self.username.encode())
            and secrets.compare_digest(password.encode(), self.password.encode())
        ):
            raise MagentoError(401, SIGN_IN_INCORRECT)
        alphabet = string.ascii_lowercase + string.digits
        token = "".join(secrets.choice(alphabet) for _ in range(32))
        self.store.put("admin_token", token, {"created_at": time.time(), "user": username})
        return token
