"""The Magento sandbox's own control routes under `/__sandbox__/` (not part of Magento's API).

- `POST subscribers` `{"url": ...}`: where webhooks go (https, or plain http on loopback);
  `{"url": null}` stops them.
- `POST orders`: a shopper's checkout. Body `{"customer": {"id"} | {"email", "firstname",
  "lastname", "create_account"?}, "billing_address"?, "items": [{"sku", "qty"}], "payment":
  {"method", "pay"}, "allow_invalid"?}`. Prices come from the catalog; `pay: true` captures at
  once (invoice paid, `last_trans_id` set for card methods). Fires the order-placed webhook and
  answers 201 with the order. A non-positive quantity, an unknown or disabled SKU or more than
  the salable quantity is a 400 unless `allow_invalid` is true (unknown SKUs are always refused).
- `POST webhooks/redeliver` `{"increment_id", "times", "concurrent"}`: the order's last webhook,
  byte for byte, `times` more times (all at once when `concurrent`); answers with each outcome.
- `GET webhooks`: the subscriber and the recent delivery log.
- `GET|POST config` `{"admin_token_lifetime_s", "input_limits", "two_factor_auth"}`.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from connectors.magento.sandbox.common import MagentoError
from connectors.magento.sandbox.webhooks import WebhookEvent, check_subscriber_url
from connectors.sandbox.server import Request, Response

if TYPE_CHECKING:
    from connectors.magento.sandbox.emulator import MagentoEmulator

MAX_REDELIVERIES = 50


def _refuse(message: str) -> MagentoError:
    return MagentoError(400, message)


class ControlApi:
    def __init__(self, emulator: MagentoEmulator):
        self.emulator = emulator

    def routes(self) -> list[tuple]:
        return [
            ("POST", "subscribers", self.set_subscriber),
            ("POST", "orders", self.place_order),
            ("POST", "webhooks/redeliver", self.redeliver),
            ("GET", "webhooks", self.deliveries),
            ("GET", "config", self.get_config),
            ("POST", "config", self.set_config),
        ]

    # Subscriber and deliveries ------------------------------------------------------------
    def set_subscriber(self, request: Request) -> dict:
        payload = request.json() or {}
        url = payload.get("url")
        if url is not None:
            problem = check_subscriber_url(url)
            if problem:
                raise _refuse(problem)
        self.emulator.webhooks.subscriber_url = url
        return {"url": url}

    def deliveries(self, request: Request) -> dict:
        webhooks = self.emulator.webhooks
        return {"url": webhooks.subscriber_url, "deliveries": list(webhooks.deliveries)}

    def redeliver(self, request: Request) -> dict:
        payload = request.json() or {}
        increment_id = str(payload.get("increment_id") or "")
        times = payload.get("times", 1)
        if not isinstance(times, int) or not 1 <= times <= MAX_REDELIVERIES:
            raise _refuse(f"times must be an integer from 1 to {MAX_REDELIVERIES}")
        webhooks = self.emulator.webhooks
        last = webhooks.last_for_order(increment_id)
        if last is None:
            raise _refuse(f"no webhook has been sent for order {increment_id!r}")
        if not webhooks.subscriber_url:
            raise _refuse("no subscriber: POST subscribers first")
        results = webhooks.redeliver(increment_id, times, bool(payload.get("concurrent")))
        return {"event_name": last["event_name"], "deliveries": results}

    # Config -------------------------------------------------------------------------------
    def get_config(self, request: Request) -> dict:
        emulator = self.emulator
        return {
            "admin_token_lifetime_s": emulator.admin_token_lifetime_s,
            "input_limits": emulator.limits.enabled,
            "two_factor_auth": emulator.two_factor_auth,
        }

    def set_config(self, request: Request) -> dict:
        payload = request.json() or {}
        unknown = set(payload) - {"admin_token_lifetime_s", "input_limits", "two_factor_auth"}
        if unknown:
            raise _refuse(f"unknown config keys: {sorted(unknown)}")
        emulator = self.emulator
        if "admin_token_lifetime_s" in payload:
            lifetime = payload["admin_token_lifetime_s"]
            if not isinstance(lifetime, int | float) or lifetime <= 0:
                raise _refuse("admin_token_lifetime_s must be a positive number of seconds")
            emulator.admin_token_lifetime_s = float(lifetime)
        if "input_limits" in payload:
            emulator.limits = replace(emulator.limits, enabled=bool(payload["input_limits"]))
        if "two_factor_auth" in payload:
            emulator.two_factor_auth = bool(payload["two_factor_auth"])
        return self.get_config(request)

    # Checkout -----------------------------------------------------------------------------
    def place_order(self, request: Request) -> Response:
        payload = request.json()
        if not isinstance(payload, dict):
            raise _refuse("the body must be a JSON object")
        order = place_order(self.emulator, payload)
        return Response(201, order)


def _customer(emulator: MagentoEmulator, spec: Any) -> tuple[dict | None, dict]:
    if not isinstance(spec, dict):
        raise _refuse("customer is required: {'id': ...} or {'email', 'firstname', 'lastname'}")
    if spec.get("id") is not None:
        customer = emulator.store.get("customer", str(spec["id"]))
        if customer is None:
            raise _refuse(f"customer {spec['id']} does not exist")
        return customer, {}
    missing = [name for name in ("email", "firstname", "lastname") if not spec.get(name)]
    if missing:
        raise _refuse(f"a guest customer needs {', '.join(missing)}")
    if spec.get("create_account"):
        existing = emulator.customers.find_by_email(spec["email"])
        if existing is not None:
            return existing, {}
        fields = {name: spec[name] for name in ("email", "firstname", "lastname")}
        return emulator.customers.save(None, fields), {}
    return None, spec


def _lines(emulator: MagentoEmulator, items: Any, allow_invalid: bool) -> list:
    if not isinstance(items, list) or not items:
        raise _refuse("items must be a non-empty list of {'sku', 'qty'}")
    lines, wanted = [], {}
    for position, spec in enumerate(items):
        sku = spec.get("sku") if isinstance(spec, dict) else None
        product = emulator.store.get("product", str(sku)) if sku else None
        if product is None:
            raise _refuse(f"items[{position}]: no product with SKU {sku!r}")
        try:
            qty = Decimal(str(spec.get("qty", 1)))
        except InvalidOperation:
            raise _refuse(f"items[{position}].qty must be a number") from None
        if not allow_invalid:
            if qty <= 0:
                raise _refuse(
                    f"items[{position}].qty must be a positive number, got {qty}"
                    " (pass allow_invalid: true to place it anyway)"
                )
            if product.get("status") != 1:
                raise _refuse(f"items[{position}]: product {sku!r} is disabled")
        lines.append((product, qty))
        wanted[product["sku"]] = wanted.get(product["sku"], Decimal(0)) + qty
    if not allow_invalid:
        for sku, qty in wanted.items():
            salable = emulator.catalog.salable_quantity(sku)
            if qty > salable:
                raise _refuse(
                    f"The requested qty is not available: {sku!r} has {salable} salable, "
                    f"{qty} wanted"
                )
    return lines


def place_order(emulator: MagentoEmulator, payload: dict, created_at: str | None = None) -> dict:
    """Checkout: validate, build the order, capture if paid, store it and fire the webhook."""
    allow_invalid = bool(payload.get("allow_invalid"))
    customer, guest = _customer(emulator, payload.get("customer"))
    lines = _lines(emulator, payload.get("items"), allow_invalid)
    billing = payload.get("billing_address")
    if billing is None and customer is not None:
        billing = emulator.customers.default_billing_address(customer)
    if not isinstance(billing, dict):
        raise _refuse("billing_address is required (the customer has no default billing address)")
    payment = payload.get("payment") or {}
    method = str(payment.get("method") or "checkmo")
    order = emulator.orders.build(customer, guest, billing, lines, method, created_at)
    if payment.get("pay"):
        try:
            emulator.documents.invoice(order, None, capture=True, created_at=created_at)
        except MagentoError:
            if not allow_invalid:
                raise  # an invalid order (negative lines) may have nothing Magento can invoice
    return emulator.orders.save(order, WebhookEvent.ORDER_PLACED)
