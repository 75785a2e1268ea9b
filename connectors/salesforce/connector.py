"""The Salesforce connector: canonical reads and writes over SalesforceClient and mapping.py.

Reads are incremental by `SystemModstamp`. A customer is an Account with its primary Contact
(fetched in the same query as a sub-query, so one request per page); a change to the Contact
alone does not touch the Account's SystemModstamp, so an incremental read also asks which
Contacts changed and re-reads their Accounts (one more query per 200). Products take their
price from the standard price book, one PricebookEntry query per 200 products, likewise
re-read when only the price changed. Won opportunities become canonical invoices.

Writes: customers are upserted by `ExternalId__c` (the golden / Kashflow code in
`custom_attributes["account_reference"]`): the Accounts in one batch, then their primary
Contacts (the existing primary Contact is updated and given the key; an Account without one
gets one by upsert). `is_own_change` tells a change event caused by the hub's own writes.

Options beyond the client's: `currency` ("GBP"), `vat_number_field` ("VAT_Number__c"; "" if
the org has none), `country_picklists` (false: write BillingCountry, true: BillingCountryCode),
`family_tax_classes` ({} : Product2 Family -> tax class, e.g. {"Books": "zero"}).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from connectors.base import Connector
from connectors.canonical import Customer, Invoice, Payment, Product
from connectors.errors import PermanentError
from connectors.models import Connection
from connectors.salesforce import mapping
from connectors.salesforce.batch import RecordError, RecordResult
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.queries import Queries

ALLOWANCE = re.compile(r"api-usage=(\d+)/(\d+)")
CLIENT_IN_ORIGIN = re.compile(r"client=([^;,\s]+)")


class SalesforceConnector(Connector):
    kind = "salesforce"
    incremental = True

    def __init__(self, connection: Connection):
        super().__init__(connection)
        options = connection.options or {}
        self.client = SalesforceClient(connection, self.session)
        self.source_system = connection.kind or self.kind
        self.currency = str(options.get("currency") or "GBP").upper()
        vat_field = options.get("vat_number_field", mapping.DEFAULT_VAT_FIELD)
        self.vat_field = str(vat_field or "")
        self.picklists = bool(options.get("country_picklists", False))
        self.family_tax_classes = dict(options.get("family_tax_classes") or {})
        self.queries = Queries(self.client, vat_field=self.vat_field, picklists=self.picklists)

    # The base contract ------------------------------------------------------------------
    def read_allowance(self, response) -> tuple[int, int] | None:
        """(used, limit) from `Sforce-Limit-Info: api-usage=N/M`."""
        match = ALLOWANCE.search(response.headers.get("Sforce-Limit-Info") or "")
        return (int(match.group(1)), int(match.group(2))) if match else None

    def read_one(self) -> str:
        self.client.login()
        page = self.client.query_page("SELECT Id FROM Account ORDER BY Id LIMIT 1")
        records = page.get("records") or []
        if not records:
            return "logged in; no accounts yet"
        return f"logged in; read account {records[0]['Id']}"

    def sample_payload(self, entity: str) -> dict:
        if entity == "customer":
            records = self.queries.accounts(limit=1)
        elif entity == "product":
            records = self.queries.products(limit=1)
        else:
            raise ValueError(f"Salesforce has no sample for {entity!r}")
        first = next(iter(records), None)
        return mapping.jsonable(first) if first else {}

    # Reads ------------------------------------------------------------------------------
    def customer_to_canonical(self, account: dict) -> Customer:
        customer = mapping.account_to_customer(
            account, source_system=self.source_system, vat_field=self.vat_field
        )
        customer.raw = mapping.jsonable(account)
        self.apply_field_mappings("customer", account, customer)
        return customer

    def product_to_canonical(self, product: dict) -> Product:
        canonical = mapping.product_to_canonical(
            product,
            product.get("UnitPrice"),
            source_system=self.source_system,
            currency=self.currency,
            family_tax_classes=self.family_tax_classes,
        )
        canonical.raw = mapping.jsonable(product)
        self.apply_field_mappings("product", product, canonical)
        return canonical

    def iter_customers(self, since: datetime | None = None) -> Iterator[Customer]:
        for account in self.queries.accounts(since):
            yield self.customer_to_canonical(account)

    def iter_products(self, since: datetime | None = None) -> Iterator[Product]:
        for product in self.queries.products(since):
            yield self.product_to_canonical(product)

    def iter_won_opportunities(self, since: datetime | None = None) -> Iterator[Invoice]:
        """Won opportunities changed since `since`, as canonical invoices to raise."""
        for opportunity in self.queries.won_opportunities(since):
            yield mapping.opportunity_to_invoice(
                opportunity,
                source_system=self.source_system,
                currency=self.currency,
                family_tax_classes=self.family_tax_classes,
            )

    def get_customer(self, account_id: str) -> Customer | None:
        account = self.queries.account(account_id)
        return self.customer_to_canonical(account) if account else None

    def find_customer(self, reference: str) -> Customer | None:
        """The customer whose Account carries this golden / Kashflow code."""
        found = self.client.find_by_external_id("Account", mapping.EXTERNAL_ID_FIELD, reference)
        return self.get_customer(found["Id"]) if found else None

    # Writes -----------------------------------------------------------------------------
    def upsert_customers(self, customers: list[Customer]) -> list[RecordResult]:
        """Upsert Accounts (and primary Contacts) by `ExternalId__c`; one result per customer.

        A customer without an account reference cannot be written idempotently and fails on
        its own with MISSING_ACCOUNT_REFERENCE."""
        results: list[RecordResult | None] = [None] * len(customers)
        keyed: list[tuple[int, Customer, str]] = []
        for index, customer in enumerate(customers):
            key = mapping.account_reference(customer)
            if key:
                keyed.append((index, customer, key))
            else:
                results[index] = RecordResult(
                    customer.external_id,
                    False,
                    errors=[
                        RecordError(
                            "MISSING_ACCOUNT_REFERENCE",
                            f"custom_attributes[{mapping.ACCOUNT_REFERENCE!r}] is empty",
                        )
                    ],
                )
        accounts = [
            mapping.customer_to_account(
                customer, vat_field=self.vat_field, picklists=self.picklists
            )
            for _, customer, _ in keyed
        ]
        account_results = self.client.upsert_many("Account", accounts, mapping.EXTERNAL_ID_FIELD)
        written = []
        for (index, customer, key), result in zip(keyed, account_results, strict=True):
            results[index] = result
            if result.success:
                written.append((customer, key, result))
        self._write_contacts(written)
        return [result for result in results if result is not None]

    def _write_contacts(self, written: list[tuple[Customer, str, RecordResult]]) -> None:
        """Primary Contacts of written Accounts; a failure is added to the customer's result."""
        wanted = [
            (customer, key, result)
            for customer, key, result in written
            if mapping.customer_to_contact(customer)
        ]
        existing = self.queries.primary_contacts([result.id for _, _, result in wanted])
        upserts, updates = [], []
        for customer, key, result in wanted:
            fields = mapping.customer_to_contact(customer, picklists=self.picklists)
            fields["AccountId"] = result.id
            contact = existing.get(result.id)
            if contact is None:
                upserts.append((result, fields))
            elif (
                not contact.get(mapping.EXTERNAL_ID_FIELD)
                or str(contact[mapping.EXTERNAL_ID_FIELD]).casefold() == key.casefold()
            ):
                fields.pop("AccountId")
                updates.append((result, contact["Id"], fields))
            # else: the primary contact belongs to another key; leave it alone.
        contact_results = self.client.upsert_many(
            "Contact", [fields for _, fields in upserts], mapping.EXTERNAL_ID_FIELD
        )
        for (result, _), contact_result in zip(upserts, contact_results, strict=True):
            self._merge_contact_result(result, contact_result)
        for result, contact_id, fields in updates:
            try:
                self.client.update("Contact", contact_id, fields)
            except PermanentError as exc:  # reported on the customer's result, not raised
                self._merge_contact_result(
                    result,
                    RecordResult(
                        result.key,
                        False,
                        errors=[RecordError(exc.code, exc.system_message or str(exc))],
                    ),
                )

    @staticmethod
    def _merge_contact_result(result: RecordResult, contact_result: RecordResult) -> None:
        if not contact_result.success:
            result.success = False
            result.errors += [
                RecordError(error.code, f"primary contact: {error.message}", error.fields)
                for error in contact_result.errors
            ]

    def upsert_customer(self, customer: Customer) -> RecordResult:
        """One customer; raises the record's error (DuplicateError, ValidationError...)."""
        result = self.upsert_customers([customer])[0]
        if not result.success:
            raise result.error()
        return result

    def mark_invoiced(self, opportunity_id: str, number: str, status: str) -> None:
        """Record the Kashflow invoice number and status on the Opportunity."""
        self.client.update(
            "Opportunity", opportunity_id, mapping.invoice_status_fields(number, status)
        )

    def record_payment(
        self, payment: Payment, *, opportunity_id: str = "", account_id: str = ""
    ) -> RecordResult:
        """Upsert a `Payment__c` by its Kashflow payment id (a retry never duplicates it)."""
        fields = mapping.payment_to_salesforce(
            payment, opportunity_id=opportunity_id, account_id=account_id
        )
        key = fields[mapping.PAYMENT_KEY_FIELD]
        return self.client.upsert_by_external_id(
            mapping.PAYMENT_OBJECT, mapping.PAYMENT_KEY_FIELD, key, fields
        )

    # Change events ----------------------------------------------------------------------
    def is_own_change(self, change_event_header: dict) -> bool:
        """True when a change event was caused by this hub's own write (its client id)."""
        origin = str((change_event_header or {}).get("changeOrigin") or "")
        match = CLIENT_IN_ORIGIN.search(origin)
        return bool(match) and match.group(1) == self.client.client_tag
