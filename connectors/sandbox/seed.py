"""Deterministic seed data: the real-world customers and products behind the three sandboxes.

`build_world(seed, customers, products)` invents real businesses and people (UK and US), then
decides for each system whether it knows them and how it spells them: typos, abbreviations,
nicknames, different address and phone formats, missing fields, changed emails, and now and then
a second record for the same customer in one system. Each emulator turns the per-system variants
into its own records and reports (entity, external id, entity key) rows; the sandbox command
writes those to truth.csv so matching can be scored against the truth.
"""

import random
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal

from connectors.sandbox.names import (
    COLOURS,
    COMPANY_TRADES,
    COMPANY_WORDS,
    FIRST_NAMES_UK,
    FIRST_NAMES_US,
    LAST_NAMES,
    NICKNAMES,
    PRODUCT_ADJECTIVES,
    PRODUCT_NOUNS,
    STREET_NAMES,
    STREET_TYPES,
    UK_PLACES,
    UK_SUFFIXES,
    US_PLACES,
    US_SUFFIXES,
)

SYSTEMS = ("kashflow", "salesforce", "magento")


@dataclass
class Address:
    line1: str
    line2: str
    city: str
    region: str
    postcode: str
    country: str  # ISO 3166-1 alpha-2


@dataclass
class CustomerVariant:
    """How one system spells a real customer; any field may be blank."""

    company_name: str
    first_name: str
    last_name: str
    email: str
    phone: str
    address: Address
    vat_number: str = ""


@dataclass
class SeedCustomer:
    entity_key: str  # the truth: one key per real customer
    truth: CustomerVariant
    is_business: bool
    variants: dict[str, list[CustomerVariant]] = field(default_factory=dict)


@dataclass
class ProductVariant:
    sku: str
    name: str
    description: str
    unit_price: Decimal
    stock: int
    tax_class: str  # "standard", "reduced", "zero"
    active: bool = True


@dataclass
class SeedProduct:
    entity_key: str
    truth: ProductVariant
    variants: dict[str, ProductVariant] = field(default_factory=dict)


@dataclass
class World:
    seed: int
    customers: list[SeedCustomer]
    products: list[SeedProduct]

    def customers_in(self, system: str) -> list[tuple[SeedCustomer, CustomerVariant]]:
        return [
            (customer, variant)
            for customer in self.customers
            for variant in customer.variants.get(system, [])
        ]

    def products_in(self, system: str) -> list[tuple[SeedProduct, ProductVariant]]:
        return [
            (product, product.variants[system])
            for product in self.products
            if system in product.variants
        ]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    position = rng.randrange(1, len(text) - 1)
    kind = rng.choice(["swap", "drop", "double", "replace"])
    if kind == "swap":
        return text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    if kind == "drop":
        return text[:position] + text[position + 1 :]
    if kind == "double":
        return text[:position] + text[position] + text[position:]
    letter = rng.choice("aeiounrst")
    return text[:position] + letter + text[position + 1 :]


def _uk_phone(rng: random.Random) -> str:
    return f"+44 20 {rng.randint(7000, 7999)} {rng.randint(1000, 9999)}"


def _us_phone(rng: random.Random) -> str:
    return f"+1 {rng.randint(201, 989)} {rng.randint(200, 999)} {rng.randint(1000, 9999)}"


def _reformat_phone(rng: random.Random, phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.startswith("+44"):
        national = "0" + digits[2:]
        return rng.choice([national, f"{national[:3]} {national[3:7]} {national[7:]}"])
    if phone.startswith("+1"):
        national = digits[1:]
        return rng.choice([f"({national[:3]}) {national[3:6]}-{national[6:]}", national])
    return phone


def _make_customer(rng: random.Random, number: int, taken: set[str]) -> SeedCustomer:
    uk = rng.random() < 0.6
    first = rng.choice(FIRST_NAMES_UK if uk else FIRST_NAMES_US)
    last = rng.choice(LAST_NAMES)
    city, region, postcode = rng.choice(UK_PLACES if uk else US_PLACES)
    street, _ = rng.choice(STREET_TYPES)
    address = Address(
        line1=f"{rng.randint(1, 250)} {rng.choice(STREET_NAMES)} {street}",
        line2=rng.choice(
            ["", "", "", f"Unit {rng.randint(1, 30)}", f"Suite {rng.randint(100, 900)}"]
        ),
        city=city,
        region=region,
        postcode=(
            f"{postcode.split()[0]} {rng.randint(1, 9)}"
            f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
            if uk
            else f"{int(postcode) + rng.randint(0, 40):05d}"
        ),
        country="GB" if uk else "US",
    )
    is_business = rng.random() < 0.75
    company = ""
    if is_business:
        suffix = rng.choice(UK_SUFFIXES if uk else US_SUFFIXES)[0]
        # Registered company names are unique within a country, so they are here too.
        for _ in range(50):
            company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_TRADES)} {suffix}"
            if rng.random() < 0.3:
                company = f"{last} & {rng.choice(LAST_NAMES)} {suffix}"
            if company.lower() not in taken:
                break
        else:
            company = f"{company[: -len(suffix)]}({city}) {suffix}"
        taken.add(company.lower())
    domain = (
        re.sub(r"[^a-z0-9]", "", company[: -len(suffix)].lower()) + (".co.uk" if uk else ".com")
        if company
        else rng.choice(["gmail.com", "outlook.com", "yahoo.com", "icloud.com"])
    )
    email = f"{first.lower()}.{last.lower()}{rng.randint(1, 99) if not company else ''}@{domain}"
    truth = CustomerVariant(
        company_name=company,
        first_name=first,
        last_name=last,
        email=email,
        phone=_uk_phone(rng) if uk else _us_phone(rng),
        address=address,
        vat_number=f"GB{rng.randint(100000000, 999999999)}" if uk and company else "",
    )
    return SeedCustomer(entity_key=f"C{number:06d}", truth=truth, is_business=is_business)


def _customer_variant(rng: random.Random, truth: CustomerVariant) -> CustomerVariant:
    variant = replace(truth, address=replace(truth.address))
    roll = rng.random
    if roll() < 0.15:
        variant.last_name = _typo(rng, variant.last_name)
    if roll() < 0.10:
        variant.first_name = _typo(rng, variant.first_name)
    if roll() < 0.20 and variant.first_name in NICKNAMES:
        variant.first_name = NICKNAMES[variant.first_name]
    if roll() < 0.04:
        variant.first_name, variant.last_name = variant.last_name, variant.first_name
    if variant.company_name:
        for short, long in UK_SUFFIXES + US_SUFFIXES:
            if variant.company_name.endswith(" " + short) and roll() < 0.4:
                variant.company_name = variant.company_name[: -len(short)] + long
        if roll() < 0.12:
            variant.company_name = _typo(rng, variant.company_name)
        if roll() < 0.10:
            variant.company_name = variant.company_name.upper()
    for long, short in STREET_TYPES:
        if variant.address.line1.endswith(long) and roll() < 0.5:
            variant.address.line1 = variant.address.line1[: -len(long)] + short
    if roll() < 0.08:
        variant.address.line1 = _typo(rng, variant.address.line1)
    if roll() < 0.35:
        variant.phone = _reformat_phone(rng, variant.phone)
    if roll() < 0.12:
        variant.phone = ""
    if roll() < 0.08:
        # A private address instead of the work one; numbered, as free-mail addresses are.
        local = variant.email.split("@")[0]
        variant.email = f"{local}{rng.randint(1, 999)}@{rng.choice(['gmail.com', 'hotmail.com'])}"
    if roll() < 0.05:
        variant.email = ""
    if roll() < 0.10:
        variant.address.postcode = variant.address.postcode.replace(" ", "").lower()
    if roll() < 0.05:
        variant.address = Address("", "", variant.address.city, "", "", variant.address.country)
    if roll() < 0.3:
        variant.vat_number = ""
    return variant


def _make_product(rng: random.Random, number: int) -> SeedProduct:
    noun = rng.choice(PRODUCT_NOUNS)
    name = f"{rng.choice(PRODUCT_ADJECTIVES)} {rng.choice(COLOURS)} {noun}"
    truth = ProductVariant(
        sku=f"{noun[:3].upper()}-{number:05d}",
        name=name,
        description=f"{name}, made to last. Ships in recyclable packaging.",
        unit_price=Decimal(rng.randint(299, 19999)) / 100,
        stock=rng.randint(0, 400),
        tax_class=rng.choices(["standard", "reduced", "zero"], weights=[8, 1, 1])[0],
        active=rng.random() > 0.05,
    )
    return SeedProduct(entity_key=f"P{number:06d}", truth=truth)


def _product_variant(rng: random.Random, truth: ProductVariant) -> ProductVariant:
    variant = replace(truth)
    if rng.random() < 0.2:
        variant.name = variant.name.replace("Grey", "Gray").replace("Colour", "Color")
        variant.name = rng.choice([variant.name.lower().title(), variant.name + " (New)"])
    if rng.random() < 0.15:
        variant.unit_price = (truth.unit_price * Decimal("1.05")).quantize(Decimal("0.01"))
    return variant


def build_world(seed: int = 42, customers: int = 2000, products: int = 200) -> World:
    """The same arguments always give the same world."""
    rng = random.Random(seed)
    world_customers = []
    taken_company_names: set[str] = set()
    for number in range(1, customers + 1):
        customer = _make_customer(rng, number, taken_company_names)
        chances = {
            "kashflow": 0.75 if customer.is_business else 0.35,
            "salesforce": 0.8 if customer.is_business else 0.2,
            "magento": 0.35 if customer.is_business else 0.9,
        }
        for system, chance in chances.items():
            if rng.random() < chance:
                customer.variants[system] = [_customer_variant(rng, customer.truth)]
                if rng.random() < 0.03:  # the same customer twice in one system
                    customer.variants[system].append(_customer_variant(rng, customer.truth))
        if not customer.variants:
            customer.variants[rng.choice(SYSTEMS)] = [_customer_variant(rng, customer.truth)]
        world_customers.append(customer)
    world_products = []
    for number in range(1, products + 1):
        product = _make_product(rng, number)
        product.variants["kashflow"] = replace(product.truth)  # accounting is the product master
        for system, chance in (("salesforce", 0.7), ("magento", 0.85)):
            if rng.random() < chance:
                product.variants[system] = _product_variant(rng, product.truth)
        world_products.append(product)
    return World(seed=seed, customers=world_customers, products=world_products)
