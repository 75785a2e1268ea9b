"""Kashflow mappings: customers, products, invoices and payments both ways, without HTTP."""

import random
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.canonical import Address, Customer, Invoice, InvoiceLine, Payment, Product
from connectors.errors import ValidationError
from connectors.kashflow import invoice_mapping, mapping

SEEDED_STYLE_CUSTOMER = {
    "Id": 7,
    "Code": "ACM01",
    "Name": "Acme Widgets Ltd",
    "Email": "accounts@acme.example",
    "TelephoneNumber": "0161 496 0000",
    "VATNumber": "GB123456789",
    "LastUpdatedDate": "2024-05-01T12:00:00.123",
    "Addresses": [
        {
            "Line1": "Unit 4",
            "Line2": "Dock Road",
            "Line3": "Salford",
            "Line4": "Greater Manchester",
            "PostCode": "M5 3AA",
            "CountryCode": "GB",
            "CountryName": "United Kingdom",
        }
    ],
    "DeliveryAddresses": [],
    "Contacts": [
        {"FirstName": "Other", "LastName": "Person", "IsPrimaryContact": False},
        {
            "FirstName": "Anna",
            "LastName": "van der Berg",
            "Email": "anna@acme.example",
            "Telephone": "0161 496 0001",
            "IsPrimaryContact": True,
        },
    ],
}


def test_kashflow_customer_becomes_a_canonical_company_with_its_primary_contact():
    customer = mapping.customer_to_canonical(SEEDED_STYLE_CUSTOMER)
    assert customer.source_system == "kashflow"
    assert customer.external_id == "ACM01"
    assert customer.custom_attributes["account_reference"] == "ACM01"
    assert customer.company_name == "Acme Widgets Ltd"
    assert (customer.first_name, customer.last_name) == ("Anna", "van der Berg")
    assert customer.email == "anna@acme.example"
    assert customer.phone == "0161 496 0001"
    assert customer.vat_number == "GB123456789"
    assert customer.billing_address == Address(
        lines=["Unit 4", "Dock Road"],
        city="Salford",
        region="Greater Manchester",
        postcode="M5 3AA",
        country="GB",
    )
    assert customer.shipping_address.is_empty()
    assert customer.source_modified_at == datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)


def test_customer_named_after_its_contact_is_a_person_not_a_company():
    payload = {
        "Code": "JAN01",
        "Name": "Jane Doe",
        "Contacts": [{"FirstName": "Jane", "LastName": "Doe", "IsPrimaryContact": True}],
    }
    customer = mapping.customer_to_canonical(payload)
    assert customer.company_name == ""
    assert (customer.first_name, customer.last_name) == ("Jane", "Doe")


def test_customer_without_contacts_falls_back_to_its_own_email_and_phone():
    payload = {"Code": "BOB01", "Name": "Bob's Bikes", "Email": "b@b.example", "MobileNumber": "07"}
    customer = mapping.customer_to_canonical(payload)
    assert customer.company_name == "Bob's Bikes"
    assert (customer.email, customer.phone) == ("b@b.example", "07")


def test_lowercase_keys_and_old_country_codes_are_understood():
    payload = {
        "code": "LOW01",
        "name": "Lower Ltd",
        "addresses": [
            {"line1": "1 Odos", "line3": "Athens", "postcode": "105", "countrycode": "EL"}
        ],
    }
    customer = mapping.customer_to_canonical(payload)
    assert customer.external_id == "LOW01"
    assert customer.billing_address.country == "GR"
    assert customer.billing_address.city == "Athens"


def test_canonical_customer_fits_kashflows_four_address_lines():
    customer = Customer(
        source_system="magento",
        external_id="42",
        first_name="Sam",
        last_name="Lee",
        email="sam@example.com",
        billing_address=Address(
            lines=["Flat 2", "The Old Mill", "Mill Lane"],
            city="Leeds",
            region="West Yorkshire",
            postcode="LS1 1AA",
            country="gb",
        ),
    )
    payload = mapping.customer_from_canonical(customer)
    assert payload["Name"] == "Sam Lee"
    assert payload["Addresses"] == [
        {
            "Line1": "Flat 2",
            "Line2": "The Old Mill, Mill Lane",
            "Line3": "Leeds",
            "Line4": "West Yorkshire",
            "PostCode": "LS1 1AA",
            "CountryCode": "GB",
        }
    ]
    assert payload["Contacts"] == [
        {
            "FirstName": "Sam",
            "LastName": "Lee",
            "Email": "sam@example.com",
            "Telephone": "",
            "IsPrimaryContact": True,
        }
    ]
    assert payload["DeliveryAddresses"] == []


def test_generated_code_is_valid_stable_and_distinct_per_source_record():
    first = Customer(source_system="salesforce", external_id="001A", company_name="Acme & Sons")
    same = Customer(source_system="salesforce", external_id="001A", company_name="Acme & Sons")
    other = Customer(source_system="salesforce", external_id="001B", company_name="Acme & Sons")
    code = mapping.customer_code(first)
    assert re.fullmatch(r"[A-Z0-9\-]{1,20}", code)
    assert code.startswith("ACMESONS-")
    assert code == mapping.customer_code(same)
    assert code != mapping.customer_code(other)


def test_kashflow_records_and_account_references_keep_their_code():
    own = Customer(source_system="kashflow", external_id="acm01", company_name="Acme")
    referenced = Customer(
        source_system="salesforce",
        external_id="001",
        company_name="Acme",
        custom_attributes={"account_reference": "ACM01"},
    )
    assert mapping.customer_code(own) == "ACM01"
    assert mapping.customer_code(referenced) == "ACM01"


def test_update_changes_only_what_differs_and_never_blanks_kashflow_values():
    wanted = mapping.customer_from_canonical(
        Customer(
            source_system="kashflow",
            external_id="ACM01",
            company_name="Acme Widgets Ltd",
            first_name="Anna",
            last_name="van der Berg",
            email="",  # unknown here: must not wipe Kashflow's email
            phone="0161 496 0999",
        )
    )
    changes = mapping.merge_customer_update(SEEDED_STYLE_CUSTOMER, wanted)
    assert set(changes) == {"Contacts"}  # the phone was read from the contact: it goes there
    contacts = changes["Contacts"]
    assert contacts[0]["FirstName"] == "Other"  # the other contact is kept
    assert contacts[1]["Telephone"] == "0161 496 0999"
    assert contacts[1]["Email"] == "anna@acme.example"
    unchanged = mapping.customer_from_canonical(
        mapping.customer_to_canonical(SEEDED_STYLE_CUSTOMER)
    )
    assert mapping.merge_customer_update(SEEDED_STYLE_CUSTOMER, unchanged) == {}


def _random_customer(rng: random.Random, index: int) -> Customer:
    words = ["North", "Star", "Widgets", "Anna", "O'Brien", "van", "Berg", "Smith", "Ltd"]

    def phrase(count: int) -> str:
        return " ".join(rng.choice(words) for _ in range(count))

    def address() -> Address:
        if rng.random() < 0.2:
            return Address()
        return Address(
            lines=[f"{rng.randint(1, 99)} {phrase(2)}"]
            + ([phrase(1)] if rng.random() < 0.5 else []),
            city=rng.choice(["Leeds", "York", ""]),
            region=rng.choice(["", "Kent", "CA"]),
            postcode=rng.choice(["LS1 1AA", "90210", ""]),
            country=rng.choice(["GB", "US", "IE"]),
        )

    is_person = rng.random() < 0.4
    first, last = rng.choice(["Anna", "Bo", ""]), rng.choice(["Smith", "Berg", "Lee"])
    company = "" if is_person else phrase(rng.randint(1, 3))
    if company == " ".join(part for part in (first, last) if part):
        # Kashflow holds one Name: a company named exactly like its contact reads as a person.
        company += " Ltd"
    return Customer(
        source_system="kashflow",
        external_id=f"RND{index:04d}",
        company_name=company,
        first_name=first,
        last_name=last,
        email=rng.choice(["", f"user{index}@example.com"]),
        phone=rng.choice(["", "0113 496 0000"]),
        billing_address=address(),
        shipping_address=address(),
        vat_number=rng.choice(["", "GB999999973"]),
        custom_attributes={"account_reference": f"RND{index:04d}"},
        source_modified_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_canonical_customers_round_trip_through_kashflow_without_loss():
    """A seeded property check: every field Kashflow can hold comes back unchanged."""
    rng = random.Random(20240501)
    for index in range(300):
        customer = _random_customer(rng, index)
        payload = mapping.customer_from_canonical(customer)
        payload["LastUpdatedDate"] = "2024-01-02T03:04:05.000"
        back = mapping.customer_to_canonical(payload)
        assert back == customer, (index, payload)


def test_kashflow_product_becomes_a_canonical_product_with_decimal_money():
    payload = {
        "Code": "OAK-SHELF",
        "Name": "Oak shelf",
        "Description": "A shelf",
        "Price": Decimal("46.1000"),
        "VATRate": Decimal("5.0000"),
        "VATExempt": False,
        "ManageStockLevel": True,
        "QuantityInStock": Decimal("12.0000"),
        "InUse": False,
    }
    product = mapping.product_to_canonical(payload)
    assert product.sku == product.external_id == "OAK-SHELF"
    assert product.unit_price == Decimal("46.10") and isinstance(product.unit_price, Decimal)
    assert product.tax_code == "reduced"
    assert product.stock == Decimal("12")
    assert product.active is False
    assert product.currency == "GBP"
    unmanaged = mapping.product_to_canonical({**payload, "ManageStockLevel": False})
    assert unmanaged.stock is None


def test_canonical_product_round_trips_through_kashflow():
    product = Product(
        source_system="kashflow",
        external_id="TEA-1",
        sku="TEA-1",
        name="Tea",
        description="Loose leaf",
        unit_price=Decimal("3.35"),
        currency="GBP",
        tax_code="zero",
        stock=Decimal("7"),
        active=True,
    )
    assert mapping.product_to_canonical(mapping.product_from_canonical(product)) == product


@pytest.mark.parametrize(
    ("number", "prefix", "offset", "expected"),
    [
        ("000000123", "", 0, 123),
        ("INV-000042", "inv-", 0, 42),
        ("000000123", "", 100_000_000, 100_000_123),
        ("", "", 0, None),
    ],
)
def test_invoice_number_rule(number, prefix, offset, expected):
    assert invoice_mapping.kashflow_invoice_number(number, prefix, offset) == expected


@pytest.mark.parametrize("number", ["WEB-123", "12a", "0", "99999999999"])
def test_numbers_kashflow_cannot_hold_are_refused(number):
    with pytest.raises(ValidationError):
        invoice_mapping.kashflow_invoice_number(number)


def test_canonical_invoice_becomes_a_kashflow_invoice():
    invoice = Invoice(
        source_system="magento",
        external_id="9",
        number="000000123",
        issued_on=datetime(2024, 5, 1, 22, 30, tzinfo=UTC),
        due_on=datetime(2024, 5, 31, tzinfo=UTC),
        lines=[
            InvoiceLine("Oak shelf", "OAK-SHELF", Decimal("2"), Decimal("46.10"), Decimal("20")),
            InvoiceLine("Delivery", "", Decimal("1"), Decimal("4.95"), Decimal("20"), "4900"),
        ],
    )
    payload = invoice_mapping.invoice_from_canonical(invoice, "ACM01", default_nominal_code=4001)
    assert payload["Number"] == 123
    assert payload["CustomerCode"] == "ACM01"
    assert payload["CustomerReference"] == "000000123"
    assert payload["IssuedDate"] == "2024-05-01 00:00:00"
    assert payload["DueDate"] == "2024-05-31 00:00:00"
    first, second = payload["LineItems"]
    assert first == {
        "Number": 1,
        "Description": "Oak shelf",
        "Quantity": Decimal("2"),
        "Rate": Decimal("46.10"),
        "VATLevel": Decimal("20"),
        "NominalCode": 4001,
        "ProductCode": "OAK-SHELF",
    }
    assert second["NominalCode"] == 4900 and "ProductCode" not in second


@pytest.mark.parametrize(
    ("status", "canonical"),
    [("Paid", "paid"), ("Unpaid", "unpaid"), ("Overdue", "unpaid"), ("Draft", "draft")],
)
def test_kashflow_invoice_status_becomes_paid_or_unpaid(status, canonical):
    invoice = invoice_mapping.invoice_to_canonical(
        {
            "Number": 1001,
            "CustomerCode": "ACM01",
            "IssuedDate": "2024-05-01T00:00:00",
            "DueDate": "2024-05-31T00:00:00",
            "Status": status,
            "Currency": None,
            "LineItems": [
                {
                    "Description": "Shelf",
                    "Quantity": Decimal("2.0000"),
                    "Rate": Decimal("46.1000"),
                    "VATLevel": Decimal("20.0000"),
                    "NominalCode": 4000,
                    "ProductCode": "OAK-SHELF",
                }
            ],
        }
    )
    assert invoice.status == canonical
    assert invoice.number == invoice.external_id == "1001"
    assert invoice.issued_on == datetime(2024, 5, 1, tzinfo=UTC)
    assert invoice.currency == "GBP"
    assert invoice.gross_amount == Decimal("110.64")


def test_canonical_payment_becomes_a_kashflow_payment_with_defaults():
    payment = Payment(
        source_system="magento",
        external_id="77",
        invoice_number="000000123",
        amount=Decimal("110.64"),
        paid_on=datetime(2024, 5, 2, 9, 0, tzinfo=UTC),
        method="paypal",
        reference="PAYPAL-TX-1",
    )
    body = invoice_mapping.payment_from_canonical(payment, default_method=3, account_id=2)
    assert body == {
        "Amount": Decimal("110.64"),
        "Method": 5,
        "Note": "PAYPAL-TX-1",
        "Date": "2024-05-02 00:00:00",
        "AccountId": 2,
    }
    unknown_method = Payment(source_system="magento", external_id="78", method="voucher")
    fallback = invoice_mapping.payment_from_canonical(unknown_method, default_method="Cheque")
    assert fallback["Method"] == 2
    assert fallback["Note"] == "magento payment 78"
    assert "AccountId" not in fallback


def test_kashflow_payment_becomes_canonical():
    payment = invoice_mapping.payment_to_canonical(
        {"Id": 5, "Date": "2024-05-02T00:00:00", "Amount": Decimal("50.0000"), "Method": 4},
        "1001",
    )
    assert payment.external_id == "5"
    assert payment.amount == Decimal("50")
    assert payment.method == "card"
    assert payment.paid_on == datetime(2024, 5, 2, tzinfo=UTC)


def test_a_moved_address_replaces_the_old_one_whole():
    from connectors.kashflow.mapping import merge_customer_update

    existing = {
        "Code": "ANN01",
        "Name": "Anna Smith",
        "Addresses": [
            {"Line1": "1 High St", "Line2": "The Old Mill", "Line3": "York", "PostCode": "YO1 7HH"}
        ],
    }
    wanted = {
        "Addresses": [
            {"Line1": "9 Quay St", "Line2": "", "Line3": "Bristol", "PostCode": "BS1 4ST"}
        ]
    }
    (address,) = merge_customer_update(existing, wanted)["Addresses"]
    assert address["Line1"] == "9 Quay St" and address["Line2"] == ""
