"""Small builders for canonical records used across the MDM tests."""

from datetime import UTC, datetime

from connectors.canonical import Address, Customer, Product


def person(system="crm", external_id="1", first="William", last="Smith", **extra) -> Customer:
    address = extra.pop("address", Address(["12 High St"], "London", "", "SW1A 1AA", "GB"))
    return Customer(
        source_system=system,
        external_id=external_id,
        first_name=first,
        last_name=last,
        billing_address=address,
        **extra,
    )


def product(system="shop", external_id="p1", sku="ABC-123", name="Blue Widget", **extra):
    return Product(source_system=system, external_id=external_id, sku=sku, name=name, **extra)


def at(day: int) -> datetime:
    return datetime(2026, 1, day, 12, 0, tzinfo=UTC)
