"""Kashflow payloads <-> canonical records: customers and products, and shared helpers.

Pure functions over dicts and dataclasses; no HTTP, no database (invoices and payments are in
invoice_mapping.py). Rules worth knowing:

- Customers: `Code` is the external id and also `custom_attributes["account_reference"]` (the
  key other systems store, e.g. Salesforce `ExternalId__c`). `Name` is the company, unless it is
  just the primary contact's full name, in which case the customer is a person. Contact details
  come from the primary contact (`IsPrimaryContact`, else the first), falling back to the
  customer's own `Email` / `TelephoneNumber` / `MobileNumber`. Addresses follow the emulator's
  documented convention: Line1-2 street, Line3 town, Line4 county / state; street lines beyond
  two are joined into Line2 with ", " so nothing is lost and Kashflow's four lines suffice.
- A customer without a Kashflow code gets a deterministic one (`ACMELTD-3F2A9C`: up to eight
  letters of the name and six hex digits of a hash of its source identity), so a retried create
  looks up the same code it tried before and can never create a second customer.
- Money, rates and quantities are Decimal end to end, never float.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from connectors.canonical import Address, Customer, Product
from connectors.transforms import join_name, parse_datetime, street_lines, to_decimal

SOURCE_SYSTEM = "kashflow"
HOME_CURRENCY = "GBP"
STREET_LINES = 2  # Line1-2; Line3 is the town and Line4 the county, four lines in all
CODE_MAX_LENGTH = 20

# Kashflow uses ISO 3166 alpha-2 except for a few older conventions.
COUNTRY_ALIASES = {"UK": "GB", "EL": "GR"}
TAX_CODES = {Decimal("20"): "standard", Decimal("5"): "reduced", Decimal("0"): "zero"}


def pick(payload: dict | None, *names: str, default=None):
    """A value by key, case-insensitively (Kashflow is PascalCase, some clients send lower)."""
    if not payload:
        return default
    for name in names:
        if name in payload:
            return payload[name]
    lowered = {key.lower(): value for key, value in payload.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return default


def as_text(value) -> str:
    """A value as stripped text ("" for None)."""
    return "" if value is None else str(value).strip()


# Addresses ---------------------------------------------------------------------------------
def address_to_canonical(payload: dict | None) -> Address:
    """A Kashflow address object (Line1-2 street, Line3 town, Line4 county) as an Address."""
    if not payload:
        return Address()
    country = as_text(pick(payload, "CountryCode")).upper()
    return Address(
        lines=street_lines([as_text(pick(payload, "Line1")), as_text(pick(payload, "Line2"))]),
        city=as_text(pick(payload, "Line3")),
        region=as_text(pick(payload, "Line4")),
        postcode=as_text(pick(payload, "PostCode", "Postcode")),
        country=COUNTRY_ALIASES.get(country, country),
    )


def address_from_canonical(address: Address) -> dict:
    """An Address in Kashflow's four lines; surplus street lines are joined into Line2."""
    lines = street_lines(address.lines, max_lines=STREET_LINES)
    lines += [""] * (STREET_LINES - len(lines))
    return {
        "Line1": lines[0],
        "Line2": lines[1],
        "Line3": address.city,
        "Line4": address.region,
        "PostCode": address.postcode,
        "CountryCode": address.country.upper(),
    }


# Customers ---------------------------------------------------------------------------------
def primary_contact(payload: dict) -> dict:
    contacts = [c for c in (pick(payload, "Contacts") or []) if isinstance(c, dict)]
    for contact in contacts:
        if pick(contact, "IsPrimaryContact") is True:
            return contact
    return contacts[0] if contacts else {}


def customer_to_canonical(payload: dict, source_system: str = SOURCE_SYSTEM) -> Customer:
    """A Kashflow customer (list item or single record) as a canonical Customer."""
    code = as_text(pick(payload, "Code"))
    name = as_text(pick(payload, "Name"))
    contact = primary_contact(payload)
    first_name = as_text(pick(contact, "FirstName"))
    last_name = as_text(pick(contact, "LastName"))
    person = join_name(first_name, last_name)
    is_person = bool(person) and person.casefold() == name.casefold()
    addresses = pick(payload, "Addresses") or [None]
    deliveries = pick(payload, "DeliveryAddresses") or [None]
    return Customer(
        source_system=source_system,
        external_id=code,
        company_name="" if is_person else name,
        first_name=first_name,
        last_name=last_name,
        email=as_text(pick(contact, "Email")) or as_text(pick(payload, "Email")),
        phone=as_text(pick(contact, "Telephone"))
        or as_text(pick(payload, "TelephoneNumber"))
        or as_text(pick(contact, "Mobile"))
        or as_text(pick(payload, "MobileNumber")),
        billing_address=address_to_canonical(addresses[0]),
        shipping_address=address_to_canonical(deliveries[0]),
        vat_number=as_text(pick(payload, "VATNumber", "VatNumber")),
        custom_attributes={"account_reference": code} if code else {},
        source_modified_at=parse_datetime(pick(payload, "LastUpdatedDate")),
    )


def generate_customer_code(name: str, identity: str) -> str:
    """A valid, deterministic Kashflow code: the name's letters and a hash of the identity."""
    stem = re.sub(r"[^A-Z0-9]", "", (name or "").upper())[:8] or "CUST"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:6].upper()
    return f"{stem}-{digest}"


def customer_code(customer: Customer, source_system: str = SOURCE_SYSTEM) -> str:
    """The Kashflow Code for a canonical customer: its own, its account reference, or a new one.

    The generated code depends only on the record's source identity, so every retry of the same
    customer asks Kashflow for the same code.
    """
    if customer.source_system == source_system and customer.external_id:
        return customer.external_id.upper()
    reference = as_text(customer.custom_attributes.get("account_reference"))
    if reference and re.fullmatch(r"[A-Za-z0-9\-_.]{1,20}", reference):
        return reference.upper()
    return generate_customer_code(
        customer_name(customer), f"{customer.source_system}:{customer.external_id}"
    )


def customer_name(customer: Customer) -> str:
    """Kashflow's required Name: the company, else the person, else the email."""
    return (
        customer.company_name.strip()
        or join_name(customer.first_name, customer.last_name)
        or customer.email.strip()
    )


def customer_from_canonical(customer: Customer, code: str | None = None) -> dict:
    """A Kashflow customer body (create or full update) from a canonical Customer."""
    payload: dict = {
        "Code": code or customer_code(customer),
        "Name": customer_name(customer) or code or "",
        "Email": customer.email,
        "TelephoneNumber": customer.phone,
        "VATNumber": customer.vat_number,
        "Contacts": [],
        "Addresses": [],
        "DeliveryAddresses": [],
    }
    if customer.first_name or customer.last_name:
        payload["Contacts"] = [
            {
                "FirstName": customer.first_name,
                "LastName": customer.last_name,
                "Email": customer.email,
                "Telephone": customer.phone,
                "IsPrimaryContact": True,
            }
        ]
    if not customer.billing_address.is_empty():
        payload["Addresses"] = [address_from_canonical(customer.billing_address)]
    if not customer.shipping_address.is_empty():
        payload["DeliveryAddresses"] = [address_from_canonical(customer.shipping_address)]
        # Compared as Kashflow holds them: ["a", ""] and ["a"] are the same address.
        payload["UseCustomDeliveryAddress"] = payload["DeliveryAddresses"] != payload["Addresses"]
    return payload


def merge_customer_update(existing: dict, wanted: dict) -> dict:
    """The fields of `wanted` that would change `existing`, merged so nothing else is lost.

    Blank values never clear what Kashflow holds (blank means "not known" in a golden record);
    the primary contact is updated in place and the first address replaced as a whole, other
    contacts and addresses are kept. Email and phone go where they were read from: the primary
    contact when it has them, the customer's own fields otherwise. An empty result means there
    is nothing to send.
    """
    changes: dict = {}
    contact = primary_contact(existing)
    for key in ("Name", "Email", "TelephoneNumber", "VATNumber", "UseCustomDeliveryAddress"):
        value = wanted.get(key)
        contact_key = {"Email": "Email", "TelephoneNumber": "Telephone"}.get(key)
        if contact_key and as_text(pick(contact, contact_key)) and as_text(pick(existing, key)):
            continue  # the canonical value was read from the contact; the customer's stays
        if value not in (None, "") and value != pick(existing, key):
            changes[key] = value
    for key in ("Contacts", "Addresses", "DeliveryAddresses"):
        new_items = wanted.get(key) or []
        if not new_items:
            continue
        old_items = [dict(item) for item in (pick(existing, key) or [])]
        index = 0
        if key == "Contacts":
            index = next(
                (i for i, item in enumerate(old_items) if pick(item, "IsPrimaryContact") is True),
                0,
            )
        old = old_items[index] if old_items else {}
        if key == "Contacts":
            merged = {**old, **{k: v for k, v in new_items[0].items() if v not in (None, "")}}
        else:
            # An address is replaced whole: after a move, the old Line2 must not survive.
            merged = {**old, **new_items[0]}
        if merged != old:
            if old_items:
                old_items[index] = merged
            else:
                old_items = [merged]
            changes[key] = old_items
    return changes


# Products ----------------------------------------------------------------------------------
def tax_code_for(rate: Decimal | None, exempt: bool = False) -> str:
    """Kashflow's VATRate (percent) as a tax class: standard / reduced / zero, else the rate."""
    if exempt:
        return "zero"
    if rate is None:
        return ""
    return TAX_CODES.get(rate.normalize() if rate else Decimal("0"), f"{rate.normalize():f}")


def vat_rate_for(tax_code: str) -> Decimal:
    """The VATRate of a tax class written by tax_code_for (a number is taken as it is)."""
    by_name = {name: rate for rate, name in TAX_CODES.items()}
    if tax_code in by_name:
        return by_name[tax_code]
    try:
        return to_decimal(tax_code, Decimal("20"))
    except ValueError:
        return Decimal("20")


def product_to_canonical(payload: dict, source_system: str = SOURCE_SYSTEM) -> Product:
    """A Kashflow product as a canonical Product; stock only when Kashflow manages it."""
    code = as_text(pick(payload, "Code"))
    managed = pick(payload, "ManageStockLevel") is True
    return Product(
        source_system=source_system,
        external_id=code,
        sku=code,
        name=as_text(pick(payload, "Name")),
        description=as_text(pick(payload, "Description")),
        unit_price=to_decimal(pick(payload, "Price")),
        currency=HOME_CURRENCY,
        tax_code=tax_code_for(
            to_decimal(pick(payload, "VATRate")), pick(payload, "VATExempt") is True
        ),
        stock=to_decimal(pick(payload, "QuantityInStock")) if managed else None,
        active=pick(payload, "InUse", default=True) is not False,
    )


def product_from_canonical(product: Product) -> dict:
    """A Kashflow product body from a canonical Product (Code = SKU)."""
    payload: dict = {
        "Code": product.sku or product.external_id,
        "Name": product.name,
        "Description": product.description,
        "VATRate": vat_rate_for(product.tax_code or "standard"),
        "VATExempt": product.tax_code == "exempt",
        "InUse": product.active,
    }
    if product.unit_price is not None:
        payload["Price"] = product.unit_price
    if product.stock is not None:
        payload.update(ManageStockLevel=True, QuantityInStock=product.stock)
    return payload
