"""MagentoConnector against the sandbox: canonical reads, order → invoice, writes, check()."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.base import connector_for
from connectors.canonical import Address, Customer, InvoiceStatus, Product, StockLevel
from connectors.magento.client import forget_tokens
from connectors.magento.connector import MagentoConnector
from tests.conftest import connection_for


@pytest.fixture
def connector(magento_sandbox, db) -> MagentoConnector:
    forget_tokens()
    connection = connection_for(magento_sandbox)
    connection.options.update(rate_per_second=1000, burst=1000, backoff_base=0.01)
    connection.save()
    return connector_for(connection)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def stocked_product(connector, price: str, tax_class_id: str) -> str:
    sku = unique("ORD")
    connector.client.upsert_product(
        sku,
        {
            "name": f"Order test {sku}",
            "price": Decimal(price),
            "custom_attributes": [{"attribute_code": "tax_class_id", "value": tax_class_id}],
            "extension_attributes": {"stock_item": {"qty": 50, "is_in_stock": True}},
        },
    )
    return sku


def customer(**fields) -> Customer:
    values = {
        "source_system": "kashflow",
        "external_id": unique("K"),
        "company_name": "Brunel Engineering Ltd",
        "first_name": "Isambard",
        "last_name": "Brunel",
        "email": f"{unique('ikb')}@example.com",
        "phone": "0117 496 0000",
        "billing_address": Address(
            lines=["Great Western Dock", "Gas Ferry Road", "Spike Island"],
            city="Bristol",
            region="Avon",
            postcode="BS1 6TY",
            country="GB",
        ),
        "vat_number": "GB123456789",
    }
    values.update(fields)
    return Customer(**values)


def place_order(magento_sandbox, connector, *, pay: bool, method: str = "braintree") -> dict:
    standard = stocked_product(connector, "10.00", "2")
    reduced = stocked_product(connector, "4.50", "9")
    customer_id = connector.upsert_customer(customer())
    response = magento_sandbox.control(
        "orders",
        {
            "customer": {"id": int(customer_id)},
            "items": [{"sku": standard, "qty": 2}, {"sku": reduced, "qty": 3}],
            "payment": {"method": method, "pay": pay},
        },
    )
    return response.json()


def test_check_reports_ok_with_latency(connector):
    result = connector.check()
    assert result.ok, result.error
    assert result.latency_ms > 0
    assert "customers" in result.detail


def test_iter_customers_yields_canonical_customers_with_addresses(magento_sandbox, connector):
    customers = list(connector.iter_customers())
    assert len(customers) == magento_sandbox.emulator.store.count("customer")
    with_address = [c for c in customers if c.billing_address.lines]
    assert with_address and all(c.billing_address.country for c in with_address)
    assert all(c.source_system == "magento" and c.source_modified_at for c in customers)


def test_iter_products_since_returns_only_recently_changed_products(connector):
    since = datetime.now(UTC) - timedelta(seconds=5)
    sku = stocked_product(connector, "3.20", "2")
    products = list(connector.iter_products(since))
    assert sku in [product.sku for product in products]
    assert all(product.source_modified_at >= since.replace(microsecond=0) for product in products)
    mine = next(product for product in products if product.sku == sku)
    assert mine.unit_price == Decimal("3.2") and mine.stock == 50 and mine.tax_code == "standard"


def test_paid_order_maps_to_an_invoice_with_lines_vat_and_a_payment(magento_sandbox, connector):
    order = place_order(magento_sandbox, connector, pay=True)
    invoice = connector.get_invoice(str(order["entity_id"]))
    assert invoice.number == order["increment_id"]
    assert invoice.customer_email == order["customer_email"]
    assert invoice.customer_external_id == str(order["customer_id"])
    assert invoice.status == InvoiceStatus.UNPAID  # "processing": paid, not shipped yet
    items = [(line.quantity, line.unit_price, line.vat_rate) for line in invoice.lines[:2]]
    assert items == [
        (Decimal(2), Decimal("10"), Decimal(20)),
        (Decimal(3), Decimal("4.5"), Decimal(5)),
    ]
    assert invoice.lines[2].unit_price == Decimal(5)  # flat-rate shipping as its own line
    assert invoice.gross_amount == Decimal(str(order["grand_total"]))
    assert invoice.billing_address.lines == ["Great Western Dock", "Gas Ferry Road, Spike Island"]
    payment = connector.order_payment(invoice.external_id)
    assert payment.amount == invoice.gross_amount
    assert payment.reference == order["payment"]["last_trans_id"]
    assert payment.method == "card" and payment.invoice_number == invoice.number


def test_order_status_follows_shipping_and_refunds(magento_sandbox, connector):
    pending = place_order(magento_sandbox, connector, pay=False)
    assert connector.get_invoice(str(pending["entity_id"])).status == InvoiceStatus.UNPAID
    assert connector.order_payment(str(pending["entity_id"])) is None

    order_id = pending["entity_id"]
    connector.client.create_invoice(order_id)
    connector.client.request("POST", f"/order/{order_id}/ship", body={})
    assert connector.get_invoice(str(order_id)).status == InvoiceStatus.PAID

    memo_id = connector.client.refund(order_id, comment="Returned in full")
    notes = connector.order_credit_notes(str(order_id))
    assert [note.external_id for note in notes] == [str(memo_id)]
    assert notes[0].amount == Decimal(str(pending["grand_total"]))
    assert notes[0].invoice_number == pending["increment_id"]
    assert notes[0].reason == "Returned in full"
    assert sum((line.net_amount + line.vat_amount for line in notes[0].lines), Decimal(0)) == (
        notes[0].amount
    )
    assert connector.get_invoice(str(order_id)).status == InvoiceStatus.CANCELLED


def test_iter_orders_since_includes_a_new_order(magento_sandbox, connector):
    since = datetime.now(UTC) - timedelta(seconds=5)
    order = place_order(magento_sandbox, connector, pay=False)
    numbers = [invoice.number for invoice in connector.iter_orders(since)]
    assert order["increment_id"] in numbers
    assert len(numbers) == len(set(numbers))
    assert connector.find_invoice(order["increment_id"]).external_id == str(order["entity_id"])


def test_upsert_customer_creates_once_then_updates_the_same_record(magento_sandbox, connector):
    first = customer()
    created_id = connector.upsert_customer(first)
    stored = magento_sandbox.emulator.store.get("customer", created_id)
    assert stored["addresses"][0]["street"] == [
        "Great Western Dock",
        "Gas Ferry Road, Spike Island",
    ]
    assert stored["taxvat"] == "GB123456789"

    changed = customer(email=first.email, last_name="Kingdom-Brunel", phone="0117 000 0000")
    assert connector.upsert_customer(changed) == created_id
    again = connector.get_customer(created_id)
    assert again.last_name == "Kingdom-Brunel"
    assert again.phone == "0117 000 0000"
    assert len(magento_sandbox.emulator.store.get("customer", created_id)["addresses"]) == 1


def test_upsert_product_creates_and_updates_by_sku(connector):
    sku = unique("PRD")
    product = Product("kashflow", sku, sku=sku, name=f"Gizmo {sku}", unit_price=Decimal("9.99"))
    assert connector.upsert_product(product) == sku
    product.unit_price, product.active, product.tax_code = Decimal("11.49"), False, "reduced"
    connector.upsert_product(product)
    stored = connector.get_product(sku)
    assert (stored.unit_price, stored.active, stored.tax_code) == (
        Decimal("11.49"),
        False,
        "reduced",
    )


def test_set_stock_applies_every_level_beyond_the_input_limit(magento_sandbox, connector):
    skus = [product["sku"] for product in magento_sandbox.emulator.store.all("product")][:20]
    skus += [stocked_product(connector, "1.00", "0") for _ in range(4)]
    levels = [StockLevel("kashflow", sku, quantity=Decimal(200 + n)) for n, sku in enumerate(skus)]
    assert len(levels) > 20
    connector.set_stock(levels)
    stored = {level.sku: level.quantity for level in connector.stock_levels(skus)}
    assert stored == {sku: Decimal(200 + n) for n, sku in enumerate(skus)}


def test_upsert_links_a_customer_created_elsewhere_after_the_lookup(magento_sandbox, connector):
    existing_id = connector.upsert_customer(customer(last_name="Original"))
    email = magento_sandbox.emulator.store.get("customer", existing_id)["email"]
    # The lookup misses it (as if it were created a moment later); the create then clashes.
    magento_sandbox.control(
        "faults",
        {
            "path_regex": "/V1/customers/search",
            "status": 200,
            "body": {"items": [], "search_criteria": {}, "total_count": 0},
            "times": 1,
        },
    )
    assert connector.upsert_customer(customer(email=email, last_name="Linked")) == existing_id
    assert magento_sandbox.emulator.store.get("customer", existing_id)["lastname"] == "Linked"
