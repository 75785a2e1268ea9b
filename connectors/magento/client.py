"""Magento 2 REST client: admin token, store-code paths, error envelope, paging, reads, writes.

Every call goes through the connection's ResilientSession (timeouts, retries, breaker, rate
limit); this module adds what is Magento's own:

- Admin token (`POST /V1/integration/admin/token`, a JSON string), sent as a Bearer header and
  cached in this process per connection, so every client of a connection shares it. Tokens are
  credentials: they stay in memory, never in the database, a cache or a log. A 401 drops the
  token, authenticates again once and repeats the call; a second 401, or bad credentials on
  the token call itself, is an AuthError (never retried).
- Paths `<base_url>/<store_code>/V1/...` with `options["store_code"]` ("default"; "all" for
  global admin writes).
- The error envelope (placeholders filled from `parameters`, `errors[]`, the fatal
  `{"messages": {"error": [...]}}` shape) mapped to the exception tree by errors.py: duplicate
  email or URL key → DuplicateError, "No such entity" → NotFoundError, other 400s →
  ValidationError, each with Magento's filled-in message.
- Full and incremental reads page by keyset (`<id> gt <last seen>`, sorted by id, always page
  1), so records created, changed or deleted while a listing runs can neither be skipped nor
  repeated; Magento's last-page-repeat quirk cannot arise. Real Magento filters customers and
  products by `entity_id` (it refuses `id`); an API that silently ignores `entity_id` (the
  sandbox) is detected by one probe and the records' `id` is used instead. Lists without an id
  (source items, an order's documents) use numbered pages with the total_count guard.

Options (Connection.options): store_code, page_size (100, Magento caps at 300),
input_list_limit (20, Magento's web-API input limit), website_id (1).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

import requests

from connectors.errors import AuthError, DuplicateError, TransientError, ValidationError
from connectors.http import ResilientSession, create_once, parse_json, raise_for_error
from connectors.magento.criteria import SearchCriteria
from connectors.magento.errors import describe_error
from connectors.models import Connection
from connectors.paging import numbered_pages

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
DEFAULT_INPUT_LIST_LIMIT = 20
KEYSET_FIELDS = ("entity_id", "id")  # Magento's column first; the records' own key second

# Tokens per (connection, API root, user), shared by every client in this process.
_tokens: dict[tuple[str, str, str], str] = {}
_tokens_lock = threading.Lock()


def forget_tokens(connection_name: str | None = None) -> None:
    """Drop cached admin tokens (of one connection, or all), e.g. after a password change."""
    with _tokens_lock:
        for key in list(_tokens):
            if connection_name is None or key[0] == connection_name:
                del _tokens[key]


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # Amounts are JSON numbers on Magento's wire; a cent amount survives float exactly.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    raise TypeError(f"cannot send {type(value).__name__} to Magento")


def record_id(record: dict) -> int:
    return int(record.get("entity_id") or record.get("id") or 0)


# The client -------------------------------------------------------------------------------
class MagentoClient:
    """One Magento connection's REST API, in Magento's own payloads (see mapping.py)."""

    def __init__(self, connection: Connection, session: ResilientSession):
        self.connection = connection
        self.session = session
        options = connection.options or {}
        store_code = str(options.get("store_code") or "default").strip("/")
        self.api_root = f"{connection.base_url.rstrip('/')}/{store_code}/V1"
        self.page_size = int(options.get("page_size") or DEFAULT_PAGE_SIZE)
        self.input_list_limit = int(options.get("input_list_limit") or DEFAULT_INPUT_LIST_LIMIT)
        self.website_id = int(options.get("website_id") or 1)
        self._token_key = (connection.name, self.api_root, connection.username)
        self._keyset_field: dict[str, str | None] = {}  # per list path, once detected

    # Authentication -----------------------------------------------------------------------
    def token(self) -> str:
        """The cached admin token, fetching one when there is none."""
        with _tokens_lock:
            cached = _tokens.get(self._token_key)
        return cached or self._authenticate()

    def _authenticate(self) -> str:
        response = self.session.post(
            f"{self.api_root}/integration/admin/token",
            data=json.dumps(
                {
                    "username": self.connection.username,
                    "password": self.connection.get_secret("password"),
                }
            ),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        raise_for_error(
            response, connection=self.connection.name, describe=self._describe_token_error
        )
        token = parse_json(response, connection=self.connection.name)
        if not isinstance(token, str) or not token:
            raise TransientError(
                "the admin token call did not answer a token", connection=self.connection.name
            )
        with _tokens_lock:
            _tokens[self._token_key] = token
        logger.info("connection=%s obtained a Magento admin token", self.connection.name)
        return token

    @staticmethod
    def _describe_token_error(response: requests.Response):
        message, code, error_class = describe_error(response)
        if response.status_code in (401, 403):
            error_class = AuthError  # wrong user or password, 2FA required, locked out
        return message, code, error_class

    def _drop_token(self, token: str) -> None:
        with _tokens_lock:
            if _tokens.get(self._token_key) == token:  # another thread may have renewed it
                del _tokens[self._token_key]

    # The one request path -----------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: object = None,
    ) -> object:
        """Call `<api root><path>` with the admin token and return the JSON answer.

        A 401 re-authenticates once and repeats; every other failure is a ConcordError.
        """
        data = None if body is None else json.dumps(body, default=_json_default)
        for attempt in (1, 2):
            token = self.token()
            response = self.session.request(
                method,
                f"{self.api_root}{path}",
                params=params,
                data=data,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
            if response.status_code == 401 and attempt == 1:
                logger.info(
                    "connection=%s token refused on %s %s; authenticating again",
                    self.connection.name,
                    method,
                    path.split("?")[0],
                )
                self._drop_token(token)
                continue
            raise_for_error(response, connection=self.connection.name, describe=describe_error)
            return parse_json(response, connection=self.connection.name)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, criteria: SearchCriteria | None = None) -> object:
        return self.request("GET", path, params=criteria.params() if criteria else None)

    def search(self, path: str, criteria: SearchCriteria) -> dict:
        envelope = self.get(path, criteria)
        if not isinstance(envelope, dict) or not isinstance(envelope.get("items"), list):
            raise TransientError(
                f"{path} did not answer a search envelope", connection=self.connection.name
            )
        return envelope

    # Paging -------------------------------------------------------------------------------
    def iter_keyset(
        self, path: str, criteria: SearchCriteria | None = None, *, what: str = ""
    ) -> Iterator[dict]:
        """Every record matching `criteria`, by ascending id, each exactly once."""
        criteria = criteria or SearchCriteria()
        what = what or path
        field_name = self._keyset_field.get(path, KEYSET_FIELDS[0])
        if field_name is None:
            yield from self.iter_numbered(path, criteria.sort("entity_id"), what=what)
            return
        last = 0
        while True:
            page = criteria.where(field_name, last, "gt").sort(field_name).page(1, self.page_size)
            envelope = self.search(path, page)
            items, total = envelope["items"], int(envelope.get("total_count") or 0)
            if last == 0 and not items and path not in self._keyset_field:
                field_name = self._detect_keyset_field(path, criteria)
                if field_name is None:
                    yield from self.iter_numbered(path, criteria.sort("entity_id"), what=what)
                    return
                if field_name != KEYSET_FIELDS[0]:
                    continue  # the first field was ignored: read again by the right one
                return  # nothing matches
            self._keyset_field[path] = field_name
            new = sorted((item for item in items if record_id(item) > last), key=record_id)
            if items and not new:
                raise TransientError(
                    f"{what}: paging loop detected after id {last}",
                    connection=self.connection.name,
                )
            yield from new
            if not new or len(items) >= total:
                return
            last = record_id(new[-1])

    def _detect_keyset_field(self, path: str, criteria: SearchCriteria) -> str | None:
        """Which id field the API filters by; None when neither works (numbered paging)."""
        probe = self.search(path, criteria.page(1, 1))
        if not int(probe.get("total_count") or 0):
            return KEYSET_FIELDS[0]  # truly nothing: keep Magento's field
        for field_name in KEYSET_FIELDS[1:]:
            try:
                answer = self.search(path, criteria.where(field_name, 0, "gt").page(1, 1))
            except ValidationError:
                continue
            if int(answer.get("total_count") or 0):
                self._keyset_field[path] = field_name
                return field_name
        self._keyset_field[path] = None
        logger.warning("connection=%s %s: no id filter works; numbered paging", self.key, path)
        return None

    def iter_numbered(
        self,
        path: str,
        criteria: SearchCriteria,
        *,
        key: Callable[[dict], object] = record_id,
        what: str = "",
    ) -> Iterator[dict]:
        """Numbered pages with the total_count guard against the last-page-repeat quirk."""

        def fetch(page_number: int) -> tuple[list[dict], int]:
            envelope = self.search(path, criteria.page(page_number, self.page_size))
            return envelope["items"], int(envelope.get("total_count") or 0)

        yield from numbered_pages(fetch, key=key, what=what or path)

    @property
    def key(self) -> str:
        return self.connection.name

    @staticmethod
    def changed_since(since: datetime | None) -> SearchCriteria:
        criteria = SearchCriteria()
        return criteria.where("updated_at", since, "gteq") if since else criteria

    # Customers ----------------------------------------------------------------------------
    def iter_customers(self, since: datetime | None = None) -> Iterator[dict]:
        return self.iter_keyset("/customers/search", self.changed_since(since), what="customers")

    def get_customer(self, customer_id: int | str) -> dict:
        return self.get(f"/customers/{int(customer_id)}")

    def find_customer_by_email(self, email: str, website_id: int | None = None) -> dict | None:
        """The customer with this email on the website (emails are unique per website)."""
        website_id = self.website_id if website_id is None else website_id
        criteria = (
            SearchCriteria()
            .where("email", email.strip(), "eq")
            .where("website_id", website_id, "eq")
            .page(1, 20)
        )
        for customer in self.search("/customers/search", criteria)["items"]:
            if str(customer.get("email", "")).casefold() == email.strip().casefold():
                return customer
        return None

    def create_customer(self, payload: dict, password: str | None = None) -> dict:
        """Create a customer once: a create that timed out is looked up by email before a retry,
        and a duplicate answer to a retry of our own create returns the customer it made."""
        email = payload["email"]
        website_id = int(payload.get("website_id") or self.website_id)
        body: dict = {"customer": payload}
        if password:
            body["password"] = password
        tried = False

        def create() -> dict:
            nonlocal tried
            try:
                return self.request("POST", "/customers", body=body)
            except DuplicateError:
                if tried:  # our own earlier attempt landed after all
                    existing = self.find_customer_by_email(email, website_id)
                    if existing is not None:
                        return existing
                raise
            finally:
                tried = True

        return create_once(create, lambda: self.find_customer_by_email(email, website_id))

    def update_customer(self, customer_id: int | str, payload: dict) -> dict:
        customer = {**payload, "id": int(customer_id)}
        return self.request("PUT", f"/customers/{int(customer_id)}", body={"customer": customer})

    # Products and stock -------------------------------------------------------------------
    def iter_products(self, since: datetime | None = None) -> Iterator[dict]:
        return self.iter_keyset("/products", self.changed_since(since), what="products")

    def get_product(self, sku: str) -> dict:
        return self.get(f"/products/{quote(sku, safe='')}")

    def upsert_product(self, sku: str, payload: dict) -> dict:
        """Create or update by SKU (PUT; Magento's product save is an upsert)."""
        product = {**payload, "sku": sku}
        return self.request("PUT", f"/products/{quote(sku, safe='')}", body={"product": product})

    def iter_source_items(self, skus: list[str] | None = None) -> Iterator[dict]:
        criteria = SearchCriteria()
        if skus:
            criteria = criteria.where("sku", skus, "in")
        criteria = criteria.sort("sku").sort("source_code")
        return self.iter_numbered(
            "/inventory/source-items",
            criteria,
            key=lambda item: (item.get("sku"), item.get("source_code")),
            what="source items",
        )

    def set_source_items(self, items: list[dict]) -> int:
        """Save MSI source items in chunks within Magento's input-list limit; returns requests
        made. Quantities are absolute, so repeating a chunk after a failure is harmless."""
        size = max(1, self.input_list_limit)
        chunks = [items[start : start + size] for start in range(0, len(items), size)]
        for chunk in chunks:
            self.request("POST", "/inventory/source-items", body={"sourceItems": chunk})
        return len(chunks)

    # Orders and their documents -----------------------------------------------------------
    def iter_orders(self, since: datetime | None = None) -> Iterator[dict]:
        return self.iter_keyset("/orders", self.changed_since(since), what="orders")

    def get_order(self, order_id: int | str) -> dict:
        return self.get(f"/orders/{int(order_id)}")

    def find_order_by_increment_id(self, increment_id: str) -> dict | None:
        criteria = SearchCriteria().where("increment_id", str(increment_id)).page(1, 20)
        for order in self.search("/orders", criteria)["items"]:
            if str(order.get("increment_id")) == str(increment_id):
                return order
        return None

    def order_invoices(self, order_id: int | str) -> list[dict]:
        criteria = SearchCriteria().where("order_id", int(order_id)).sort("entity_id")
        return list(self.iter_numbered("/invoices", criteria, what="invoices"))

    def order_credit_memos(self, order_id: int | str) -> list[dict]:
        criteria = SearchCriteria().where("order_id", int(order_id)).sort("entity_id")
        return list(self.iter_numbered("/creditmemos", criteria, what="credit memos"))

    def create_invoice(self, order_id: int | str, *, capture: bool = True) -> int:
        """Invoice the whole order; a timed-out call is checked for a new invoice first."""
        before = {record_id(invoice) for invoice in self.order_invoices(order_id)}
        body = {"capture": capture, "notify": False}
        return self._create_document(
            lambda: self.request("POST", f"/order/{int(order_id)}/invoice", body=body),
            lambda: self.order_invoices(order_id),
            before,
        )

    def refund(
        self,
        order_id: int | str,
        items: list[dict] | None = None,
        *,
        shipping_amount: Decimal | None = None,
        adjustment_positive: Decimal = Decimal(0),
        adjustment_negative: Decimal = Decimal(0),
        return_to_stock: bool = False,
        comment: str = "",
    ) -> int:
        """Refund offline by order (`items`: [{"order_item_id", "qty"}], all when None);
        returns the credit memo id. A timed-out call is checked for a new credit memo first."""
        arguments: dict = {
            "adjustment_positive": adjustment_positive,
            "adjustment_negative": adjustment_negative,
        }
        if shipping_amount is not None:
            arguments["shipping_amount"] = shipping_amount
        if return_to_stock and items:
            arguments["extension_attributes"] = {
                "return_to_stock_items": [int(item["order_item_id"]) for item in items]
            }
        body: dict = {"notify": False, "arguments": arguments}
        if items:
            body["items"] = items
        if comment:
            body["appendComment"] = True
            body["comment"] = {"comment": comment, "is_visible_on_front": 0}
        before = {record_id(memo) for memo in self.order_credit_memos(order_id)}
        return self._create_document(
            lambda: self.request("POST", f"/order/{int(order_id)}/refund", body=body),
            lambda: self.order_credit_memos(order_id),
            before,
        )

    @staticmethod
    def _create_document(
        create: Callable[[], object], documents: Callable[[], list[dict]], before: set[int]
    ) -> int:
        def find_new() -> int | None:
            new = sorted(record_id(doc) for doc in documents() if record_id(doc) not in before)
            return new[-1] if new else None

        # Magento answers the new id as a bare number; some versions quote it.
        return int(create_once(create, find_new))
