"""Kashflow sandbox: endpoints entry, seeded records and the truth rows behind them."""

import re

from connectors.sandbox.seed import build_world
from tests.conftest import SANDBOX_TEST_CUSTOMERS, SANDBOX_TEST_PRODUCTS


def test_endpoints_entry_has_exactly_the_documented_keys(kashflow_sandbox):
    endpoints = kashflow_sandbox.endpoints
    assert set(endpoints) == {"base_url", "username", "password", "memorable_word", "control_url"}
    assert re.fullmatch(r"https://localhost:\d+/v2", endpoints["base_url"])
    assert endpoints["control_url"].endswith("/__sandbox__")
    assert len(endpoints["memorable_word"]) >= 6


def test_every_seeded_kashflow_customer_and_product_has_a_truth_row(truth_rows):
    world = build_world(7, SANDBOX_TEST_CUSTOMERS, SANDBOX_TEST_PRODUCTS)
    customers = [row for row in truth_rows if row["entity"] == "customer"]
    products = [row for row in truth_rows if row["entity"] == "product"]
    assert len(customers) == len(world.customers_in("kashflow"))
    assert len(products) == len(world.products_in("kashflow"))
    assert {row["entity_key"] for row in customers} == {
        customer.entity_key for customer, _ in world.customers_in("kashflow")
    }
    assert {row["external_id"] for row in products} == {
        variant.sku for _, variant in world.products_in("kashflow")
    }


def test_seeded_customers_have_kashflow_style_codes_and_their_details(api, truth_rows):
    world = build_world(7, SANDBOX_TEST_CUSTOMERS, SANDBOX_TEST_PRODUCTS)
    variants = {c.entity_key: v for c, v in world.customers_in("kashflow")}
    customers = [row for row in truth_rows if row["entity"] == "customer"]
    assert len({row["external_id"] for row in customers}) == len(customers)
    for row in customers:
        assert re.fullmatch(r"[A-Z0-9]{3}\d{2,}", row["external_id"])
    row = customers[0]
    record = api.get(f"/customers/{row['external_id']}").json()
    variant = variants[row["entity_key"]]
    expected_name = variant.company_name or f"{variant.first_name} {variant.last_name}"
    assert record["Name"] == expected_name
    assert record["Email"] == variant.email


def test_seeded_invoices_and_payments_make_lists_realistic(api):
    invoices = api.get("/invoices?perpage=250").json()["Data"]
    assert len(invoices) >= 5
    assert {"Paid"} & {invoice["Status"] for invoice in invoices}
    assert {"Unpaid", "Overdue"} & {invoice["Status"] for invoice in invoices}
    paid = next(invoice for invoice in invoices if invoice["Status"] == "Paid")
    detail = api.get(f"/invoices/{paid['Number']}").json()
    assert detail["PaymentLines"]
    assert detail["LineItems"][0]["ProductCode"]
