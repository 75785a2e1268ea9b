"""Business rules of the sandbox org's price books and opportunity products.

PricebookEntry: one entry per (price book, product) (`DUPLICATE_VALUE`), and a custom price
book entry needs a standard price first (`STANDARD_PRICE_NOT_DEFINED`, LIKELY platform rule).
OpportunityLineItem: on create supply UnitPrice or TotalPrice, not both and not neither
(`FIELD_INTEGRITY_EXCEPTION`, LIKELY wording); the entry must be in the opportunity's price
book; Subtotal = Quantity x UnitPrice, TotalPrice = Subtotal less Discount %, ListPrice from
the entry. Money is Decimal, stored as strings with two places.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.salesforce.sandbox.wire import ApiError

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.records import Records


def derive_price_book_entry(records: Records, doc: dict, current: dict | None) -> None:
    """Name and code from the product; one entry per (price book, product); standard first."""
    product = records.get("Product2", doc["Product2Id"])
    pricebook = records.get("Pricebook2", doc["Pricebook2Id"])
    doc["Name"], doc["ProductCode"] = product["Name"], product.get("ProductCode")
    if current is not None:
        return
    for other in records.live("PricebookEntry"):
        if (other["Pricebook2Id"], other["Product2Id"]) == (
            doc["Pricebook2Id"],
            doc["Product2Id"],
        ):
            raise ApiError(
                400,
                "DUPLICATE_VALUE",
                "This price definition already exists in this price book",
                [],
            )
    if not pricebook.get("IsStandard") and not any(
        other["Product2Id"] == doc["Product2Id"]
        and records.get("Pricebook2", other["Pricebook2Id"]).get("IsStandard")
        for other in records.live("PricebookEntry")
    ):
        raise ApiError(
            400,
            "STANDARD_PRICE_NOT_DEFINED",
            "No standard price defined for this product",
            [],
        )


def derive_line_item(records: Records, doc: dict, current: dict | None) -> None:
    """Prices of an opportunity product: UnitPrice xor TotalPrice on create, totals derived."""
    entry = records.get("PricebookEntry", doc["PricebookEntryId"])
    opportunity = records.get("Opportunity", doc["OpportunityId"])
    if current is None:
        if doc.get("UnitPrice") is not None and doc.get("TotalPrice") is not None:
            raise ApiError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: TotalPrice (you cannot specify both unit price"
                " and total price)",
                ["TotalPrice"],
            )
        if doc.get("UnitPrice") is None and doc.get("TotalPrice") is None:
            raise ApiError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: unknown (must specify either UnitPrice or TotalPrice)",
                ["UnitPrice"],
            )
        pricebook_id = opportunity.get("Pricebook2Id")
        if pricebook_id and pricebook_id != entry["Pricebook2Id"]:
            raise ApiError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook entry is in a"
                " different pricebook than the one assigned to the opportunity)",
                ["PricebookEntryId"],
            )
    quantity = Decimal(doc["Quantity"])
    if quantity == 0:
        raise ApiError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            "field integrity exception: Quantity (quantity must be nonzero)",
            ["Quantity"],
        )
    total_given = doc.get("TotalPrice") is not None and (
        current is None or doc.get("TotalPrice") != current.get("TotalPrice")
    )
    if total_given and (current is None or doc.get("UnitPrice") == current.get("UnitPrice")):
        unit = Decimal(doc["TotalPrice"]) / quantity
        doc["UnitPrice"] = str(unit.quantize(Decimal("0.01")))
    unit = Decimal(doc["UnitPrice"])
    discount = Decimal(doc.get("Discount") or 0)
    subtotal = (quantity * unit).quantize(Decimal("0.01"))
    doc["Subtotal"] = str(subtotal)
    doc["TotalPrice"] = str((subtotal * (100 - discount) / 100).quantize(Decimal("0.01")))
    doc["ListPrice"] = entry["UnitPrice"]
    doc["Product2Id"] = entry["Product2Id"]
    doc["ProductCode"] = entry.get("ProductCode")
    doc["Name"] = f"{opportunity['Name']} {entry['Name']}"[:255]
