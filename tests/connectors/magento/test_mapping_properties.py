"""Property tests: canonical customers and products round-trip through the Magento mapping.

canonical -> `customer_to_magento` -> saved as Magento saves it (`magento_saves`: address ids,
`default_billing` / `default_shipping` ids, as the sandbox emulator does) ->
`customer_to_canonical` -> canonical, for generated customers with realistic text (the text
strategies are shared with the Kashflow property tests).

What Magento holds of a canonical customer, compared exactly (whole dataclass equality against
`magento_view`, so a field that is dropped or gained fails):

- `external_id` is Magento's own id, `source_modified_at` its `updated_at`; `custom_attributes`
  are read raw but not written by the mapping (field mappings handle them), so they come back
  as what Magento holds: `{}` here.
- `email`, `vat_number` (`taxvat`, also the address `vat_id`): held as they are.
- Names: Magento requires both, so a missing first name is sent as "-" (MISSING) and a missing
  last name as the company, else "-"; they come back so.
- `company_name` and `phone` live on the address entries only: with no address they are not
  held (come back ""); with one, a missing telephone (required) is sent as "-".
- Addresses: Magento has two street lines, so blank lines are dropped and surplus lines joined
  into the second with ", "; the country is required, so a missing one is sent as "GB"; it
  comes back upper case. An address with no street, city, region or postcode
  (`Address.is_empty`, even with a country) is not sent. Billing and shipping are one entry when
  they are the same as Magento holds them (shipping is also drawn as a restatement of billing)
  or one is empty, so a customer with only one address gets it back as both.

Updating a stored customer (`existing=`) with a customer that has an address reads back as that
customer; its `taxvat` is kept when the update has none (blank means "not known").

Products: the SKU (else the external id) is the external id and SKU; name, description, price
as the same Decimal (2-4 places), status 1/2 for active, tax class ("" and "standard" -> "2",
"reduced" -> "9", "zero" -> "0", "magento:<id>" -> "<id>"), currency the connection's (GBP).
Stock goes through MSI source items (`stock_level_to_source_item`), and comes back from them.
"""

from __future__ import annotations

import copy
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.canonical import Address, Customer, Product, StockLevel
from connectors.magento import mapping
from tests.connectors.kashflow.test_mapping_properties import (
    addresses,
    companies,
    descriptions,
    emails,
    first_names,
    last_names,
    optional,
    phones,
    prices,
    product_names,
    restatements,
    skus,
    stocks,
    vat_numbers,
    word,
)

PROPERTY = settings(max_examples=200, deadline=None)
CUSTOMER_ID = 42
UPDATED_AT = "2024-05-01 10:30:00"
_address_ids = itertools.count(100)


@st.composite
def customers(draw, *, with_address: bool = False) -> Customer:
    """A canonical customer from another system; Magento needs its e-mail, so it has one."""
    billing = draw(addresses)
    shipping = draw(st.one_of(addresses, st.just(copy.deepcopy(billing)), restatements(billing)))
    if with_address and billing.is_empty() and shipping.is_empty():
        billing.city = draw(word)
    return Customer(
        source_system=draw(st.sampled_from(["kashflow", "salesforce"])),
        external_id=draw(word),
        company_name=draw(optional(companies)),
        first_name=draw(optional(first_names)),
        last_name=draw(optional(last_names)),
        email=draw(emails),
        phone=draw(optional(phones)),
        billing_address=billing,
        shipping_address=shipping,
        vat_number=draw(optional(vat_numbers)),
        custom_attributes=draw(st.dictionaries(st.sampled_from(["account_reference"]), word)),
    )


def magento_saves(payload: dict, existing: dict | None = None) -> dict:
    """The customer as Magento stores and returns it after POST (or PUT over `existing`).

    Like the sandbox's CustomersApi.save: the given fields over the stored ones; the address
    list is replaced by the given entries, an entry with an id keeping it, new entries getting
    one; the flagged entries become default_billing / default_shipping (else the first).
    """
    customer = copy.deepcopy(existing) if existing else {"id": CUSTOMER_ID, "addresses": []}
    customer.update({key: value for key, value in payload.items() if key != "addresses"})
    customer["updated_at"] = UPDATED_AT
    if "addresses" in payload:
        customer.pop("default_billing", None)
        customer.pop("default_shipping", None)
        kept = []
        for given_entry in payload["addresses"]:
            entry = {k: v for k, v in given_entry.items() if not k.startswith("default_")}
            entry["id"] = given_entry.get("id") or next(_address_ids)
            for flag in ("default_billing", "default_shipping"):
                if given_entry.get(flag):
                    entry[flag] = True
                    customer[flag] = str(entry["id"])
            kept.append(entry)
        for flag in ("default_billing", "default_shipping"):
            if kept and flag not in customer:
                kept[0][flag] = True
                customer[flag] = str(kept[0]["id"])
        customer["addresses"] = kept
    return customer


def expected_address(address: Address) -> Address:
    """The address as Magento gives it back (see the module docstring)."""
    if address.is_empty():
        return Address()
    lines = [line for line in address.lines if line]
    if len(lines) > mapping.STREET_LINES:
        lines = [lines[0], ", ".join(lines[1:])]
    country = (address.country or "GB").upper()
    return Address(lines, address.city, address.region, address.postcode, country)


def magento_view(customer: Customer) -> Customer:
    """What Magento can hold of `customer`, as it is read back (see the module docstring)."""
    billing = expected_address(customer.billing_address)
    shipping = expected_address(customer.shipping_address)
    billing, shipping = (
        (billing if not billing.is_empty() else shipping),
        (shipping if not shipping.is_empty() else billing),
    )
    has_entry = not billing.is_empty()
    return Customer(
        source_system="magento",
        external_id=str(CUSTOMER_ID),
        company_name=customer.company_name if has_entry else "",
        first_name=customer.first_name or mapping.MISSING,
        last_name=customer.last_name or customer.company_name or mapping.MISSING,
        email=customer.email,
        phone=(customer.phone or mapping.MISSING) if has_entry else "",
        billing_address=billing,
        shipping_address=shipping,
        vat_number=customer.vat_number,
        custom_attributes={},
        source_modified_at=mapping.parse_datetime(UPDATED_AT),
    )


# Customers --------------------------------------------------------------------------------
@PROPERTY
@given(customers())
def test_created_customers_round_trip_every_field_magento_holds(customer):
    payload = mapping.customer_to_magento(customer)
    expected = magento_view(customer)
    assert mapping.customer_to_canonical(magento_saves(payload)) == expected
    # Billing and shipping that Magento would hold alike are one address-book entry.
    entries = 0 if expected.billing_address.is_empty() else 1
    entries += expected.shipping_address != expected.billing_address
    assert len(payload.get("addresses", [])) == entries


@PROPERTY
@given(customers())
def test_the_payload_as_sent_reads_back_the_same_without_magentos_ids(customer):
    payload = mapping.customer_to_magento(customer)
    payload.update(id=CUSTOMER_ID, updated_at=UPDATED_AT)
    assert mapping.customer_to_canonical(payload) == magento_view(customer)


@PROPERTY
@given(customers(), customers(with_address=True))
def test_updating_a_stored_customer_reads_back_the_new_one(before, after):
    existing = magento_saves(mapping.customer_to_magento(before))
    saved = magento_saves(mapping.customer_to_magento(after, existing=existing), existing)
    expected = magento_view(after)
    expected.vat_number = after.vat_number or before.vat_number
    assert mapping.customer_to_canonical(saved) == expected
    # Address-book entries the update does not use are kept, never duplicated.
    ids = [entry["id"] for entry in saved["addresses"]]
    assert len(ids) == len(set(ids))
    assert {entry["id"] for entry in existing["addresses"]} <= set(ids)


# Products ---------------------------------------------------------------------------------
TAX_CODES = {"": "standard", "standard": "standard", "reduced": "reduced", "zero": "zero",
             "magento:5": "magento:5", "magento:12": "magento:12"}  # fmt: skip


@st.composite
def products(draw) -> Product:
    return Product(
        source_system=draw(st.sampled_from(["kashflow", "magento", "salesforce"])),
        external_id=draw(skus),
        sku=draw(optional(skus)),
        name=draw(product_names),
        description=draw(optional(descriptions)),
        unit_price=draw(st.one_of(st.none(), prices, prices)),
        currency="GBP",
        tax_code=draw(st.sampled_from(sorted(TAX_CODES))),
        stock=draw(st.one_of(st.none(), stocks)),
        active=draw(st.booleans()),
    )


@PROPERTY
@given(products(), st.booleans())
def test_products_round_trip_through_magento_with_stock_from_source_items(product, new):
    payload = mapping.product_to_magento(product, new=new)
    sku = product.sku or product.external_id
    items = None
    if product.stock is not None:
        level = StockLevel("hub", sku, product.stock)
        items = [mapping.stock_level_to_source_item(level)]
    back = mapping.product_to_canonical({"id": 9, **payload}, source_items=items)
    assert back == Product(
        source_system="magento",
        external_id=sku,
        sku=sku,
        name=product.name,
        description=product.description,
        unit_price=product.unit_price,
        currency="GBP",
        tax_code=TAX_CODES[product.tax_code],
        stock=product.stock,
        active=product.active,
    )
    if product.unit_price is not None:
        assert back.unit_price.as_tuple() == product.unit_price.as_tuple()


@PROPERTY
@given(
    skus,
    stocks,
    st.sampled_from(["", "default", "warehouse_leeds"]),
)
def test_stock_levels_round_trip_through_source_items(sku, quantity, location):
    level = StockLevel("hub", sku, quantity, location)
    item = mapping.stock_level_to_source_item(level)
    assert item["status"] == (1 if quantity > 0 else 0)
    back = mapping.source_item_to_stock_level(item)
    assert back == StockLevel("magento", sku, quantity, location or mapping.DEFAULT_SOURCE_CODE)
