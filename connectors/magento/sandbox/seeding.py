"""Seed the Magento sandbox from the shared world: products with stock, customers, recent orders.

Truth rows use the Magento customer `id` (a number, written as a string) and the product SKU as
external ids. Magento needs an email on every account and keeps it unique per website, so a
variant without one gets `first.last.<n>@example.com`, and a second variant whose email is
already taken gets `+<n>` before the `@`. Orders are placed for about one customer in eight
(at most 250) over the last 30 days: about half paid, a third of those shipped, a few fully
refunded, the rest pending.
"""

from __future__ import annotations

import datetime
import random
from typing import TYPE_CHECKING

from connectors.magento.sandbox.catalog import slug
from connectors.magento.sandbox.common import MagentoError, editable, magento_time, utc_now
from connectors.magento.sandbox.control import place_order

if TYPE_CHECKING:
    from connectors.magento.sandbox.emulator import MagentoEmulator
    from connectors.sandbox.seed import World

TAX_CLASS_IDS = {"standard": "2", "reduced": "9", "zero": "0"}
PAYMENT_METHODS = ["checkmo", "braintree", "stripe_payments", "banktransfer", "paypal_express"]
MAX_SEEDED_ORDERS = 250


def _unique_email(email: str, taken: set[str]) -> str:
    local, _, domain = email.partition("@")
    candidate, number = email, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{local}+{number}@{domain}"
    taken.add(candidate.casefold())
    return candidate


def _moment(rng: random.Random, now: datetime.datetime, days: int) -> datetime.datetime:
    return now - datetime.timedelta(days=rng.uniform(0, days))


def seed_world(emulator: MagentoEmulator, world: World) -> list[tuple[str, str, str]]:
    rng = random.Random(f"magento-{world.seed}")
    now = utc_now()
    rows: list[tuple[str, str, str]] = []
    with emulator.webhooks.muted():
        for seed_product, variant in world.products_in("magento"):
            created = _moment(rng, now, 720)
            emulator.catalog.save(
                variant.sku,
                {
                    "sku": variant.sku,
                    "name": variant.name,
                    "price": float(variant.unit_price),
                    "status": 1 if variant.active else 2,
                    "weight": round(rng.uniform(0.2, 5), 2),
                    "created_at": magento_time(created),
                    "updated_at": magento_time(_moment(rng, now, (now - created).days)),
                    "custom_attributes": [
                        {"attribute_code": "description", "value": variant.description},
                        {
                            "attribute_code": "url_key",
                            "value": slug(f"{variant.name} {variant.sku}"),
                        },
                        {
                            "attribute_code": "tax_class_id",
                            "value": TAX_CLASS_IDS[variant.tax_class],
                        },
                    ],
                    "extension_attributes": {
                        "stock_item": {"qty": variant.stock, "is_in_stock": variant.stock > 0}
                    },
                },
                emit=False,
            )
            rows.append(("product", variant.sku, seed_product.entity_key))

        taken: set[str] = set()
        customers = []
        for number, (seed_customer, variant) in enumerate(world.customers_in("magento"), 1):
            email = variant.email or (
                f"{slug(variant.first_name)}.{slug(variant.last_name)}.{number}@example.com"
            )
            created = _moment(rng, now, 1000)
            data = {
                "email": _unique_email(email, taken),
                "firstname": variant.first_name,
                "lastname": variant.last_name,
                "website_id": 1,
                "store_id": 1,
                "group_id": 2 if variant.company_name else 1,
                "created_at": magento_time(created),
                "updated_at": magento_time(_moment(rng, now, (now - created).days)),
            }
            if variant.vat_number:
                data["taxvat"] = variant.vat_number
            address = variant.address
            if address.line1:
                entry = {
                    "firstname": variant.first_name,
                    "lastname": variant.last_name,
                    "street": [line for line in (address.line1, address.line2) if line],
                    "city": address.city,
                    "region": address.region,
                    "postcode": address.postcode,
                    "country_id": address.country,
                    "default_billing": True,
                    "default_shipping": True,
                }
                if variant.company_name:
                    entry["company"] = variant.company_name
                if variant.phone:
                    entry["telephone"] = variant.phone
                data["addresses"] = [entry]
            customer = emulator.customers.save(None, data, emit=False, check_email=False)
            customers.append(customer)
            rows.append(("customer", str(customer["id"]), seed_customer.entity_key))
        _seed_orders(emulator, rng, now, customers)
    return rows


def _seed_orders(emulator: MagentoEmulator, rng: random.Random, now, customers: list) -> None:
    buyers = [customer for customer in customers if customer.get("addresses")]
    products = [p for p in emulator.store.all("product") if p["status"] == 1]
    if not buyers or not products:
        return
    for _ in range(min(MAX_SEEDED_ORDERS, max(3, len(customers) // 8))):
        buyer = rng.choice(buyers)
        picked = rng.sample(products, k=min(len(products), rng.randint(1, 3)))
        roll = rng.random()
        placed_at = _moment(rng, now, 30)
        payload = {
            "customer": {"id": buyer["id"]},
            "items": [{"sku": product["sku"], "qty": rng.randint(1, 3)} for product in picked],
            "payment": {"method": rng.choice(PAYMENT_METHODS), "pay": roll < 0.55},
            "allow_invalid": True,  # the shop took these orders; stock levels are the seed's
        }
        order = editable(place_order(emulator, payload, created_at=magento_time(placed_at)))
        changed_at = placed_at + datetime.timedelta(hours=rng.uniform(1, 48))
        if roll < 0.2:
            emulator.documents.ship(order, None, [], created_at=magento_time(changed_at))
        elif roll < 0.25:
            try:
                emulator.documents.refund(order, {})
            except MagentoError:
                continue
            order = editable(emulator.store.get("order", str(order["entity_id"])))
        order["updated_at"] = magento_time(min(changed_at, now))
        emulator.store.put("order", order["entity_id"], order)
