"""The SOQL the connector runs: Accounts with their primary Contact, Products with prices, won
Opportunities with line items, each incremental by SystemModstamp.

No N+1: the primary Contact comes in the Account query as a sub-query (the oldest Contact of
the Account); prices come from one PricebookEntry query per 200 products. A change to a child
alone (a Contact, a price) does not move its parent's SystemModstamp, so an incremental read
also asks which children changed since the watermark and re-reads those parents, 200 per
query, skipping the ones already read.
"""

# SOQL is built from constant field names; every value goes through soql_string/soql_datetime.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.mapping import EXTERNAL_ID_FIELD, soql_datetime, soql_string

IN_CHUNK = 200
ADDRESS_PARTS = ("Street", "City", "State", "PostalCode", "Country")
CONTACT_FIELDS = (
    "Id", "FirstName", "LastName", "Email", "Phone", "MobilePhone", EXTERNAL_ID_FIELD,
    "SystemModstamp",
)  # fmt: skip
PRODUCT_FIELDS = (
    "Id", "Name", "ProductCode", "StockKeepingUnit", "Description", "Family", "IsActive",
    EXTERNAL_ID_FIELD, "SystemModstamp",
)  # fmt: skip
LINE_ITEM_FIELDS = (
    "Id", "ProductCode", "Name", "Description", "Quantity", "UnitPrice", "TotalPrice",
    "Discount", "SortOrder", "Product2.Family",
)  # fmt: skip
OPPORTUNITY_FIELDS = (
    "Id", "Name", "AccountId", "StageName", "CloseDate", "Amount", "IsWon",
    "Kashflow_Invoice_Number__c", "Kashflow_Invoice_Status__c", "SystemModstamp",
    "Account.Name", "Account.ExternalId__c",
)  # fmt: skip


def chunks(values: list, size: int = IN_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(soql_string(value) for value in values) + ")"


def address_fields(prefix: str, picklists: bool) -> list[str]:
    fields = [f"{prefix}{part}" for part in ADDRESS_PARTS]
    return fields + ([f"{prefix}StateCode", f"{prefix}CountryCode"] if picklists else [])


class Queries:
    def __init__(self, client: SalesforceClient, *, vat_field: str = "", picklists: bool = False):
        self.client = client
        self.picklists = picklists
        extra = list(client.connection.options.get("account_extra_fields") or [])
        self.account_fields = [
            "Id", "Name", "AccountNumber", "Phone", "Website", "Type", "Industry",
            *address_fields("Billing", picklists), *address_fields("Shipping", picklists),
            EXTERNAL_ID_FIELD, *([vat_field] if vat_field else []), "SystemModstamp", *extra,
        ]  # fmt: skip
        self._standard_pricebook: str | None = None

    # Accounts ---------------------------------------------------------------------------
    def _account_soql(self, where: str = "", limit: int | None = None) -> str:
        contacts = (
            f"(SELECT {', '.join(CONTACT_FIELDS)} FROM Contacts "
            "ORDER BY CreatedDate ASC, Id ASC LIMIT 1)"
        )
        soql = f"SELECT {', '.join(self.account_fields)}, {contacts} FROM Account"
        if where:
            soql += f" WHERE {where}"
        soql += " ORDER BY SystemModstamp ASC, Id ASC"
        return soql + (f" LIMIT {int(limit)}" if limit else "")

    def accounts(self, since: datetime | None = None, limit: int | None = None) -> Iterator[dict]:
        """Accounts (each with a `Contacts` sub-query of its primary Contact) changed since."""
        where = f"SystemModstamp > {soql_datetime(since)}" if since else ""
        seen: set[str] = set()
        for account in self.client.query_iter(self._account_soql(where, limit)):
            seen.add(account["Id"])
            yield account
        if since is None:
            return
        changed = self._ids(
            f"SELECT Id, AccountId FROM Contact WHERE SystemModstamp > {soql_datetime(since)} "
            "AND AccountId != null",
            "AccountId",
        )
        for group in chunks([account_id for account_id in changed if account_id not in seen]):
            yield from self.client.query_iter(self._account_soql(f"Id IN {in_list(group)}"))

    def account(self, account_id: str) -> dict | None:
        return self.client.query_first(self._account_soql(f"Id = {soql_string(account_id)}"))

    def primary_contacts(self, account_ids: list[str]) -> dict[str, dict]:
        """{Account Id: its primary (oldest) Contact} for the accounts that have one."""
        found: dict[str, dict] = {}
        for group in chunks(sorted(set(account_ids))):
            soql = (
                f"SELECT Id, AccountId, {EXTERNAL_ID_FIELD} FROM Contact "
                f"WHERE AccountId IN {in_list(group)} ORDER BY CreatedDate ASC, Id ASC"
            )
            for contact in self.client.query_iter(soql):
                found.setdefault(contact["AccountId"], contact)
        return found

    # Products ---------------------------------------------------------------------------
    def standard_pricebook(self) -> str | None:
        if self._standard_pricebook is None:
            first = self.client.query_first(
                "SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1"
            )
            self._standard_pricebook = first["Id"] if first else ""
        return self._standard_pricebook or None

    def _product_soql(self, where: str = "", limit: int | None = None) -> str:
        soql = f"SELECT {', '.join(PRODUCT_FIELDS)} FROM Product2"
        if where:
            soql += f" WHERE {where}"
        soql += " ORDER BY SystemModstamp ASC, Id ASC"
        return soql + (f" LIMIT {int(limit)}" if limit else "")

    def _with_prices(self, products: Iterator[dict]) -> Iterator[dict]:
        """Products with `UnitPrice` from the standard price book, one query per 200."""
        batch: list[dict] = []
        for product in products:
            batch.append(product)
            if len(batch) == IN_CHUNK:
                yield from self._price(batch)
                batch = []
        if batch:
            yield from self._price(batch)

    def _price(self, products: list[dict]) -> list[dict]:
        pricebook = self.standard_pricebook()
        prices = {}
        if pricebook:
            soql = (
                "SELECT Id, Product2Id, UnitPrice FROM PricebookEntry WHERE Pricebook2Id = "
                f"{soql_string(pricebook)} AND Product2Id IN "
                f"{in_list(product['Id'] for product in products)}"
            )
            prices = {
                entry["Product2Id"]: entry["UnitPrice"] for entry in self.client.query_iter(soql)
            }
        for product in products:
            product["UnitPrice"] = prices.get(product["Id"])
        return products

    def products(self, since: datetime | None = None, limit: int | None = None) -> Iterator[dict]:
        """Product2 records (with the standard `UnitPrice` merged in) changed since."""
        where = f"SystemModstamp > {soql_datetime(since)}" if since else ""
        seen: set[str] = set()
        for product in self._with_prices(self.client.query_iter(self._product_soql(where, limit))):
            seen.add(product["Id"])
            yield product
        if since is None or not self.standard_pricebook():
            return
        changed = self._ids(
            "SELECT Id, Product2Id FROM PricebookEntry WHERE Pricebook2Id = "
            f"{soql_string(self.standard_pricebook())} AND SystemModstamp > "
            f"{soql_datetime(since)}",
            "Product2Id",
        )
        for group in chunks([product_id for product_id in changed if product_id not in seen]):
            query = self._product_soql(f"Id IN {in_list(group)}")
            yield from self._with_prices(self.client.query_iter(query))

    # Opportunities ----------------------------------------------------------------------
    def won_opportunities(self, since: datetime | None = None) -> Iterator[dict]:
        """Won Opportunities with their line items and the Account's billing address."""
        account_address = [f"Account.{name}" for name in address_fields("Billing", self.picklists)]
        lines = (
            f"(SELECT {', '.join(LINE_ITEM_FIELDS)} FROM OpportunityLineItems "
            "ORDER BY SortOrder ASC, Id ASC)"
        )
        where = "IsWon = true"
        if since:
            where += f" AND SystemModstamp > {soql_datetime(since)}"
        soql = (
            f"SELECT {', '.join([*OPPORTUNITY_FIELDS, *account_address])}, {lines} "
            f"FROM Opportunity WHERE {where} ORDER BY SystemModstamp ASC, Id ASC"
        )
        return self.client.query_iter(soql)

    def _ids(self, soql: str, field: str) -> list[str]:
        """The distinct values of a reference field, in the order first seen."""
        ids: dict[str, None] = {}
        for record in self.client.query_iter(soql):
            if record.get(field):
                ids.setdefault(record[field], None)
        return list(ids)
