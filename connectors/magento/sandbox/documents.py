"""Sales documents: invoice, ship and refund an order; read invoices, credit memos, shipments
and payment transactions.

`POST /V1/order/{id}/invoice|ship|refund` and `POST /V1/invoice/{id}/refund` return the new
document's id as a bare JSON number and move the order through its states. Refunds are checked
the way Magento's credit-memo validators check them (400 "Creditmemo Document Validation
Error(s): ..."); `arguments.extension_attributes.return_to_stock_items` puts shipped quantities
back into the default source, and without it stock stays where it is.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.magento.sandbox.common import (
    ENTITY_MISSING,
    MagentoError,
    decimal,
    editable,
    magento_time,
    money,
)
from connectors.magento.sandbox.orders import OFFLINE_METHODS, OrderState, set_amount
from connectors.magento.sandbox.search import parse_search_criteria, require_search_criteria, search
from connectors.magento.sandbox.webhooks import WebhookEvent
from connectors.sandbox.server import Request

if TYPE_CHECKING:
    from connectors.magento.sandbox.emulator import MagentoEmulator

INVOICE_ACL = "Magento_Sales::sales_invoice"
CREDITMEMO_ACL = "Magento_Sales::sales_creditmemo"
SHIPMENT_ACL = "Magento_Sales::shipment"
CREDITMEMO_ERRORS = "Creditmemo Document Validation Error(s):\n"
INVOICE_ERRORS = "Invoice Document Validation Error(s):\n"
SHIPMENT_ERRORS = "Shipment Document Validation Error(s):\n"
CLOSED_STATES = (OrderState.CANCELED, OrderState.CLOSED, OrderState.HOLDED)


class InvoiceState:
    OPEN = 1
    PAID = 2
    CANCELED = 3


def _quantities(order: dict, specs: Any, remaining, header: str) -> dict[int, Decimal]:
    """{order_item_id: qty} from a request's `items`, or every remaining quantity."""
    items = {item["item_id"]: item for item in order["items"]}
    if not specs:
        wanted = {item_id: remaining(item) for item_id, item in items.items()}
        return {item_id: qty for item_id, qty in wanted.items() if qty > 0}
    wanted = {}
    for spec in specs if isinstance(specs, list) else []:
        item = items.get(int(spec.get("order_item_id") or 0))
        qty = decimal(spec.get("qty"))
        if item is None:
            raise MagentoError(400, f"{header}The order item does not exist in the order.")
        if qty < 0 or qty > remaining(item):
            raise MagentoError(
                400,
                f'{header}The quantity to process for "{item["sku"]}" must not be greater '
                "than the unprocessed quantity and must not be negative.",
            )
        if qty:
            wanted[item["item_id"]] = qty
    return wanted


def _document_line(document_id: int, item: dict, qty: Decimal, store) -> dict:
    price, tax_share = decimal(item["price"]), Decimal(0)
    if decimal(item["qty_ordered"]):
        tax_share = decimal(item["tax_amount"]) * qty / decimal(item["qty_ordered"])
    line = {
        "entity_id": store.next_id("document_item"),
        "parent_id": document_id,
        "order_item_id": item["item_id"],
        "product_id": item["product_id"],
        "sku": item["sku"],
        "name": item["name"],
        "qty": float(qty),
    }
    for name, value in (
        ("price", price),
        ("price_incl_tax", decimal(item["price_incl_tax"])),
        ("row_total", price * qty),
        ("row_total_incl_tax", price * qty + tax_share),
        ("tax_amount", tax_share),
        ("discount_amount", Decimal(0)),
    ):
        set_amount(line, name, value)
    return line


class DocumentsApi:
    def __init__(self, emulator: MagentoEmulator):
        self.emulator = emulator
        self.store = emulator.store

    def routes(self) -> list[tuple]:
        return [
            ("POST", r"/order/(?P<id>\d+)/invoice", self.post_invoice, INVOICE_ACL),
            ("POST", r"/order/(?P<id>\d+)/ship", self.post_ship, SHIPMENT_ACL),
            ("POST", r"/order/(?P<id>\d+)/refund", self.post_order_refund, CREDITMEMO_ACL),
            ("POST", r"/invoice/(?P<id>\d+)/refund", self.post_invoice_refund, CREDITMEMO_ACL),
            ("GET", "/invoices", self.lister("invoice"), INVOICE_ACL),
            ("GET", r"/invoices/(?P<id>\d+)", self.getter("invoice"), INVOICE_ACL),
            ("GET", "/creditmemos", self.lister("creditmemo"), CREDITMEMO_ACL),
            ("GET", r"/creditmemo/(?P<id>\d+)", self.getter("creditmemo"), CREDITMEMO_ACL),
            ("GET", "/shipments", self.lister("shipment"), SHIPMENT_ACL),
            ("GET", r"/shipment/(?P<id>\d+)", self.getter("shipment"), SHIPMENT_ACL),
            ("GET", "/transactions", self.lister("transaction"), "Magento_Sales::transactions"),
            (
                "GET",
                r"/transactions/(?P<id>\d+)",
                self.getter("transaction"),
                "Magento_Sales::transactions",
            ),
        ]

    def lister(self, kind: str):
        def list_documents(request: Request) -> dict:
            criteria = parse_search_criteria(request.raw_query)
            require_search_criteria(criteria)
            return search(self.store.all(kind), criteria, self.emulator.limits)

        return list_documents

    def getter(self, kind: str):
        def get_document(request: Request) -> dict:
            return self.get(kind, request.match["id"])

        return get_document

    def get(self, kind: str, document_id: Any) -> dict:
        document = self.store.get(kind, str(document_id))
        if document is None:
            raise MagentoError(404, ENTITY_MISSING)
        return document

    # Invoices -----------------------------------------------------------------------------
    def post_invoice(self, request: Request) -> int:
        body = request.json() or {}
        order = editable(self.emulator.orders.get(request.match["id"]))
        invoice = self.invoice(order, body.get("items"), bool(body.get("capture")))
        self.emulator.orders.save(order)
        return invoice["entity_id"]

    def invoice(self, order: dict, specs: Any, capture: bool, created_at: str | None = None):
        """Invoice (and with capture, or an offline method, mark paid) part or all of an order.
        Changes `order` in place; the caller saves it."""
        if order["state"] in CLOSED_STATES or all(
            item["qty_invoiced"] >= item["qty_ordered"] for item in order["items"]
        ):
            raise MagentoError(400, "The order does not allow an invoice to be created.")
        wanted = _quantities(
            order,
            specs,
            lambda item: (
                decimal(item["qty_ordered"])
                - decimal(item["qty_invoiced"])
                - decimal(item["qty_canceled"])
            ),
            INVOICE_ERRORS,
        )
        if not wanted:
            raise MagentoError(
                400,
                f"{INVOICE_ERRORS}The invoice can't be created without products. "
                "Add products and try again.",
            )
        now = created_at or magento_time()
        invoice_id = self.store.next_id("invoice")
        items = {item["item_id"]: item for item in order["items"]}
        lines = [_document_line(invoice_id, items[i], qty, self.store) for i, qty in wanted.items()]
        first = not order.get("total_invoiced")
        shipping = decimal(order["shipping_amount"]) if first else Decimal(0)
        subtotal = sum((decimal(line["row_total"]) for line in lines), Decimal(0))
        tax = sum((decimal(line["tax_amount"]) for line in lines), Decimal(0))
        total = subtotal + tax + shipping
        method = order["payment"]["method"]
        paid = capture or method in OFFLINE_METHODS
        invoice = {
            "entity_id": invoice_id,
            "order_id": order["entity_id"],
            "increment_id": f"{invoice_id:09d}",
            "state": InvoiceState.PAID if paid else InvoiceState.OPEN,
            "store_id": 1,
            "billing_address_id": order["billing_address"]["entity_id"],
            "created_at": now,
            "updated_at": now,
            "order_currency_code": order["order_currency_code"],
            "base_currency_code": order["base_currency_code"],
            "total_qty": float(sum(wanted.values(), Decimal(0))),
            "email_sent": 0,
            "can_void_flag": 0,
            "items": lines,
            "comments": [],
        }
        for name, value in (
            ("subtotal", subtotal),
            ("subtotal_incl_tax", subtotal + tax),
            ("tax_amount", tax),
            ("shipping_amount", shipping),
            ("shipping_incl_tax", shipping),
            ("discount_amount", Decimal(0)),
            ("grand_total", total),
        ):
            set_amount(invoice, name, value)
        for item_id, qty in wanted.items():
            item = items[item_id]
            item["qty_invoiced"] = float(decimal(item["qty_invoiced"]) + qty)
            line = next(line for line in lines if line["order_item_id"] == item_id)
            row, row_tax = decimal(line["row_total"]), decimal(line["tax_amount"])
            set_amount(item, "row_invoiced", decimal(item["row_invoiced"]) + row)
            set_amount(item, "tax_invoiced", decimal(item["tax_invoiced"]) + row_tax)
            item["updated_at"] = now
        set_amount(order, "total_invoiced", decimal(order.get("total_invoiced")) + total)
        if paid:
            self._record_payment(order, invoice, total, capture and method not in OFFLINE_METHODS)
        self.store.put("invoice", invoice_id, invoice)
        self.emulator.orders.add_history(order, f"Invoiced amount of £{total:.2f}.")
        self.emulator.orders.refresh_state(order)
        return invoice

    def _record_payment(self, order: dict, invoice: dict, total: Decimal, online: bool) -> None:
        paid = decimal(order.get("total_paid")) + total
        set_amount(order, "total_paid", paid)
        set_amount(order, "total_due", decimal(order["grand_total"]) - paid)
        payment = order["payment"]
        payment["amount_paid"] = payment["base_amount_paid"] = money(paid)
        if online:
            txn_id = secrets.token_hex(4)
            payment["last_trans_id"] = txn_id
            invoice["transaction_id"] = txn_id
            self._transaction(order, txn_id, "capture")

    def _transaction(self, order: dict, txn_id: str, txn_type: str, parent: str | None = None):
        transaction_id = self.store.next_id("transaction")
        self.store.put(
            "transaction",
            transaction_id,
            {
                "transaction_id": transaction_id,
                "order_id": order["entity_id"],
                "payment_id": order["payment"]["entity_id"],
                "txn_id": txn_id,
                "parent_txn_id": parent,
                "txn_type": txn_type,
                "is_closed": 1,
                "additional_information": [],
                "created_at": magento_time(),
                "child_transactions": [],
            },
        )

    # Shipments ----------------------------------------------------------------------------
    def post_ship(self, request: Request) -> int:
        body = request.json() or {}
        order = editable(self.emulator.orders.get(request.match["id"]))
        shipment = self.ship(order, body.get("items"), body.get("tracks") or [])
        self.emulator.orders.save(order)
        return shipment["entity_id"]

    def ship(self, order: dict, specs: Any, tracks: list, created_at: str | None = None) -> dict:
        def unshipped(item: dict) -> Decimal:
            return (
                decimal(item["qty_ordered"])
                - decimal(item["qty_shipped"])
                - decimal(item["qty_refunded"])
                - decimal(item["qty_canceled"])
            )

        if order["state"] in CLOSED_STATES:
            raise MagentoError(400, f"{SHIPMENT_ERRORS}The order does not allow a shipment.")
        wanted = _quantities(order, specs, unshipped, SHIPMENT_ERRORS)
        if not wanted:
            raise MagentoError(
                400, f"{SHIPMENT_ERRORS}Shipment document does not contain items to ship."
            )
        now = created_at or magento_time()
        shipment_id = self.store.next_id("shipment")
        items = {item["item_id"]: item for item in order["items"]}
        shipment = {
            "entity_id": shipment_id,
            "order_id": order["entity_id"],
            "increment_id": f"{shipment_id:09d}",
            "store_id": 1,
            "created_at": now,
            "updated_at": now,
            "total_qty": float(sum(wanted.values(), Decimal(0))),
            "billing_address_id": order["billing_address"]["entity_id"],
            "items": [],
            "tracks": [
                {**track, "parent_id": shipment_id, "order_id": order["entity_id"]}
                for track in tracks
                if isinstance(track, dict)
            ],
            "comments": [],
        }
        for item_id, qty in wanted.items():
            item = items[item_id]
            item["qty_shipped"] = float(decimal(item["qty_shipped"]) + qty)
            item["updated_at"] = now
            line = _document_line(shipment_id, item, qty, self.store)
            line["weight"] = item["weight"]
            shipment["items"].append(line)
            self.emulator.catalog.adjust_quantity(item["sku"], -qty)
        self.store.put("shipment", shipment_id, shipment)
        self.emulator.orders.refresh_state(order)
        return shipment

    # Refunds ------------------------------------------------------------------------------
    def post_order_refund(self, request: Request) -> int:
        order = editable(self.emulator.orders.get(request.match["id"]))
        return self.refund(order, request.json() or {})["entity_id"]

    def post_invoice_refund(self, request: Request) -> int:
        invoice = self.get("invoice", request.match["id"])
        order = editable(self.emulator.orders.get(invoice["order_id"]))
        body = request.json() or {}
        if invoice["state"] != InvoiceState.PAID:
            raise MagentoError(
                400, f"{CREDITMEMO_ERRORS}We can't create creditmemo for the invoice."
            )
        if not body.get("items"):
            body = {**body, "items": invoice["items"]}
        return self.refund(order, body, invoice, online=bool(body.get("isOnline")))["entity_id"]

    def refund(
        self, order: dict, body: dict, invoice: dict | None = None, online: bool = False
    ) -> dict:
        available = decimal(order.get("total_paid")) - decimal(order.get("total_refunded"))
        if order["state"] in CLOSED_STATES or available <= 0:
            raise MagentoError(
                400,
                f"{CREDITMEMO_ERRORS}We can't create creditmemo for the order.\n"
                "The most money available to refund is 0.",
            )
        wanted = _quantities(
            order,
            body.get("items"),
            lambda item: decimal(item["qty_invoiced"]) - decimal(item["qty_refunded"]),
            CREDITMEMO_ERRORS,
        )
        arguments = body.get("arguments") or {}
        shipping_left = decimal(order["shipping_amount"]) - decimal(order.get("shipping_refunded"))
        shipping = decimal(arguments.get("shipping_amount", shipping_left))
        if shipping > shipping_left:
            raise MagentoError(
                400,
                f"{CREDITMEMO_ERRORS}Maximum shipping amount allowed to refund is: "
                f"{shipping_left:.2f}",
            )
        positive = decimal(arguments.get("adjustment_positive"))
        negative = decimal(arguments.get("adjustment_negative"))
        memo_id = self.store.next_id("creditmemo")
        items = {item["item_id"]: item for item in order["items"]}
        lines = [_document_line(memo_id, items[i], qty, self.store) for i, qty in wanted.items()]
        subtotal = sum((decimal(line["row_total"]) for line in lines), Decimal(0))
        tax = sum((decimal(line["tax_amount"]) for line in lines), Decimal(0))
        total = subtotal + tax + shipping + positive - negative
        if total <= 0:
            raise MagentoError(400, f"{CREDITMEMO_ERRORS}The credit memo's total must be positive.")
        if total > available + Decimal("0.0001"):
            raise MagentoError(
                400,
                f"{CREDITMEMO_ERRORS}The most money available to refund is {available:.2f}.",
            )
        now = magento_time()
        memo = {
            "entity_id": memo_id,
            "order_id": order["entity_id"],
            "increment_id": f"{memo_id:09d}",
            "state": 2,
            "store_id": 1,
            "created_at": now,
            "updated_at": now,
            "order_currency_code": order["order_currency_code"],
            "base_currency_code": order["base_currency_code"],
            "billing_address_id": order["billing_address"]["entity_id"],
            "email_sent": 0,
            "items": lines,
            "comments": [],
        }
        if invoice is not None:
            memo["invoice_id"] = invoice["entity_id"]
        for name, value in (
            ("subtotal", subtotal),
            ("subtotal_incl_tax", subtotal + tax),
            ("tax_amount", tax),
            ("shipping_amount", shipping),
            ("shipping_incl_tax", shipping),
            ("adjustment_positive", positive),
            ("adjustment_negative", negative),
            ("adjustment", positive - negative),
            ("discount_amount", Decimal(0)),
            ("grand_total", total),
        ):
            set_amount(memo, name, value)
        comment = (body.get("comment") or {}).get("comment")
        if comment:
            memo["comments"].append({"comment": comment, "created_at": now, "parent_id": memo_id})
        extension = arguments.get("extension_attributes") or {}
        back_to_stock = {int(i) for i in extension.get("return_to_stock_items") or []}
        for item_id, qty in wanted.items():
            item = items[item_id]
            item["qty_refunded"] = float(decimal(item["qty_refunded"]) + qty)
            line = next(line for line in lines if line["order_item_id"] == item_id)
            refunded = decimal(item["amount_refunded"]) + decimal(line["row_total"])
            set_amount(item, "amount_refunded", refunded)
            item["updated_at"] = now
            if item_id in back_to_stock:
                self.emulator.catalog.adjust_quantity(
                    item["sku"], min(qty, decimal(item["qty_shipped"]))
                )
        set_amount(order, "total_refunded", decimal(order.get("total_refunded")) + total)
        set_amount(order, "shipping_refunded", decimal(order.get("shipping_refunded")) + shipping)
        way = "total_online_refunded" if online else "total_offline_refunded"
        set_amount(order, way, decimal(order.get(way)) + total)
        payment = order["payment"]
        payment["amount_refunded"] = payment["base_amount_refunded"] = order["total_refunded"]
        if online and payment.get("last_trans_id"):
            refund_txn = f"{payment['last_trans_id']}-refund"
            self._transaction(order, refund_txn, "refund", payment["last_trans_id"])
            payment["last_trans_id"] = memo["transaction_id"] = refund_txn
        self.store.put("creditmemo", memo_id, memo)
        orders = self.emulator.orders
        orders.add_history(order, f"We refunded £{total:.2f} {'online' if online else 'offline'}.")
        orders.refresh_state(order)
        orders.save(order)
        self.emulator.webhooks.emit(
            WebhookEvent.CREDIT_MEMO_CREATED, {"creditmemo": memo}, order["increment_id"]
        )
        return memo
