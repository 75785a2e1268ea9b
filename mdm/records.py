"""Canonical dataclasses <-> the flat attribute dicts stored on source records."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import orjson

from connectors.canonical import Address, Customer, Product

ADDRESS_PARTS = ("line1", "line2", "city", "region", "postcode", "country")


def _address_attributes(prefix: str, address: Address) -> dict:
    lines = [line.strip() for line in address.lines if line and line.strip()]
    return {
        f"{prefix}_line1": lines[0] if lines else "",
        f"{prefix}_line2": ", ".join(lines[1:]),
        f"{prefix}_city": address.city.strip(),
        f"{prefix}_region": address.region.strip(),
        f"{prefix}_postcode": address.postcode.strip(),
        f"{prefix}_country": (address.country or "").strip().upper(),
    }


def customer_attributes(customer: Customer) -> dict:
    """The flat attributes of a canonical customer, named like the golden record's fields."""
    return {
        "company_name": customer.company_name.strip(),
        "first_name": customer.first_name.strip(),
        "last_name": customer.last_name.strip(),
        "email": customer.email.strip(),
        "phone": customer.phone.strip(),
        **_address_attributes("billing", customer.billing_address),
        **_address_attributes("shipping", customer.shipping_address),
        "vat_number": customer.vat_number.strip(),
        "custom_attributes": _jsonable(customer.custom_attributes),
    }


def product_attributes(product: Product) -> dict:
    """The flat attributes of a canonical product; Decimals are kept as strings."""
    return {
        "sku": product.sku.strip(),
        "name": product.name.strip(),
        "description": product.description.strip(),
        "unit_price": None if product.unit_price is None else str(product.unit_price),
        "currency": product.currency.strip().upper(),
        "tax_code": product.tax_code.strip(),
        "stock": None if product.stock is None else str(product.stock),
        "active": bool(product.active),
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def fingerprint(attributes: dict) -> str:
    """A stable hash of the attributes: equal attributes, equal fingerprint.

    The hash is of `json.dumps(..., sort_keys=True, separators=(",", ":"))`, which stored
    fingerprints were made with. For flat text (every customer, most products) orjson writes
    the same bytes when they are ASCII, in a third of the time (4.7 vs 14.4 µs a customer
    with its empty `custom_attributes`); anything else takes the slow road.
    """
    if all(_plain(value) for value in attributes.values()):
        try:
            encoded = orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # a key that is not text
            encoded = b""
        if encoded and encoded.isascii() and b"\x7f" not in encoded:  # json escapes DEL
            return hashlib.sha256(encoded).hexdigest()
    encoded = json.dumps(_jsonable(attributes), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


_PLAIN = frozenset({str, bool, type(None)})


def _plain(value) -> bool:
    """Text, a flag or nothing, or a dict or list of them (a customer's empty
    `custom_attributes`): orjson and json write these alike."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind is dict:
        return all(type(key) is str and _plain(item) for key, item in value.items())
    if kind is list:
        return all(_plain(item) for item in value)
    return False


def aware_utc(moment: datetime | None) -> datetime | None:
    """An aware UTC datetime (naive input is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
