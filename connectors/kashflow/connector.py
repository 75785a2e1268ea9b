"""The Kashflow connector: canonical reads and the writes the flows need (customers, invoices,
payments), over KashflowClient and the mappings.

Kashflow has no "modified since" filter and no webhooks, so `incremental` is False: every
`iter_*` call is a full scan sorted by natural key and the caller compares fingerprints. The
`since` argument is accepted and ignored on purpose: filtering by LastUpdatedDate here would
hide unchanged records from a caller that notices deletions by their absence, and invoices and
products carry no timestamp at all.

Connection options read here (all optional): `default_nominal_code` (4000),
`default_payment_method` (id, Kashflow name or canonical method; BACS), `default_bank_account_id`
(else Kashflow's default account), `kashflow_invoice_prefix`, `kashflow_invoice_number_offset`,
`kashflow_payments` ("single" or "bulk"), `kashflow_per_page` (100), `kashflow_token_idle_s`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from connectors.base import Connector
from connectors.canonical import Customer, Invoice, Payment, Product
from connectors.errors import DuplicateError, ValidationError
from connectors.kashflow import invoice_mapping, mapping
from connectors.kashflow.client import KashflowClient
from connectors.models import Connection

logger = logging.getLogger(__name__)


class KashflowConnector(Connector):
    """Kashflow (accounting): the master of invoices, payments and stock."""

    kind = "kashflow"
    incremental = False

    def __init__(self, connection: Connection):
        super().__init__(connection)
        self.client = KashflowClient(connection, self.session)
        options = connection.options or {}
        self.default_nominal_code = options.get(
            "default_nominal_code", invoice_mapping.DEFAULT_NOMINAL_CODE
        )
        self.default_payment_method = options.get(
            "default_payment_method", invoice_mapping.DEFAULT_PAYMENT_METHOD
        )
        self.invoice_prefix = str(options.get("kashflow_invoice_prefix", "") or "")
        self.invoice_offset = int(options.get("kashflow_invoice_number_offset", 0) or 0)

    # Reads -----------------------------------------------------------------------------------
    def read_one(self) -> str:
        """Log in and read the first customer; describe it by code (no personal data)."""
        customers, total = self.client.first_page("customers", per_page=1)
        if not customers:
            return "logged in; no customers yet"
        customer = self.customer_to_canonical(customers[0])
        return f"logged in; read customer {customer.external_id} of {total}"

    def sample_payload(self, entity: str) -> dict:
        """The first customer or product as Kashflow sends it (field-mapping preview)."""
        items, _ = self.client.first_page(
            "customers" if entity == "customer" else "products", per_page=1
        )
        return {**items[0], "_sample_id": items[0].get("Code", "")} if items else {}

    def customer_to_canonical(self, payload: dict) -> Customer:
        customer = mapping.customer_to_canonical(payload, self.kind)
        customer.raw = payload  # shown to stewards on the cross-reference; never compared
        self.apply_field_mappings("customer", payload, customer)
        return customer

    def product_to_canonical(self, payload: dict) -> Product:
        product = mapping.product_to_canonical(payload, self.kind)
        product.raw = payload
        self.apply_field_mappings("product", payload, product)
        return product

    def iter_customers(self, since: datetime | None = None) -> Iterator[Customer]:
        """Every customer, sorted by Code (a full scan: `since` is ignored, see above)."""
        for payload in self.client.iter_customers():
            yield self.customer_to_canonical(payload)

    def iter_products(self, since: datetime | None = None) -> Iterator[Product]:
        """Every product, sorted by Code (a full scan: `since` is ignored, see above)."""
        for payload in self.client.iter_products():
            yield self.product_to_canonical(payload)

    def iter_invoices(self, since: datetime | None = None) -> Iterator[Invoice]:
        """Every invoice as a summary (no lines), sorted by Number."""
        for payload in self.client.iter_invoices():
            yield invoice_mapping.invoice_to_canonical(payload, self.kind)

    def get_customer(self, code: str) -> Customer:
        return self.customer_to_canonical(self.client.get_customer(code))

    def get_invoice(self, number: str | int) -> Invoice:
        """One invoice with its lines, by Kashflow Number."""
        return invoice_mapping.invoice_to_canonical(self.client.get_invoice(number), self.kind)

    # Writes ----------------------------------------------------------------------------------
    def upsert_customer(self, customer: Customer) -> str:
        """Create or update the customer in Kashflow; returns its Code.

        The Code is the record's own (a Kashflow record), its account reference, or one
        generated deterministically from its source identity, so a retry finds what an
        earlier attempt created. An update sends only what changes, never blanks a field, and
        sends nothing at all when nothing changes (so Kashflow's LastUpdatedDate stays put).
        """
        code = mapping.customer_code(customer, self.kind)
        wanted = mapping.customer_from_canonical(customer, code)
        existing = self.client.find_customer(code)
        if existing is None:
            created = self.client.create_customer(wanted)
            logger.info("connection=%s created customer %s", self.connection.name, code)
            return str(created["Code"])
        changes = mapping.merge_customer_update(existing, wanted)
        if changes:
            self.client.update_customer(existing["Code"], changes)
            logger.info(
                "connection=%s updated customer %s (%s)",
                self.connection.name,
                existing["Code"],
                ", ".join(sorted(changes)),
            )
        return str(existing["Code"])

    def kashflow_invoice_number(self, number: str) -> int | None:
        """The Kashflow Number a canonical invoice number maps to (see mapping)."""
        return invoice_mapping.kashflow_invoice_number(
            number, self.invoice_prefix, self.invoice_offset
        )

    def create_invoice(self, invoice: Invoice, customer_code: str) -> str:
        """Create the invoice for a Kashflow customer; returns its Kashflow Number.

        Idempotent: an invoice already holding the Number (or, without a number, the same
        CustomerReference) for this customer is returned, not duplicated. The same Number
        on another customer's invoice is a DuplicateError, never silently linked.
        """
        payload = invoice_mapping.invoice_from_canonical(
            invoice,
            customer_code,
            default_nominal_code=self.default_nominal_code,
            number_prefix=self.invoice_prefix,
            number_offset=self.invoice_offset,
        )
        existing = self._existing_invoice(payload)
        if existing is None:
            try:
                existing = self.client.create_invoice(payload)
                logger.info(
                    "connection=%s created invoice %s",
                    self.connection.name,
                    existing.get("Number"),
                )
            except DuplicateError:
                # Created by a concurrent worker between our lookup and our create.
                existing = self._existing_invoice(payload)
                if existing is None:
                    raise
        self._check_same_customer(existing, customer_code)
        return str(existing["Number"])

    def _existing_invoice(self, payload: dict) -> dict | None:
        if payload.get("Number"):
            return self.client.find_invoice(payload["Number"])
        reference = payload.get("CustomerReference")
        if reference:
            for summary in self.client.find_invoices_by_reference(reference):
                if summary.get("CustomerCode", "").upper() == payload["CustomerCode"].upper():
                    return summary
        return None

    def _check_same_customer(self, existing: dict, customer_code: str) -> None:
        if str(existing.get("CustomerCode", "")).upper() != customer_code.upper():
            raise DuplicateError(
                f"Kashflow invoice {existing.get('Number')} already exists for customer "
                f"{existing.get('CustomerCode')}, not {customer_code}; set the connection's "
                "kashflow_invoice_number_offset to keep these numbers apart",
                code="DuplicateInvoiceNumber",
                connection=self.connection.name,
            )

    def record_payment(self, payment: Payment, invoice_number: str | int | None = None) -> str:
        """Record money received against a Kashflow invoice; returns the payment's Id.

        `invoice_number` is the Kashflow Number when the caller has it (create_invoice
        returns it); otherwise `payment.invoice_number` goes through the same Number rule as
        invoices. Idempotent: a payment with the same Note and Amount on the invoice is
        returned, not added again.
        """
        number = (
            int(invoice_number)
            if invoice_number not in (None, "")
            else self.kashflow_invoice_number(payment.invoice_number)
        )
        if number is None:
            raise ValidationError(
                f"payment {payment.external_id} names no invoice",
                connection=self.connection.name,
            )
        account_id = (
            self.connection.options.get("default_bank_account_id")
            or self.client.default_bank_account_id()
        )
        body = invoice_mapping.payment_from_canonical(
            payment, default_method=self.default_payment_method, account_id=account_id
        )
        existing = self.client.find_invoice_payment(number, body["Note"], body["Amount"])
        if existing is None:
            existing = self.client.add_invoice_payment(number, body)
            logger.info(
                "connection=%s recorded a payment on invoice %s", self.connection.name, number
            )
        return str(existing.get("Id", ""))
