"""The Magento connector: canonical reads and writes over MagentoClient and mapping.py.

Reads are incremental by `updated_at` (Magento offers it on customers, products and orders).
Writes look up by natural key first: a customer by email on the connection's website, a
product by SKU (PUT is an upsert), so a retried job never creates a second record.
Options: `currency` (the store's base currency, "GBP") for product prices, plus the client's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from connectors.base import Connector
from connectors.canonical import CreditNote, Customer, Invoice, Payment, Product, StockLevel
from connectors.errors import DuplicateError, NotFoundError
from connectors.magento import mapping
from connectors.magento.client import MagentoClient
from connectors.magento.criteria import SearchCriteria
from connectors.models import Connection


class MagentoConnector(Connector):
    kind = "magento"
    incremental = True

    def __init__(self, connection: Connection):
        super().__init__(connection)
        self.client = MagentoClient(connection, self.session)
        self.source_system = connection.kind or self.kind
        self.currency = str(connection.options.get("currency") or "GBP")

    def read_one(self) -> str:
        envelope = self.client.search("/customers/search", SearchCriteria().page(1, 1))
        total = int(envelope.get("total_count") or 0)
        if not envelope["items"]:
            return f"{total} customers"
        first = envelope["items"][0]
        return f"{total} customers; read customer {first.get('id')}"

    # Reads --------------------------------------------------------------------------------
    def customer_to_canonical(self, payload: dict) -> Customer:
        customer = mapping.customer_to_canonical(payload, self.source_system)
        customer.raw = payload  # shown to stewards on the cross-reference; never compared
        self.apply_field_mappings("customer", payload, customer)
        return customer

    def product_to_canonical(self, payload: dict) -> Product:
        product = mapping.product_to_canonical(payload, self.source_system, currency=self.currency)
        product.raw = payload
        self.apply_field_mappings("product", payload, product)
        return product

    def sample_payload(self, entity: str) -> dict:
        """The first customer or product as Magento sends it (field-mapping preview)."""
        path = "/customers/search" if entity == "customer" else "/products"
        items = self.client.search(path, SearchCriteria().page(1, 1))["items"]
        if not items:
            return {}
        return {**items[0], "_sample_id": str(items[0].get("id") or items[0].get("sku"))}

    def iter_customers(self, since: datetime | None = None) -> Iterator[Customer]:
        for payload in self.client.iter_customers(since):
            yield self.customer_to_canonical(payload)

    def iter_products(self, since: datetime | None = None) -> Iterator[Product]:
        for payload in self.client.iter_products(since):
            yield self.product_to_canonical(payload)

    def iter_orders(self, since: datetime | None = None) -> Iterator[Invoice]:
        """Web orders changed since `since`, as canonical invoices."""
        for order in self.client.iter_orders(since):
            yield mapping.order_to_invoice(order, self.source_system)

    def get_customer(self, external_id: str) -> Customer:
        return self.customer_to_canonical(self.client.get_customer(external_id))

    def get_product(self, sku: str) -> Product:
        return self.product_to_canonical(self.client.get_product(sku))

    def get_invoice(self, external_id: str) -> Invoice:
        return mapping.order_to_invoice(self.client.get_order(external_id), self.source_system)

    def find_invoice(self, number: str) -> Invoice | None:
        """The order with this increment id (invoice number), if there is one."""
        order = self.client.find_order_by_increment_id(number)
        return mapping.order_to_invoice(order, self.source_system) if order else None

    def order_payment(self, external_id: str) -> Payment | None:
        """The payment received for an order, dated by its first paid invoice."""
        order = self.client.get_order(external_id)
        invoices = self.client.order_invoices(external_id)
        paid = [invoice for invoice in invoices if int(invoice.get("state") or 0) == 2]
        paid_on = paid[0].get("created_at") if paid else None
        return mapping.order_payment(order, self.source_system, paid_on=paid_on)

    def order_credit_notes(self, external_id: str) -> list[CreditNote]:
        order = self.client.get_order(external_id)
        return [
            mapping.credit_memo_to_credit_note(memo, order, self.source_system)
            for memo in self.client.order_credit_memos(external_id)
        ]

    def stock_levels(self, skus: list[str] | None = None) -> list[StockLevel]:
        return [
            mapping.source_item_to_stock_level(item, self.source_system)
            for item in self.client.iter_source_items(skus)
        ]

    # Writes -------------------------------------------------------------------------------
    def upsert_customer(self, customer: Customer) -> str:
        """Update the customer with this email, or create it once; returns Magento's id."""
        if not customer.email.strip():
            raise ValueError("Magento needs an email to store a customer")
        existing = self.client.find_customer_by_email(customer.email)
        if existing is not None:
            payload = mapping.customer_to_magento(customer, existing=existing)
            return str(self.client.update_customer(existing["id"], payload)["id"])
        payload = mapping.customer_to_magento(customer, website_id=self.client.website_id)
        try:
            return str(self.client.create_customer(payload)["id"])
        except DuplicateError:
            # Created by someone else since the lookup: link to it and update it instead.
            existing = self.client.find_customer_by_email(customer.email)
            if existing is None:
                raise
            payload = mapping.customer_to_magento(customer, existing=existing)
            return str(self.client.update_customer(existing["id"], payload)["id"])

    def upsert_product(self, product: Product) -> str:
        """Create or update the product by SKU; returns the SKU (its external id here)."""
        sku = product.sku or product.external_id
        try:
            self.client.get_product(sku)
            new = False
        except NotFoundError:
            new = True
        saved = self.client.upsert_product(sku, mapping.product_to_magento(product, new=new))
        return str(saved.get("sku") or sku)

    def set_stock(self, levels: list[StockLevel]) -> None:
        """Set source quantities (absolute), chunked within Magento's input-list limit."""
        items = [mapping.stock_level_to_source_item(level) for level in levels]
        if items:
            self.client.set_source_items(items)
