"""Canonical business types shared by the connectors, the flows and the MDM.

Connectors translate each system's payloads into these plain dataclasses and back; the MDM and
the flows only ever see canonical data. No system names live here: `source_system` is a label
chosen by the connector (the Connection's kind), `external_id` the system's own id as a string.
Money is `Decimal`, times are aware UTC `datetime`s, countries are ISO 3166-1 alpha-2 codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass
class Address:
    """A postal address; `lines` holds the street lines in order, the rest is structured."""

    lines: list[str] = field(default_factory=list)
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""  # ISO 3166-1 alpha-2, upper case ("GB", "US", "IE")

    def is_empty(self) -> bool:
        return not (any(self.lines) or self.city or self.region or self.postcode)


@dataclass
class Customer:
    """A customer (a business or a person) as one source system knows it."""

    source_system: str
    external_id: str
    company_name: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    billing_address: Address = field(default_factory=Address)
    shipping_address: Address = field(default_factory=Address)
    vat_number: str = ""
    custom_attributes: dict[str, object] = field(default_factory=dict)
    source_modified_at: datetime | None = None
    # The system's own payload, kept on the cross-reference for stewards; not compared.
    raw: dict | None = field(default=None, repr=False, compare=False)


@dataclass
class Product:
    """A sellable product as one source system knows it."""

    source_system: str
    external_id: str
    sku: str = ""
    name: str = ""
    description: str = ""
    unit_price: Decimal | None = None
    currency: str = ""  # ISO 4217, upper case
    tax_code: str = ""
    stock: Decimal | None = None
    active: bool = True
    custom_attributes: dict[str, object] = field(default_factory=dict)
    source_modified_at: datetime | None = None
    raw: dict | None = field(default=None, repr=False, compare=False)


@dataclass
class InvoiceLine:
    """One line of an invoice: quantity x unit price (net), with the VAT rate in percent."""

    description: str = ""
    sku: str = ""
    quantity: Decimal = Decimal("1")
    unit_price: Decimal = Decimal("0")
    vat_rate: Decimal = Decimal("0")
    nominal_code: str = ""

    @property
    def net_amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))

    @property
    def vat_amount(self) -> Decimal:
        return (self.net_amount * self.vat_rate / 100).quantize(Decimal("0.01"))


class InvoiceStatus:
    """Canonical invoice states (plain strings so the type stays a simple dataclass field)."""

    DRAFT = "draft"
    UNPAID = "unpaid"
    PAID = "paid"
    CANCELLED = "cancelled"


@dataclass
class Invoice:
    """A sales invoice (or the order it comes from) with its lines."""

    source_system: str
    external_id: str
    number: str = ""
    customer_external_id: str = ""
    customer_email: str = ""
    issued_on: datetime | None = None
    due_on: datetime | None = None
    currency: str = ""
    status: str = InvoiceStatus.UNPAID
    lines: list[InvoiceLine] = field(default_factory=list)
    billing_address: Address = field(default_factory=Address)
    reference: str = ""  # the customer's or the source system's reference
    source_modified_at: datetime | None = None

    @property
    def net_amount(self) -> Decimal:
        return sum((line.net_amount for line in self.lines), Decimal("0"))

    @property
    def vat_amount(self) -> Decimal:
        return sum((line.vat_amount for line in self.lines), Decimal("0"))

    @property
    def gross_amount(self) -> Decimal:
        return self.net_amount + self.vat_amount


@dataclass
class Payment:
    """Money received against an invoice."""

    source_system: str
    external_id: str
    invoice_number: str = ""
    amount: Decimal = Decimal("0")
    currency: str = ""
    paid_on: datetime | None = None
    method: str = ""  # e.g. "card", "bank_transfer", "paypal"
    reference: str = ""  # the payment provider's transaction id
    source_modified_at: datetime | None = None


@dataclass
class StockLevel:
    """How many of a product are on hand at one location."""

    source_system: str
    sku: str
    quantity: Decimal = Decimal("0")
    location: str = "default"
    source_modified_at: datetime | None = None


@dataclass
class CreditNote:
    """A refund against an invoice, with the lines refunded."""

    source_system: str
    external_id: str
    invoice_number: str = ""
    reason: str = ""
    lines: list[InvoiceLine] = field(default_factory=list)
    amount: Decimal = Decimal("0")  # the gross amount refunded
    issued_on: datetime | None = None
    source_modified_at: datetime | None = None
