"""Seed the Salesforce sandbox org from the shared world: accounts, contacts, products, deals.

A business becomes an Account named after the company with its primary Contact; a person
becomes a person-like Account "First Last" with a Contact. Country is typed the way sales
people type it ("United Kingdom", "UK", "GB"...). About one Account, Contact and Product in
ten carries an `ExternalId__c` left by an earlier integration; the hub sets the rest. Products
get a standard PricebookEntry; about one business account in six has an open Opportunity with
one to three line items. Records get creation times spread over the past year.

Seeding publishes no change events (it runs in unpublished transactions): the event log starts
empty, as if the org had been quiet since the retention window began.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.salesforce.sandbox.records import Caller
from connectors.salesforce.sandbox.schema import SCHEMA
from connectors.salesforce.sandbox.wire import format_datetime

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator
    from connectors.sandbox.seed import World

COUNTRY_SPELLINGS = {
    "GB": ["United Kingdom", "United Kingdom", "UK", "GB", "England"],
    "US": ["United States", "United States", "USA", "US"],
}
OPEN_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote"]
OPEN_STAGES.append("Negotiation/Review")
FAMILIES = {"standard": "Hardware", "reduced": "Books", "zero": "Services"}


def bootstrap_org(emulator: SalesforceEmulator) -> None:
    """The standard price book every org has."""
    records = emulator.records
    if any(doc.get("IsStandard") for doc in records.live("Pricebook2")):
        return
    with records.transaction(Caller(), publish=False) as tx:
        records.insert_clean(
            tx,
            SCHEMA["Pricebook2"],
            {"Name": "Standard Price Book", "IsActive": True, "IsStandard": True},
        )


def _street(line1: str, line2: str) -> str | None:
    return "\n".join(part for part in (line1, line2) if part) or None


def seed_org(emulator: SalesforceEmulator, world: World) -> list[tuple[str, str, str]]:
    rng = random.Random(f"salesforce-{world.seed}")
    records = emulator.records
    now = datetime.now(UTC)
    truth: list[tuple[str, str, str]] = []

    def stamp() -> str:
        return format_datetime(now - timedelta(days=rng.uniform(2, 365)))

    standard = next(doc for doc in records.live("Pricebook2") if doc.get("IsStandard"))
    with records.transaction(Caller(), publish=False) as tx:
        entries = []
        for product, variant in world.products_in("salesforce"):
            created = stamp()
            product_doc = records.insert_clean(
                tx,
                SCHEMA["Product2"],
                {
                    "Name": variant.name,
                    "ProductCode": variant.sku,
                    "StockKeepingUnit": variant.sku,
                    "Description": variant.description,
                    "Family": FAMILIES.get(variant.tax_class, "Hardware"),
                    "IsActive": variant.active,
                    "ExternalId__c": f"ERP-P{rng.randint(10000, 99999)}"
                    if rng.random() < 0.1
                    else None,
                    "_stamp": created,
                },
            )
            truth.append(("product", product_doc["Id"], product.entity_key))
            entry = records.insert_clean(
                tx,
                SCHEMA["PricebookEntry"],
                {
                    "Pricebook2Id": standard["Id"],
                    "Product2Id": product_doc["Id"],
                    "UnitPrice": str(variant.unit_price),
                    "IsActive": variant.active,
                    "UseStandardPrice": False,
                    "_stamp": created,
                },
            )
            if variant.active:
                entries.append(entry)
        for customer, variant in world.customers_in("salesforce"):
            address = variant.address
            country = rng.choice(COUNTRY_SPELLINGS.get(address.country, [address.country]))
            name = variant.company_name or f"{variant.first_name} {variant.last_name}".strip()
            legacy = f"ERP-C{rng.randint(100000, 999999)}" if rng.random() < 0.1 else None
            created = stamp()
            account = records.insert_clean(
                tx,
                SCHEMA["Account"],
                {
                    "Name": name or variant.email or "Unknown",
                    "Phone": variant.phone or None,
                    "Type": "Customer - Direct",
                    "Website": f"www.{variant.email.split('@')[1]}"
                    if variant.company_name and "@" in variant.email
                    else None,
                    "BillingStreet": _street(address.line1, address.line2),
                    "BillingCity": address.city or None,
                    "BillingState": address.region or None,
                    "BillingPostalCode": address.postcode or None,
                    "BillingCountry": country or None,
                    "VAT_Number__c": variant.vat_number or None,
                    "ExternalId__c": legacy,
                    "_stamp": created,
                },
            )
            records.insert_clean(
                tx,
                SCHEMA["Contact"],
                {
                    "FirstName": variant.first_name or None,
                    "LastName": variant.last_name or name or "Unknown",
                    "Email": variant.email or None,
                    "Phone": variant.phone or None,
                    "AccountId": account["Id"],
                    "MailingStreet": _street(address.line1, address.line2),
                    "MailingCity": address.city or None,
                    "MailingState": address.region or None,
                    "MailingPostalCode": address.postcode or None,
                    "MailingCountry": country or None,
                    "ExternalId__c": legacy,
                    "_stamp": created,
                },
            )
            truth.append(("customer", account["Id"], customer.entity_key))
            if customer.is_business and entries and rng.random() < 0.17:
                _open_opportunity(records, tx, rng, account, entries, standard["Id"], stamp())
    return truth


def _open_opportunity(records, tx, rng, account, entries, pricebook_id, created) -> None:
    opportunity = records.insert_clean(
        tx,
        SCHEMA["Opportunity"],
        {
            "Name": f"{account['Name']} - {rng.choice(['Spring', 'Autumn', 'Annual'])} order",
            "AccountId": account["Id"],
            "StageName": rng.choice(OPEN_STAGES),
            "CloseDate": (date.today() + timedelta(days=rng.randint(7, 120))).isoformat(),
            "Pricebook2Id": pricebook_id,
            "_stamp": created,
        },
    )
    for entry in rng.sample(entries, k=min(len(entries), rng.randint(1, 3))):
        records.insert_clean(
            tx,
            SCHEMA["OpportunityLineItem"],
            {
                "OpportunityId": opportunity["Id"],
                "PricebookEntryId": entry["Id"],
                "Quantity": str(rng.randint(1, 20)),
                "UnitPrice": str(Decimal(entry["UnitPrice"])),
                "_stamp": created,
            },
        )
