"""Orders: how a checkout builds one (prices from the catalog, tax, flat-rate shipping) and the
`/V1/orders` routes that read and manage it (list, get, items, statuses, comments, cancel, hold).

Every amount is computed with Decimal and written as a JSON number, with its `base_*` twin.
The store sells in GBP with flat-rate shipping of 5.00 per order (not taxed) and catalog prices
excluding tax; tax classes: "2" Taxable Goods 20 %, "9" Reduced Rate 5 %, "0" None.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from connectors.magento.sandbox.common import (
    ENTITY_MISSING,
    MagentoError,
    body_object,
    decimal,
    editable,
    magento_time,
    money,
)
from connectors.magento.sandbox.search import parse_search_criteria, require_search_criteria, search
from connectors.magento.sandbox.webhooks import WebhookEvent
from connectors.sandbox.server import Request

if TYPE_CHECKING:
    from connectors.magento.sandbox.emulator import MagentoEmulator

ACL = "Magento_Sales::actions_view"
CURRENCY = "GBP"
SHIPPING_FLAT_RATE = Decimal("5.00")
TAX_RATES = {"2": Decimal(20), "9": Decimal(5), "0": Decimal(0)}
PAYMENT_TITLES = {
    "checkmo": "Check / Money order",
    "banktransfer": "Bank Transfer Payment",
    "cashondelivery": "Cash On Delivery",
    "purchaseorder": "Purchase Order",
    "braintree": "Credit Card (Braintree)",
    "stripe_payments": "Pay by Card (Stripe)",
    "paypal_express": "PayPal Express Checkout",
}
OFFLINE_METHODS = {"checkmo", "banktransfer", "cashondelivery", "purchaseorder", "free"}


class OrderState(StrEnum):
    NEW = "new"
    PENDING_PAYMENT = "pending_payment"
    PROCESSING = "processing"
    COMPLETE = "complete"
    CLOSED = "closed"
    CANCELED = "canceled"
    HOLDED = "holded"


DEFAULT_STATUS = {
    OrderState.NEW: "pending",
    OrderState.PROCESSING: "processing",
    OrderState.COMPLETE: "complete",
    OrderState.CLOSED: "closed",
    OrderState.CANCELED: "canceled",
    OrderState.HOLDED: "holded",
}


def set_amount(doc: dict, name: str, value: Decimal) -> None:
    """Write an amount and its base-currency twin (the store has one currency)."""
    doc[name] = doc[f"base_{name}"] = money(value)


def order_address(source: dict, address_type: str, order: dict, email: str) -> dict:
    """An order address from a checkout form or a customer address book entry."""
    street = source.get("street") or []
    region = source.get("region")
    if isinstance(region, dict):
        region_name, region_code = region.get("region"), region.get("region_code")
    else:
        region_name = region_code = region or None
    address = {
        "address_type": address_type,
        "entity_id": None,
        "parent_id": order["entity_id"],
        "firstname": source.get("firstname") or order.get("customer_firstname"),
        "lastname": source.get("lastname") or order.get("customer_lastname"),
        "company": source.get("company") or None,
        "street": [street] if isinstance(street, str) else list(street),
        "city": source.get("city"),
        "region": region_name,
        "region_code": region_code,
        "region_id": source.get("region_id") or 0,
        "postcode": source.get("postcode"),
        "country_id": source.get("country_id"),
        "telephone": source.get("telephone") or None,
        "email": source.get("email") or email,
        "vat_id": source.get("vat_id") or None,
    }
    if source.get("customer_address_id") or source.get("id"):
        address["customer_address_id"] = source.get("customer_address_id") or source.get("id")
    return {key: value for key, value in address.items() if value is not None}


class OrdersApi:
    def __init__(self, emulator: MagentoEmulator):
        self.emulator = emulator
        self.store = emulator.store

    def routes(self) -> list[tuple]:
        order = r"/orders/(?P<id>\d+)"
        return [
            ("GET", "/orders", self.list_orders, ACL),
            ("GET", order, self.get_order, ACL),
            ("GET", "/orders/items", self.list_items, ACL),
            ("GET", r"/orders/items/(?P<id>\d+)", self.get_item, ACL),
            ("GET", f"{order}/statuses", self.get_status, ACL),
            ("GET", f"{order}/comments", self.list_comments, "Magento_Sales::comment"),
            ("POST", f"{order}/comments", self.add_comment, "Magento_Sales::comment"),
            ("POST", f"{order}/cancel", self.cancel, "Magento_Sales::cancel"),
            ("POST", f"{order}/hold", self.hold, "Magento_Sales::hold"),
            ("POST", f"{order}/unhold", self.unhold, "Magento_Sales::unhold"),
        ]

    # Reads --------------------------------------------------------------------------------
    def get(self, order_id: Any) -> dict:
        order = self.store.get("order", str(order_id))
        if order is None:
            raise MagentoError(404, ENTITY_MISSING)
        return order

    def by_increment_id(self, increment_id: str) -> dict | None:
        for order in self.store.all("order"):
            if order["increment_id"] == increment_id:
                return order
        return None

    def list_orders(self, request: Request) -> dict:
        criteria = parse_search_criteria(request.raw_query)
        require_search_criteria(criteria)
        return search(self.store.all("order"), criteria, self.emulator.limits)

    def get_order(self, request: Request) -> dict:
        return self.get(request.match["id"])

    def _all_items(self) -> list[dict]:
        return [item for order in self.store.all("order") for item in order["items"]]

    def list_items(self, request: Request) -> dict:
        criteria = parse_search_criteria(request.raw_query)
        require_search_criteria(criteria)
        return search(self._all_items(), criteria, self.emulator.limits)

    def get_item(self, request: Request) -> dict:
        for item in self._all_items():
            if item["item_id"] == int(request.match["id"]):
                return item
        raise MagentoError(404, ENTITY_MISSING)

    def get_status(self, request: Request) -> str:
        return self.get(request.match["id"])["status"]

    def list_comments(self, request: Request) -> dict:
        histories = self.get(request.match["id"]).get("status_histories", [])
        return {"items": histories, "total_count": len(histories)}

    # Management ---------------------------------------------------------------------------
    def add_comment(self, request: Request) -> bool:
        order = editable(self.get(request.match["id"]))
        history = body_object(request.json(), "statusHistory")
        self.add_history(order, history.get("comment", ""), history.get("status"))
        self.save(order)
        return True

    def cancel(self, request: Request) -> bool:
        order = editable(self.get(request.match["id"]))
        if order["state"] not in (OrderState.NEW, OrderState.PENDING_PAYMENT) or order.get(
            "total_invoiced"
        ):
            return False  # OrderManagement::cancel answers false when canCancel() is false
        for item in order["items"]:
            item["qty_canceled"] = item["qty_ordered"] - item["qty_invoiced"]
        self.set_state(order, OrderState.CANCELED)
        self.add_history(order, "Order canceled")
        self.save(order)
        return True

    def hold(self, request: Request) -> bool:
        order = editable(self.get(request.match["id"]))
        if order["state"] not in (OrderState.NEW, OrderState.PROCESSING):
            raise MagentoError(400, "A hold action is not available.")
        order["hold_before_state"], order["hold_before_status"] = order["state"], order["status"]
        self.set_state(order, OrderState.HOLDED)
        self.save(order)
        return True

    def unhold(self, request: Request) -> bool:
        order = editable(self.get(request.match["id"]))
        if order["state"] != OrderState.HOLDED:
            raise MagentoError(400, "You cannot remove the hold.")
        order["state"] = order.pop("hold_before_state")
        order["status"] = order.pop("hold_before_status")
        self.save(order)
        return True

    # Shared by checkout, invoicing, shipping and refunds ----------------------------------
    @staticmethod
    def set_state(order: dict, state: OrderState) -> None:
        order["state"] = state.value
        order["status"] = DEFAULT_STATUS.get(state, state.value)

    @staticmethod
    def add_history(
        order: dict, comment: str, status: str | None = None, entity_name: str = "order"
    ) -> None:
        order.setdefault("status_histories", []).insert(
            0,
            {
                "comment": comment,
                "created_at": magento_time(),
                "entity_id": len(order.get("status_histories", [])) + 1,
                "entity_name": entity_name,
                "is_customer_notified": 0,
                "is_visible_on_front": 0,
                "parent_id": order["entity_id"],
                "status": status or order["status"],
            },
        )

    def refresh_state(self, order: dict) -> None:
        """Magento's state after an invoice, shipment or credit memo."""
        if order["state"] in (OrderState.CANCELED, OrderState.HOLDED):
            return
        items = order["items"]
        fully_returned = all(
            item["qty_refunded"] + item["qty_canceled"] >= item["qty_ordered"] for item in items
        )
        if fully_returned and order.get("total_refunded"):
            self.set_state(order, OrderState.CLOSED)
            return
        invoiced = all(item["qty_invoiced"] >= item["qty_ordered"] for item in items)
        shipped = all(
            item["qty_shipped"] + item["qty_refunded"] >= item["qty_ordered"] for item in items
        )
        if invoiced and shipped:
            self.set_state(order, OrderState.COMPLETE)
        elif any(item["qty_invoiced"] or item["qty_shipped"] for item in items):
            self.set_state(order, OrderState.PROCESSING)

    def save(self, order: dict, event: str = WebhookEvent.ORDER_UPDATED) -> dict:
        order["updated_at"] = magento_time()
        # The shipping assignment lists the same item rows; keep them one list after a reload.
        order["extension_attributes"]["shipping_assignments"][0]["items"] = order["items"]
        self.store.put("order", order["entity_id"], order)
        self.emulator.webhooks.emit(event, {"order": order}, order["increment_id"])
        return order

    def reserved_quantity(self, sku: str) -> Decimal:
        """MSI reservations: ordered but not yet shipped, canceled or refunded."""
        reserved = Decimal(0)
        for order in self.store.all("order"):
            if order["state"] in (OrderState.CANCELED, OrderState.CLOSED, OrderState.COMPLETE):
                continue
            for item in order["items"]:
                if item["sku"] == sku:
                    open_qty = (
                        decimal(item["qty_ordered"])
                        - decimal(item["qty_shipped"])
                        - decimal(item["qty_canceled"])
                        - decimal(item["qty_refunded"])
                    )
                    reserved += max(open_qty, Decimal(0))
        return reserved

    # Checkout -----------------------------------------------------------------------------
    def build(
        self,
        customer: dict | None,
        guest: dict,
        billing: dict,
        lines: list[tuple[dict, Decimal]],
        payment_method: str,
        created_at: str | None = None,
    ) -> dict:
        """A new order document (state new / pending) from products and quantities."""
        entity_id = self.store.next_id("order")
        created_at = created_at or magento_time()
        email = customer["email"] if customer else guest["email"]
        order: dict[str, Any] = {
            "entity_id": entity_id,
            "increment_id": f"{entity_id:09d}",
            "store_id": 1,
            "store_name": "Main Website\nMain Website Store\nDefault Store View",
            "created_at": created_at,
            "updated_at": created_at,
            "customer_is_guest": 0 if customer else 1,
            "customer_email": email,
            "customer_firstname": (customer or guest).get("firstname"),
            "customer_lastname": (customer or guest).get("lastname"),
            "customer_group_id": customer.get("group_id", 1) if customer else 0,
            "customer_note_notify": 1,
            "order_currency_code": CURRENCY,
            "base_currency_code": CURRENCY,
            "global_currency_code": CURRENCY,
            "store_currency_code": CURRENCY,
            "base_to_global_rate": 1,
            "base_to_order_rate": 1,
            "quote_id": self.store.next_id("quote"),
            "remote_ip": "127.0.0.1",
            "protect_code": secrets.token_hex(3),
            "is_virtual": 0,
            "email_sent": 1,
            "shipping_description": "Flat Rate - Fixed",
        }
        if customer:
            order["customer_id"] = customer["id"]
        self.set_state(order, OrderState.NEW)
        items, subtotal, tax, applied = [], Decimal(0), Decimal(0), {}
        for product, qty in lines:
            item = self._item(order, product, qty, created_at)
            items.append(item)
            subtotal += decimal(item["row_total"])
            tax += decimal(item["tax_amount"])
            if item["tax_percent"]:
                applied[item["tax_percent"]] = applied.get(item["tax_percent"], 0) + decimal(
                    item["tax_amount"]
                )
        order["items"] = items
        shipping = SHIPPING_FLAT_RATE if items else Decimal(0)
        grand_total = subtotal + tax + shipping
        for name, value in (
            ("subtotal", subtotal),
            ("subtotal_incl_tax", subtotal + tax),
            ("tax_amount", tax),
            ("shipping_amount", shipping),
            ("shipping_incl_tax", shipping),
            ("shipping_tax_amount", Decimal(0)),
            ("discount_amount", Decimal(0)),
            ("grand_total", grand_total),
            ("total_due", grand_total),
        ):
            set_amount(order, name, value)
        order["total_qty_ordered"] = float(sum((qty for _, qty in lines), Decimal(0)))
        order["total_item_count"] = len(items)
        order["weight"] = float(sum(item["weight"] * item["qty_ordered"] for item in items))
        order["billing_address"] = order_address(billing, "billing", order, email)
        order["billing_address"]["entity_id"] = self.store.next_id("order_address")
        shipping_address = order_address(billing, "shipping", order, email)
        shipping_address["entity_id"] = self.store.next_id("order_address")
        title = PAYMENT_TITLES.get(payment_method, payment_method)
        order["payment"] = {
            "entity_id": entity_id,
            "parent_id": entity_id,
            "method": payment_method,
            "amount_ordered": money(grand_total),
            "base_amount_ordered": money(grand_total),
            "shipping_amount": money(shipping),
            "base_shipping_amount": money(shipping),
            "additional_information": [title],
            "account_status": None,
            "cc_last4": None,
        }
        order["status_histories"] = []
        order["extension_attributes"] = {
            "shipping_assignments": [
                {
                    "shipping": {
                        "address": shipping_address,
                        "method": "flatrate_flatrate",
                        "total": {
                            "shipping_amount": money(shipping),
                            "base_shipping_amount": money(shipping),
                            "shipping_incl_tax": money(shipping),
                            "base_shipping_incl_tax": money(shipping),
                            "shipping_tax_amount": 0,
                        },
                    },
                    "items": items,
                }
            ],
            "payment_additional_info": [{"key": "method_title", "value": title}],
            "applied_taxes": [
                {
                    "code": f"VAT {rate}%",
                    "title": f"VAT {rate}%",
                    "percent": rate,
                    "amount": money(v),
                }
                for rate, v in applied.items()
            ],
        }
        return order

    def _item(self, order: dict, product: dict, qty: Decimal, created_at: str) -> dict:
        tax_class = next(
            (
                str(attr["value"])
                for attr in product.get("custom_attributes", [])
                if attr["attribute_code"] == "tax_class_id"
            ),
            "2",
        )
        rate = TAX_RATES.get(tax_class, Decimal(0))
        price = decimal(product["price"])
        row_total = price * qty
        tax = (row_total * rate / 100).quantize(Decimal("0.01"))
        item: dict[str, Any] = {
            "item_id": self.store.next_id("order_item"),
            "order_id": order["entity_id"],
            "quote_item_id": self.store.next_id("quote_item"),
            "store_id": 1,
            "created_at": created_at,
            "updated_at": created_at,
            "product_id": product["id"],
            "product_type": product.get("type_id", "simple"),
            "sku": product["sku"],
            "name": product["name"],
            "weight": float(product.get("weight") or 1),
            "is_virtual": 0,
            "is_qty_decimal": 0,
            "no_discount": 0,
            "free_shipping": 0,
            "qty_ordered": float(qty),
            "qty_invoiced": 0,
            "qty_shipped": 0,
            "qty_refunded": 0,
            "qty_canceled": 0,
            "tax_percent": float(rate),
            "discount_percent": 0,
        }
        for name, value in (
            ("price", price),
            ("original_price", price),
            ("price_incl_tax", price + (price * rate / 100)),
            ("row_total", row_total),
            ("row_total_incl_tax", row_total + tax),
            ("tax_amount", tax),
            ("discount_amount", Decimal(0)),
            ("amount_refunded", Decimal(0)),
            ("row_invoiced", Decimal(0)),
            ("tax_invoiced", Decimal(0)),
        ):
            set_amount(item, name, value)
        return item
