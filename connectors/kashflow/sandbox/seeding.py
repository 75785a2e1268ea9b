"""Kashflow's share of the seed world: its customers, the product master, invoices and payments.

Customers get codes the way Kashflow generates them (first three letters of the name and a
number: `ACM01`); products keep their SKU as `Code`. Seeded invoices are history: the seeded
`QuantityInStock` is today's level, so they do not take stock again.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from connectors.kashflow.sandbox.catalog import PRODUCT, new_product
from connectors.kashflow.sandbox.customers import CUSTOMER, code_stem, new_customer
from connectors.kashflow.sandbox.invoices import INVOICE, customer_totals
from connectors.kashflow.sandbox.wire import day_string, money, timestamp

if TYPE_CHECKING:
    from connectors.kashflow.sandbox.emulator import KashflowEmulator
    from connectors.sandbox.seed import CustomerVariant, World

VAT_BY_TAX_CLASS = {"standard": "20", "reduced": "5", "zero": "0"}
COUNTRY_NAMES = {"GB": "United Kingdom", "US": "United States"}


def customer_fields(variant: CustomerVariant) -> dict:
    """A seed variant in Kashflow's customer shape (Line3 = town, Line4 = county or state)."""
    person = f"{variant.first_name} {variant.last_name}".strip()
    address = variant.address
    fields = {
        "Name": variant.company_name or person,
        "Email": variant.email,
        "TelephoneNumber": variant.phone,
        "VATNumber": variant.vat_number,
        "Addresses": [],
        "Contacts": [],
    }
    if any((address.line1, address.city, address.postcode)):
        fields["Addresses"] = [
            {
                "Line1": address.line1,
                "Line2": address.line2,
                "Line3": address.city,
                "Line4": address.region,
                "PostCode": address.postcode,
                "CountryCode": address.country,
                "CountryName": COUNTRY_NAMES.get(address.country, address.country),
            }
        ]
    if person:
        fields["Contacts"] = [
            {
                "FirstName": variant.first_name,
                "LastName": variant.last_name,
                "Email": variant.email,
                "Telephone": variant.phone,
                "Mobile": "",
                "Fax": "",
                "Website": "",
                "IsPrimaryContact": True,
            }
        ]
    return fields


def seed_world(emulator: KashflowEmulator, world: World) -> list[tuple[str, str, str]]:
    """Create the records (inside the runner's batch) and return the truth rows."""
    store = emulator.store
    rng = random.Random(world.seed * 7919 + 11)
    now = datetime.now(UTC)
    truth: list[tuple[str, str, str]] = []

    stem_counts: dict[str, int] = {}
    taken = {customer["Code"].upper() for customer in store.all(CUSTOMER)}
    customers = []
    for seed_customer, variant in world.customers_in("kashflow"):
        fields = customer_fields(variant)
        stem = code_stem(fields["Name"])
        number = stem_counts.get(stem, 0)
        code = ""
        while not code or code in taken:
            number += 1
            code = f"{stem}{number:02d}"
        stem_counts[stem] = number
        taken.add(code)
        created = timestamp(
            now - timedelta(days=rng.randint(30, 900), seconds=rng.randint(0, 86399))
        )
        customer_id = store.next_id("customer_id")
        customer = new_customer(customer_id, code, fields, created)
        store.put(CUSTOMER, customer_id, customer)
        customers.append(customer)
        truth.append(("customer", code, seed_customer.entity_key))

    sales_nominal = emulator.nominal_by_code(4000)
    products = []
    for seed_product, variant in world.products_in("kashflow"):
        product_id = store.next_id("product_id")
        product = new_product(
            product_id,
            sales_nominal,
            {
                "Code": variant.sku,
                "Name": variant.name,
                "Description": variant.description,
                "Price": money(variant.unit_price),
                "WholeSalePrice": money(variant.unit_price * 6 / 10),
                "VATRate": VAT_BY_TAX_CLASS.get(variant.tax_class, "20"),
                "VATExempt": variant.tax_class == "zero",
                "ManageStockLevel": True,
                "QuantityInStock": money(variant.stock),
                "StockWarningQuantity": "10",
                "InUse": variant.active,
            },
        )
        store.put(PRODUCT, product_id, product)
        products.append(product)
        truth.append(("product", variant.sku, seed_product.entity_key))

    if products:
        _seed_invoices(emulator, rng, customers, products)
    return truth


def _seed_invoices(emulator, rng: random.Random, customers: list[dict], products: list[dict]):
    store = emulator.store
    today = datetime.now(UTC).date()
    by_customer: dict[int, list[dict]] = {}
    for customer in customers:
        if rng.random() > 0.35:
            continue
        for _ in range(rng.randint(1, 3)):
            lines = [
                {"ProductCode": product["Code"], "Quantity": rng.randint(1, 5)}
                for product in rng.sample(products, k=min(len(products), rng.randint(1, 3)))
            ]
            issued = today - timedelta(days=rng.randint(1, 150))
            invoice = emulator.build_invoice(
                {
                    "CustomerId": customer["Id"],
                    "IssuedDate": day_string(issued),
                    "CustomerReference": f"PO-{rng.randint(10000, 99999)}",
                    "LineItems": lines,
                }
            )
            store.put(INVOICE, invoice["Id"], invoice)
            high = int(store.get_meta("invoice_number_high", "0"))
            store.set_meta("invoice_number_high", str(max(high, invoice["Number"])))
            roll = rng.random()
            if roll < 0.6:
                gross = invoice["GrossAmount"]
                amount = gross if roll < 0.45 else money(round(float(gross) / 2, 2))
                paid_on = min(today, issued + timedelta(days=rng.randint(3, 40)))
                invoice = store.get(INVOICE, invoice["Id"])
                emulator.add_payment(
                    invoice,
                    {"Amount": amount, "Date": day_string(paid_on), "Note": "Seeded payment"},
                    refresh_customer=False,
                )
            by_customer.setdefault(customer["Id"], []).append(store.get(INVOICE, invoice["Id"]))
    for customer_id, invoices in by_customer.items():
        customer = store.get(CUSTOMER, str(customer_id))
        store.put(CUSTOMER, customer_id, {**customer, **customer_totals(invoices)})
