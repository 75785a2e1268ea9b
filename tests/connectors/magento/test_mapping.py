"""Magento payload <-> canonical mapping rules, as pure functions (no HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.canonical import Address, Customer, InvoiceStatus, Product, StockLevel
from connectors.magento import mapping
from connectors.magento.criteria import SearchCriteria

CUSTOMER = {
    "id": 42,
    "email": "grace@example.com",
    "firstname": "Grace",
    "lastname": "Hopper",
    "taxvat": "GB999999973",
    "default_billing": "7",
    "default_shipping": "8",
    "updated_at": "2024-05-01 10:30:00",
    "custom_attributes": [{"attribute_code": "loyalty_tier", "value": "gold"}],
    "addresses": [
        {
            "id": 8,
            "street": ["1 Dock Road"],
            "city": "Hull",
            "region": {"region_code": "Humberside", "region": "Humberside", "region_id": 0},
            "postcode": "HU1 1AA",
            "country_id": "gb",
            "telephone": "01482 000000",
        },
        {
            "id": 7,
            "street": ["Navy Yard", "Building 4"],
            "city": "Portsmouth",
            "region": {"region_code": "Hampshire", "region": "Hampshire", "region_id": 0},
            "postcode": "PO1 3LJ",
            "country_id": "GB",
            "telephone": "023 9200 0000",
            "company": "Cobol Ltd",
        },
    ],
}


def test_customer_takes_the_default_billing_and_shipping_addresses():
    customer = mapping.customer_to_canonical(CUSTOMER)
    assert customer.external_id == "42"
    assert (customer.first_name, customer.last_name) == ("Grace", "Hopper")
    assert customer.billing_address == Address(
        lines=["Navy Yard", "Building 4"],
        city="Portsmouth",
        region="Hampshire",
        postcode="PO1 3LJ",
        country="GB",
    )
    assert customer.shipping_address.lines == ["1 Dock Road"]
    assert customer.shipping_address.country == "GB"
    assert (customer.company_name, customer.phone) == ("Cobol Ltd", "023 9200 0000")
    assert customer.vat_number == "GB999999973"
    assert customer.custom_attributes == {"loyalty_tier": "gold"}


def test_magento_dates_are_read_as_aware_utc():
    customer = mapping.customer_to_canonical(CUSTOMER)
    assert customer.source_modified_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def test_searchcriteria_renders_datetimes_in_magentos_utc_format():
    since = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    params = dict(SearchCriteria().where("updated_at", since, "gteq").page(2, 50).params())
    assert params["searchCriteria[filter_groups][0][filters][0][value]"] == "2024-05-01 12:00:00"
    assert params["searchCriteria[filter_groups][0][filters][0][condition_type]"] == "gteq"
    assert params["searchCriteria[currentPage]"] == "2"


def test_street_lines_beyond_magentos_two_are_joined_into_the_second():
    customer = Customer(
        "kashflow",
        "C1",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        billing_address=Address(lines=["Flat 3", "12 High St", "Old Town"], city="Leeds"),
    )
    payload = mapping.customer_to_magento(customer)
    assert payload["addresses"][0]["street"] == ["Flat 3", "12 High St, Old Town"]
    assert payload["addresses"][0]["default_billing"] is True
    assert payload["addresses"][0]["default_shipping"] is True
    assert payload["website_id"] == 1


def test_missing_telephone_and_first_name_are_sent_as_the_documented_default():
    customer = Customer(
        "kashflow",
        "C2",
        company_name="Acme Ltd",
        email="accounts@acme.example",
        billing_address=Address(lines=["1 Road"], city="York", postcode="YO1 1AA", country="GB"),
    )
    payload = mapping.customer_to_magento(customer)
    assert payload["firstname"] == mapping.MISSING
    assert payload["lastname"] == "Acme Ltd"
    assert payload["addresses"][0]["telephone"] == mapping.MISSING
    assert payload["addresses"][0]["company"] == "Acme Ltd"


def test_different_shipping_address_becomes_a_second_entry():
    customer = mapping.customer_to_canonical(CUSTOMER)
    entries = mapping.customer_to_magento(customer)["addresses"]
    assert [(e["default_billing"], e["default_shipping"]) for e in entries] == [
        (True, False),
        (False, True),
    ]


def test_updating_reuses_the_existing_address_ids():
    customer = mapping.customer_to_canonical(CUSTOMER)
    payload = mapping.customer_to_magento(customer, existing=CUSTOMER)
    assert payload["id"] == 42
    assert [entry.get("id") for entry in payload["addresses"]] == [7, 8]


def test_customer_round_trips_the_fields_magento_can_hold():
    original = mapping.customer_to_canonical(CUSTOMER)
    payload = mapping.customer_to_magento(original)
    payload.update(id=42, updated_at=CUSTOMER["updated_at"], custom_attributes=[])
    for number, address in enumerate(payload["addresses"], 1):
        address["id"] = number
    back = mapping.customer_to_canonical(payload)
    for name in (
        "external_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "vat_number",
        "company_name",
        "billing_address",
        "shipping_address",
    ):
        assert getattr(back, name) == getattr(original, name), name


def test_product_money_is_decimal_and_status_and_tax_class_are_mapped():
    payload = json.loads(
        '{"sku": "W-1", "name": "Widget", "price": 19.99, "status": 2,'
        ' "updated_at": "2024-01-02 03:04:05",'
        ' "custom_attributes": [{"attribute_code": "tax_class_id", "value": "9"},'
        ' {"attribute_code": "description", "value": "A widget"}],'
        ' "extension_attributes": {"stock_item": {"qty": 7}}}'
    )
    product = mapping.product_to_canonical(payload)
    assert product.unit_price == Decimal("19.99") and isinstance(product.unit_price, Decimal)
    assert (product.active, product.tax_code, product.stock) == (False, "reduced", Decimal(7))
    assert (product.external_id, product.description, product.currency) == (
        "W-1",
        "A widget",
        "GBP",
    )


def test_product_to_magento_keeps_price_decimal_and_maps_status_and_tax():
    product = Product("kashflow", "W-2", sku="W-2", name="Gadget", unit_price=Decimal("5.10"))
    product.active, product.tax_code = False, "zero"
    payload = mapping.product_to_magento(product, new=True)
    assert payload["price"] == Decimal("5.10") and payload["status"] == 2
    assert {"attribute_code": "tax_class_id", "value": "0"} in payload["custom_attributes"]
    assert payload["type_id"] == "simple"


def test_stock_levels_and_source_items_map_both_ways():
    level = mapping.source_item_to_stock_level(
        {"sku": "W-1", "source_code": "default", "quantity": 12.5, "status": 1}
    )
    assert level == StockLevel("magento", "W-1", Decimal("12.5"), "default")
    out = mapping.stock_level_to_source_item(StockLevel("kashflow", "W-1", Decimal(0)))
    assert out == {"sku": "W-1", "source_code": "default", "quantity": Decimal(0), "status": 0}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", InvoiceStatus.UNPAID),
        ("processing", InvoiceStatus.UNPAID),
        ("holded", InvoiceStatus.UNPAID),
        ("complete", InvoiceStatus.PAID),
        ("canceled", InvoiceStatus.CANCELLED),
        ("closed", InvoiceStatus.CANCELLED),
    ],
)
def test_order_status_maps_to_invoice_status(status, expected):
    assert mapping.invoice_status({"status": status}) == expected


ORDER = {
    "entity_id": 5,
    "increment_id": "000000005",
    "status": "processing",
    "customer_id": 42,
    "customer_email": "grace@example.com",
    "order_currency_code": "GBP",
    "created_at": "2024-05-02 09:00:00",
    "updated_at": "2024-05-02 09:05:00",
    "shipping_amount": Decimal("5.00"),
    "shipping_description": "Flat Rate - Fixed",
    "grand_total": Decimal("33.20"),
    "billing_address": {"street": ["Navy Yard", "Building 4"], "city": "Portsmouth"},
    "payment": {
        "entity_id": 5,
        "method": "stripe_payments",
        "amount_paid": Decimal("33.20"),
        "last_trans_id": "ch_123",
    },
    "items": [
        {"item_id": 1, "sku": "W-1", "name": "Widget", "qty_ordered": Decimal("2.0"),
         "price": Decimal("10.00"), "tax_percent": Decimal("20.0")},
        {"item_id": 2, "sku": "W-2", "name": "Leaflet", "qty_ordered": Decimal("1.0"),
         "price": Decimal("4.00"), "tax_percent": Decimal("5.0")},
        {"item_id": 3, "parent_item_id": 2, "sku": "W-2-child", "qty_ordered": Decimal("1.0"),
         "price": Decimal("0"), "tax_percent": Decimal("0")},
    ],
}  # fmt: skip


def test_order_maps_to_an_invoice_that_adds_up_to_the_grand_total():
    invoice = mapping.order_to_invoice(ORDER)
    assert (invoice.number, invoice.external_id, invoice.customer_external_id) == (
        "000000005",
        "5",
        "42",
    )
    assert [
        (line.sku, line.quantity, line.unit_price, line.vat_rate) for line in invoice.lines
    ] == [
        ("W-1", Decimal(2), Decimal(10), Decimal(20)),
        ("W-2", Decimal(1), Decimal(4), Decimal(5)),
        ("", Decimal(1), Decimal(5), Decimal(0)),
    ]
    assert invoice.gross_amount == ORDER["grand_total"]
    assert invoice.billing_address.lines == ["Navy Yard", "Building 4"]
    assert invoice.issued_on == datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def test_order_payment_carries_amount_method_and_transaction_reference():
    payment = mapping.order_payment(ORDER, paid_on="2024-05-02 09:01:00")
    assert payment.amount == Decimal("33.20")
    assert (payment.method, payment.reference, payment.invoice_number) == (
        "card",
        "ch_123",
        "000000005",
    )
    assert payment.paid_on == datetime(2024, 5, 2, 9, 1, tzinfo=UTC)
    assert mapping.order_payment({**ORDER, "payment": {"method": "checkmo"}}) is None


def test_credit_memo_maps_to_a_credit_note_with_the_orders_vat_rates():
    memo = {
        "entity_id": 9,
        "order_id": 5,
        "grand_total": Decimal("17.00"),
        "shipping_amount": Decimal("5.00"),
        "adjustment_negative": Decimal("0"),
        "created_at": "2024-05-03 10:00:00",
        "items": [
            {"order_item_id": 1, "sku": "W-1", "name": "Widget", "qty": Decimal("1.0"),
             "price": Decimal("10.00"), "row_total": Decimal("10.00"),
             "tax_amount": Decimal("2.00")},
        ],
        "comments": [{"comment": "Damaged in transit"}],
    }  # fmt: skip
    note = mapping.credit_memo_to_credit_note(memo, ORDER)
    assert (note.external_id, note.invoice_number, note.reason) == (
        "9",
        "000000005",
        "Damaged in transit",
    )
    assert [(line.sku, line.unit_price, line.vat_rate) for line in note.lines] == [
        ("W-1", Decimal(10), Decimal(20)),
        ("", Decimal(5), Decimal(0)),
    ]
    assert sum((line.net_amount + line.vat_amount for line in note.lines), Decimal(0)) == (
        note.amount
    )
