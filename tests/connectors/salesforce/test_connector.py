"""SalesforceConnector against the Salesforce sandbox: canonical customers, products and won
opportunities in; customers, invoice numbers and payments out; echoes recognised."""

import time
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from connectors.canonical import Address, Customer, InvoiceStatus, Payment
from connectors.salesforce.mapping import ACCOUNT_REFERENCE
from tests.connectors.salesforce.test_connector_support import (
    change,
    last_change_header,
    make_connector,
    sandbox_settings,
    unique,
)

pytestmark = pytest.mark.django_db


def a_customer(reference: str, **fields) -> Customer:
    values = {
        "company_name": f"Hub Made {reference} Ltd",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"{reference.lower()}@example.com",
        "phone": "+44 20 7946 0001",
        "billing_address": Address(["1 Engine Row", "Floor 2"], "London", "", "N1 9GU", "GB"),
        "custom_attributes": {ACCOUNT_REFERENCE: reference},
    }
    values.update(fields)
    return Customer(source_system="kashflow", external_id=reference, **values)


def contacts_of(sandbox, account_id: str) -> list[dict]:
    return [
        doc for doc in sandbox.emulator.records.live("Contact") if doc["AccountId"] == account_id
    ]


def a_gb_account_id(connector) -> str:
    return next(
        customer.external_id
        for customer in connector.iter_customers()
        if customer.billing_address.country == "GB" and customer.company_name
    )


# Reading customers ---------------------------------------------------------------------------
def test_every_account_comes_once_over_several_pages(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    with sandbox_settings(salesforce_sandbox, query_batch_size=7):
        customers = list(connector.iter_customers())
    ids = [customer.external_id for customer in customers]
    live = {doc["Id"] for doc in salesforce_sandbox.emulator.records.live("Account")}
    assert len(ids) == len(set(ids)) and set(ids) == live
    assert len(live) > 7 * 3


def test_seeded_account_arrives_with_its_contact_and_an_iso_country(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    customers = list(connector.iter_customers())
    oldest_contact = {}
    for contact in salesforce_sandbox.emulator.records.live("Contact"):
        oldest_contact.setdefault(contact["AccountId"], contact)
    with_contact = [customer for customer in customers if customer.external_id in oldest_contact]
    assert len(with_contact) == len([key for key in oldest_contact if key]) >= 40
    for customer in with_contact:
        contact = oldest_contact[customer.external_id]
        assert (customer.last_name, customer.email) == (contact["LastName"], contact["Email"] or "")
    countries = {customer.billing_address.country for customer in customers}
    assert countries <= {"GB", "US", "IE", "FR", "DE", "NL", ""} and "GB" in countries
    people = [customer for customer in customers if not customer.company_name]
    assert people and all(customer.last_name for customer in people)
    first = customers[0]
    assert first.raw["Id"] == first.external_id
    assert first.source_modified_at is not None and first.source_modified_at.tzinfo is not None


def test_incremental_read_returns_only_what_changed_since(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    watermark = max(customer.source_modified_at for customer in connector.iter_customers())
    time.sleep(0.01)
    account_id = a_gb_account_id(connector)
    change(salesforce_sandbox, "Account", account_id, Phone="+44 161 496 0000")
    changed = list(connector.iter_customers(since=watermark))
    assert [customer.external_id for customer in changed] == [account_id]
    assert changed[0].source_modified_at > watermark


def test_a_contact_change_alone_brings_its_account_in_an_incremental_read(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    customers = list(connector.iter_customers())
    watermark = datetime.now().astimezone() - timedelta(milliseconds=1)
    target = next(customer for customer in customers if customer.email)
    contact = contacts_of(salesforce_sandbox, target.external_id)[0]
    new_email = f"{unique('moved')}@example.com"
    change(salesforce_sandbox, "Contact", contact["Id"], Email=new_email)
    changed = {customer.external_id: customer for customer in connector.iter_customers(watermark)}
    assert target.external_id in changed
    assert changed[target.external_id].email == new_email


# Reading products ----------------------------------------------------------------------------
def test_products_come_with_their_standard_price_as_decimal(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    with sandbox_settings(salesforce_sandbox, query_batch_size=6):
        products = list(connector.iter_products())
    ids = [product.external_id for product in products]
    assert len(ids) == len(set(ids))
    assert set(ids) == {doc["Id"] for doc in salesforce_sandbox.emulator.records.live("Product2")}
    prices = {
        doc["Product2Id"]: Decimal(doc["UnitPrice"])
        for doc in salesforce_sandbox.emulator.records.live("PricebookEntry")
    }
    priced = [product for product in products if product.unit_price is not None]
    assert {product.external_id: product.unit_price for product in priced} == prices
    assert priced  # the seeded world prices its products in the standard pricebook
    assert all(isinstance(product.unit_price, Decimal) for product in priced)
    assert all(product.sku and product.currency == "GBP" for product in priced)


def test_a_price_change_alone_brings_its_product_in_an_incremental_read(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    product = next(iter(connector.iter_products()))
    watermark = datetime.now().astimezone() - timedelta(milliseconds=1)
    entry = next(
        doc
        for doc in salesforce_sandbox.emulator.records.live("PricebookEntry")
        if doc["Product2Id"] == product.external_id
    )
    change(salesforce_sandbox, "PricebookEntry", entry["Id"], UnitPrice="123.45")
    changed = [found for found in connector.iter_products(watermark)]
    assert [found.external_id for found in changed] == [product.external_id]
    assert changed[0].unit_price == Decimal("123.45")


# Writing customers ---------------------------------------------------------------------------
def test_upserted_customer_is_created_once_then_updated_with_its_contact(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    reference = unique("KF")
    first = connector.upsert_customers([a_customer(reference)])[0]
    second = connector.upsert_customers([a_customer(reference, phone="+44 20 7946 0999")])[0]
    assert first.success and second.success and first.created and not second.created
    assert first.id == second.id
    accounts = [
        doc
        for doc in salesforce_sandbox.emulator.records.live("Account")
        if doc.get("ExternalId__c") == reference
    ]
    assert len(accounts) == 1 and accounts[0]["Phone"] == "+44 20 7946 0999"
    assert accounts[0]["BillingStreet"] == "1 Engine Row\nFloor 2"
    contacts = contacts_of(salesforce_sandbox, first.id)
    assert [(c["FirstName"], c["LastName"]) for c in contacts] == [("Ada", "Lovelace")]
    read_back = connector.get_customer(first.id)
    assert read_back.custom_attributes[ACCOUNT_REFERENCE] == reference
    assert read_back.billing_address.lines == ["1 Engine Row", "Floor 2"]


def test_hub_writes_carry_its_client_id_and_are_recognised_as_echoes(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox, client_id_tag="concord-test")
    result = connector.upsert_customers([a_customer(unique("ECHO"))])[0]
    own = last_change_header(salesforce_sandbox, "Account", result.id)
    assert own["changeOrigin"].endswith(";client=concord-test")
    assert connector.is_own_change(own)
    change(salesforce_sandbox, "Account", result.id, Phone="+44 20 7946 0555")
    by_a_person = last_change_header(salesforce_sandbox, "Account", result.id)
    assert not connector.is_own_change(by_a_person)


def test_customer_without_account_reference_fails_alone(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    good = a_customer(unique("OK"))
    keyless = a_customer(unique("NOKEY"), custom_attributes={})
    results = connector.upsert_customers([keyless, good])
    assert [result.success for result in results] == [False, True]
    assert results[0].errors[0].code == "MISSING_ACCOUNT_REFERENCE"


# Opportunities, invoices, payments -----------------------------------------------------------
def test_won_opportunity_becomes_an_invoice_and_is_marked_invoiced(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    account_id = a_gb_account_id(connector)
    product = next(product for product in connector.iter_products() if product.active)
    watermark = datetime.now().astimezone() - timedelta(milliseconds=1)
    opportunity = salesforce_sandbox.control(
        "changes",
        {
            "object": "Opportunity",
            "fields": {
                "Name": unique("Won deal"),
                "AccountId": account_id,
                "StageName": "Closed Won",
                "CloseDate": date.today().isoformat(),
            },
            "line_items": [{"ProductCode": product.sku, "Quantity": 3, "UnitPrice": 12.5}],
        },
    ).json()
    invoices = list(connector.iter_won_opportunities(watermark))
    assert [invoice.external_id for invoice in invoices] == [opportunity["Id"]]
    invoice = invoices[0]
    assert invoice.number == "" and invoice.reference == opportunity["Id"]
    assert invoice.customer_external_id == account_id
    assert [(line.sku, line.quantity, line.unit_price) for line in invoice.lines] == [
        (product.sku, Decimal("3"), Decimal("12.5"))
    ]
    assert invoice.lines[0].vat_rate == Decimal("20")
    assert invoice.net_amount == Decimal("37.50")
    connector.mark_invoiced(opportunity["Id"], "10042", InvoiceStatus.UNPAID)
    stored = salesforce_sandbox.emulator.records.get("Opportunity", opportunity["Id"])
    assert stored["Kashflow_Invoice_Number__c"] == "10042"
    assert stored["Kashflow_Invoice_Status__c"] == "unpaid"


def test_payment_is_recorded_once_by_its_kashflow_id(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    payment = Payment(
        "kashflow", unique("KFPAY"), "10042", Decimal("45.10"), "GBP", datetime(2024, 5, 1)
    )
    first = connector.record_payment(payment)
    second = connector.record_payment(payment)
    assert first.created and not second.created and first.id == second.id
    stored = salesforce_sandbox.emulator.records.get("Payment__c", first.id)
    assert Decimal(stored["Amount__c"]) == Decimal("45.10")
    assert stored["Payment_Date__c"] == "2024-05-01"


# Test connection and previews ----------------------------------------------------------------
def test_check_reports_latency_and_the_daily_allowance(salesforce_sandbox):
    result = make_connector(salesforce_sandbox).check()
    assert result.ok, result.error
    assert result.latency_ms > 0
    assert "daily API requests used" in result.allowance
    assert "read account 001" in result.detail


def test_check_with_bad_credentials_reports_the_failure(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    connector.connection.set_secret("client_secret", "wrong-secret")
    result = connector.check()
    assert not result.ok and "invalid_client" in result.error


def test_sample_payloads_are_raw_records_for_the_mapping_preview(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    account = connector.sample_payload("customer")
    product = connector.sample_payload("product")
    assert account["Id"].startswith("001") and "Name" in account and "Contacts" in account
    assert product["Id"].startswith("01t") and "UnitPrice" in product


def test_read_allowance_parses_sforce_limit_info(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    response = requests.Response()
    response.headers["Sforce-Limit-Info"] = (
        "api-usage=25/15000; per-app-api-usage=17/250(appName=x)"
    )
    assert connector.read_allowance(response) == (25, 15000)
    assert connector.read_allowance(requests.Response()) is None
