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
    source_modified_at: datetime | None = None
