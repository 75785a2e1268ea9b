"""KashflowConnector over real HTTPS: canonical reads, customer upserts, invoices, payments."""

import itertools
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.base import connector_for
from connectors.canonical import Address, Customer, Invoice, InvoiceLine, Payment
from connectors.errors import DuplicateError, ValidationError
from connectors.kashflow.connector import KashflowConnector
from tests.conftest import connection_for
from tests.connectors.kashflow.conftest import unique

pytestmark = pytest.mark.django_db

# Invoice numbers of this module: increment ids counting down under a random offset, so they
# never meet the sandbox's own numbering (which counts up from the highest number used).
INVOICE_OFFSET = random.randrange(100, 2000) * 1_000_000
_increment_ids = itertools.count(900_000, -1)


def next_increment_id() -> str:
    return f"{next(_increment_ids):09d}"  # Magento style: "000900000"


def make_connector(sandbox, **options) -> KashflowConnector:
    connection = connection_for(sandbox, name=unique("kf-conn-"))
    connection.options.update({"kashflow_invoice_number_offset": INVOICE_OFFSET, **options})
    connection.save()
    connector = connector_for(connection)
    assert isinstance(connector, KashflowConnector)
    return connector


def stored(sandbox, kind: str) -> list[dict]:
    return sandbox.emulator.store.all(kind)


def stored_one(sandbox, kind: str, **match) -> dict:
    found = [r for r in stored(sandbox, kind) if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, found
    return found[0]


def web_customer(**fields) -> Customer:
    values = {
        "source_system": "magento",
        "external_id": unique("mg-"),
        "company_name": "Northwind Traders",
        "first_name": "Maria",
        "last_name": "Anders",
        "email": "maria@northwind.example",
        "phone": "0113 496 0123",
        "billing_address": Address(
            lines=["Unit 9", "Harbour Park", "Quay Street"],
            city="Bristol",
            region="Avon",
            postcode="BS1 4DJ",
            country="GB",
        ),
        "vat_number": "GB123456789",
    }
    return Customer(**{**values, **fields})


def stocked_product(sandbox) -> dict:
    """A seeded product at the standard VAT rate."""
    return next(p for p in stored(sandbox, "product") if p["InUse"] and Decimal(p["VATRate"]) == 20)


# Reads --------------------------------------------------------------------------------------
def test_check_reports_ok_with_a_latency(kashflow_sandbox):
    result = make_connector(kashflow_sandbox).check()
    assert result.ok, result.error
    assert result.latency_ms > 0
    assert result.detail.startswith("logged in; read customer ")


def test_iter_customers_yields_every_customer_once_as_canonical(kashflow_sandbox):
    connector = make_connector(kashflow_sandbox, kashflow_per_page=9)
    customers = list(connector.iter_customers())
    records = {record["Code"]: record for record in stored(kashflow_sandbox, "customer")}
    assert sorted(c.external_id for c in customers) == sorted(records)
    for customer in customers:
        record = records[customer.external_id]
        assert customer.source_system == "kashflow"
        assert record["Name"] in (
            customer.company_name,
            f"{customer.first_name} {customer.last_name}",
        )
        assert customer.email == record["Email"]
        if record["Addresses"]:
            assert customer.billing_address.postcode == record["Addresses"][0]["PostCode"]
            assert customer.billing_address.city == record["Addresses"][0]["Line3"]
        assert customer.source_modified_at is not None


def test_iter_products_yields_every_product_with_decimal_prices(kashflow_sandbox):
    products = list(make_connector(kashflow_sandbox).iter_products())
    records = {record["Code"]: record for record in stored(kashflow_sandbox, "product")}
    assert sorted(p.sku for p in products) == sorted(records)
    for product in products:
        assert isinstance(product.unit_price, Decimal)
        assert product.unit_price == Decimal(records[product.sku]["Price"])
        assert product.stock == Decimal(records[product.sku]["QuantityInStock"])
        assert product.active is records[product.sku]["InUse"]


# Customers ----------------------------------------------------------------------------------
def test_upsert_creates_a_customer_then_updates_it_in_place(kashflow_sandbox):
    connector = make_connector(kashflow_sandbox)
    customer = web_customer()
    code = connector.upsert_customer(customer)
    created = stored_one(kashflow_sandbox, "customer", Code=code)
    assert created["Name"] == "Northwind Traders"
    assert created["Contacts"][0]["FirstName"] == "Maria"
    assert created["Contacts"][0]["LastName"] == "Anders"
    address = created["Addresses"][0]
    assert (address["Line1"], address["Line2"]) == ("Unit 9", "Harbour Park, Quay Street")
    assert (address["Line3"], address["Line4"], address["PostCode"]) == (
        "Bristol",
        "Avon",
        "BS1 4DJ",
    )
    count = len(stored(kashflow_sandbox, "customer"))

    customer.phone = "0117 496 0999"
    assert connector.upsert_customer(customer) == code
    assert len(stored(kashflow_sandbox, "customer")) == count
    updated = connector.get_customer(code)
    assert updated.phone == "0117 496 0999"
    assert updated.company_name == "Northwind Traders"
    assert updated.billing_address.lines == ["Unit 9", "Harbour Park, Quay Street"]


def test_upserting_an_unchanged_customer_leaves_it_untouched(kashflow_sandbox):
    connector = make_connector(kashflow_sandbox)
    code = connector.upsert_customer(web_customer(company_name="", external_id=unique("mg-")))
    before = stored_one(kashflow_sandbox, "customer", Code=code)
    assert before["Name"] == "Maria Anders"
    as_read = connector.get_customer(code)
    assert (as_read.company_name, as_read.first_name) == ("", "Maria")
    assert connector.upsert_customer(as_read) == code
    after = stored_one(kashflow_sandbox, "customer", Code=code)
    assert after["LastUpdatedDate"] == before["LastUpdatedDate"]


# Invoices -----------------------------------------------------------------------------------
def new_invoice(sandbox, connector: KashflowConnector) -> tuple[Invoice, str]:
    code = connector.upsert_customer(web_customer(external_id=unique("mg-")))
    product = stocked_product(sandbox)
    invoice = Invoice(
        source_system="magento",
        external_id=unique("order-"),
        number=next_increment_id(),
        issued_on=datetime(2025, 3, 1, 15, 30, tzinfo=UTC),
        due_on=datetime(2025, 3, 31, tzinfo=UTC),
        lines=[
            InvoiceLine(
                product["Name"], product["Code"], Decimal("3"), Decimal("19.99"), Decimal("20")
            ),
            InvoiceLine("Delivery", "", Decimal("1"), Decimal("4.95"), Decimal("20")),
        ],
    )
    return invoice, code


def test_invoice_is_created_with_its_lines_vat_and_number(kashflow_sandbox):
    connector = make_connector(kashflow_sandbox, default_nominal_code=4001)
    invoice, code = new_invoice(kashflow_sandbox, connector)
    number = connector.create_invoice(invoice, code)
    assert number == str(INVOICE_OFFSET + int(invoice.number))
    stored_invoice = stored_one(kashflow_sandbox, "invoice", Number=int(number))
    assert stored_invoice["CustomerCode"] == code
    assert stored_invoice["CustomerReference"] == invoice.number
    assert stored_invoice["IssuedDate"] == "2025-03-01T00:00:00"
    assert stored_invoice["DueDate"] == "2025-03-31T00:00:00"
    first, second = stored_invoice["LineItems"]
    assert (first["ProductCode"], Decimal(first["Quantity"]), Decimal(first["Rate"])) == (
        invoice.lines[0].sku,
        Decimal("3"),
        Decimal("19.99"),
    )
    assert Decimal(first["VATLevel"]) == Decimal("20")
    assert (first["NominalCode"], second["NominalCode"]) == (4001, 4001)
    assert Decimal(stored_invoice["NetAmount"]) == invoice.net_amount == Decimal("64.92")
    assert Decimal(stored_invoice["VATAmount"]) == invoice.vat_amount
    assert Decimal(stored_invoice["GrossAmount"]) == invoice.gross_amount
    back = connector.get_invoice(number)
    assert back.status == "unpaid"  # due in the past: Kashflow says Overdue
    assert [line.sku for line in back.lines] == [invoice.lines[0].sku, ""]
    assert back.gross_amount == invoice.gross_amount


def test_creating_the_same_invoice_again_returns_it_without_a_duplicate(kashflow_sandbox):
    connector = make_connector(kashflow_sandbox)
    invoice, code = new_invoice(kashflow_sandbox, connector)
    number = connector.create_invoice(invoice, code)
    count = len(stored(kashflow_sandbox, "invoice"))
    assert make_connector(kashflow_sandbox).create_invoice(invoice, code) == number
    assert len(stored(kashflow_sandbox, "invoice")) == count


def test_invoice_number_held_by_another_customer_is_a_duplicate_error(kashflow_sandbox):
    connector = make_connector(kashflow_sandbox)
    invoice, code = new_invoice(kashflow_sandbox, connector)
    connector.create_invoice(invoice, code)
    other_code = connector.upsert_customer(web_customer(external_id=unique("mg-")))
    with pytest.raises(DuplicateError):
        connector.create_invoice(invoice, other_code)


def test_invoice_naming_an_unknown_product_is_a_validation_error(kashflow_sandbox):
    connector = make_connector(kashflow_sandbox)
    invoice, code = new_invoice(kashflow_sandbox, connector)
    invoice.lines[0].sku = "NO-SUCH-SKU"
    with pytest.raises(ValidationError) as raised:
        connector.create_invoice(invoice, code)
    assert "NO-SUCH-SKU" in raised.value.system_message


# Payments -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["single", "bulk"])
def test_recorded_payment_marks_the_invoice_paid_once(kashflow_sandbox, mode):
    connector = make_connector(kashflow_sandbox, kashflow_payments=mode)
    invoice, code = new_invoice(kashflow_sandbox, connector)
    number = connector.create_invoice(invoice, code)
    payment = Payment(
        source_system="magento",
        external_id=unique("pay-"),
        invoice_number=invoice.number,
        amount=invoice.gross_amount,
        paid_on=datetime(2025, 3, 2, tzinfo=UTC),
        method="card",
        reference=unique("TX-"),
    )
    payment_id = connector.record_payment(payment)
    assert connector.record_payment(payment, invoice_number=number) == payment_id  # a retry
    paid = stored_one(kashflow_sandbox, "invoice", Number=int(number))
    assert len(paid["PaymentLines"]) == 1
    line = paid["PaymentLines"][0]
    assert str(line["Id"]) == payment_id
    assert Decimal(line["Amount"]) == invoice.gross_amount
    assert (line["Method"], line["Note"]) == (4, payment.reference)
    assert (line["BulkId"] is not None) is (mode == "bulk")
    assert paid["PaidDate"].startswith("2025-03-02")
    assert connector.get_invoice(number).status == "paid"
