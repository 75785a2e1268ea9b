"""Magento payloads <-> canonical types, both directions, as pure functions.

Rules and defaults (where Magento needs what the canonical record may not have):

- Customers: `id` is the external id. The default billing address (`default_billing` id, else
  the address flagged default, else the first) gives the billing address, company, telephone
  and VAT id; the default shipping address likewise. `taxvat` wins over the address `vat_id`.
  Custom attributes are carried raw (`{attribute_code: value}`) for the field mappings.
- Writing a customer: website 1 unless told; Magento requires a first and last name and an
  address telephone, so a missing one is sent as "-" (MISSING), which a steward can recognise;
  street lines beyond Magento's two are joined into the second with ", ". Billing and shipping
  are one address entry when they are the same.
- Products: the SKU is the external id; status 1 is active, 2 inactive; `tax_class_id` maps to
  the canonical tax code ("2" standard, "9" reduced, "0" zero; others pass through as
  "magento:<id>"); stock is the stock item's qty (or a source item's quantity).
- Orders → Invoice: increment_id is the invoice number (a string; the accounting mapping makes
  it whatever it needs). Lines are the order's top rows (child rows of configurable and bundle
  products carry no price and are skipped), net unit price, VAT from `tax_percent`; shipping
  and discounts become their own lines so the invoice adds up to the order's grand total.
  Status: pending/processing/on hold → unpaid, complete → paid, canceled/closed → cancelled
  (paid-but-not-shipped orders are "processing": their money arrives as a Payment).
- Payment: `payment.amount_paid`, method mapped to a canonical method name, `last_trans_id`
  as the reference. Credit memo → CreditNote with lines, shipping and adjustments.
Money is always Decimal (never float); Magento dates are naive UTC strings.
"""

from __future__ import annotations

from decimal import Decimal

from connectors.canonical import (
    Address,
    CreditNote,
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    Product,
    StockLevel,
)
from connectors.transforms import parse_datetime, street_lines, to_decimal

SOURCE_SYSTEM = "magento"
MISSING = "-"  # sent for a name or telephone Magento requires and the record lacks
STREET_LINES = 2  # Magento's default "Number of Lines in a Street Address"
DEFAULT_SOURCE_CODE = "default"
ZERO = Decimal("0")

TAX_CLASS_CODES = {"2": "standard", "9": "reduced", "0": "zero"}
TAX_CLASS_IDS = {code: class_id for class_id, code in TAX_CLASS_CODES.items()}
ORDER_STATUSES = {
    "pending": InvoiceStatus.UNPAID,
    "pending_payment": InvoiceStatus.UNPAID,
    "new": InvoiceStatus.UNPAID,
    "processing": InvoiceStatus.UNPAID,
    "holded": InvoiceStatus.UNPAID,
    "payment_review": InvoiceStatus.UNPAID,
    "fraud": InvoiceStatus.UNPAID,
    "complete": InvoiceStatus.PAID,
    "canceled": InvoiceStatus.CANCELLED,
    "closed": InvoiceStatus.CANCELLED,
}
PAYMENT_METHODS = {
    "checkmo": "cheque",
    "banktransfer": "bank_transfer",
    "cashondelivery": "cash",
    "purchaseorder": "purchase_order",
    "braintree": "card",
    "stripe_payments": "card",
    "authorizenet_acceptjs": "card",
    "paypal_express": "paypal",
    "braintree_paypal": "paypal",
    "free": "free",
}


# Helpers ----------------------------------------------------------------------------------
def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _money(value: object) -> Decimal:
    return to_decimal(value, ZERO)


def attributes(payload: dict) -> dict[str, object]:
    """Magento's custom_attributes list as a dict {attribute_code: value}."""
    return {
        item["attribute_code"]: item.get("value")
        for item in payload.get("custom_attributes") or []
        if isinstance(item, dict) and item.get("attribute_code")
    }


def region_text(region: object) -> str:
    """The region name from Magento's region object, or a plain string."""
    if isinstance(region, dict):
        return _text(region.get("region") or region.get("region_code"))
    return _text(region)


def address_to_canonical(address: dict | None) -> Address:
    """A Magento address (customer or order) as a canonical Address; street[] → lines."""
    if not address:
        return Address()
    region = address.get("region")
    if not region_text(region) and address.get("region_code"):
        region = address["region_code"]
    return Address(
        lines=street_lines(address.get("street") or []),
        city=_text(address.get("city")),
        region=region_text(region),
        postcode=_text(address.get("postcode")),
        country=_text(address.get("country_id")).upper(),
    )


def _default_address(customer: dict, kind: str) -> dict | None:
    addresses = [a for a in customer.get("addresses") or [] if isinstance(a, dict)]
    wanted = _text(customer.get(kind))
    for address in addresses:
        if wanted and _text(address.get("id")) == wanted:
            return address
    for address in addresses:
        if address.get(kind):
            return address
    return addresses[0] if addresses else None


# Customers --------------------------------------------------------------------------------
def customer_to_canonical(payload: dict, source_system: str = SOURCE_SYSTEM) -> Customer:
    billing = _default_address(payload, "default_billing")
    shipping = _default_address(payload, "default_shipping") or billing
    contact = billing or shipping or {}
    return Customer(
        source_system=source_system,
        external_id=_text(payload.get("id")),
        company_name=_text(contact.get("company")),
        first_name=_text(payload.get("firstname")),
        last_name=_text(payload.get("lastname")),
        email=_text(payload.get("email")),
        phone=_text(contact.get("telephone") or (shipping or {}).get("telephone")),
        billing_address=address_to_canonical(billing),
        shipping_address=address_to_canonical(shipping),
        vat_number=_text(payload.get("taxvat") or contact.get("vat_id")),
        custom_attributes=attributes(payload),
        source_modified_at=parse_datetime(payload.get("updated_at")),
    )


def address_to_magento(
    address: Address, customer: Customer, *, billing: bool, shipping: bool
) -> dict:
    entry: dict = {
        "firstname": customer.first_name or MISSING,
        "lastname": customer.last_name or customer.company_name or MISSING,
        "street": street_lines(address.lines, max_lines=STREET_LINES),
        "city": address.city,
        "region": {"region": address.region, "region_code": address.region or None},
        "region_id": 0,
        "postcode": address.postcode,
        "country_id": (address.country or "GB").upper(),
        "telephone": customer.phone or MISSING,
        "default_billing": billing,
        "default_shipping": shipping,
    }
    if customer.company_name:
        entry["company"] = customer.company_name
    if customer.vat_number:
        entry["vat_id"] = customer.vat_number
    return entry


def customer_to_magento(
    customer: Customer, *, website_id: int = 1, existing: dict | None = None
) -> dict:
    """The `customer` object of POST/PUT /V1/customers. With `existing` (the stored Magento
    customer), its default address entries are updated in place rather than added."""
    payload: dict = {
        "email": customer.email.strip(),
        "firstname": customer.first_name or MISSING,
        "lastname": customer.last_name or customer.company_name or MISSING,
        "website_id": int((existing or {}).get("website_id") or website_id),
    }
    if customer.vat_number:
        payload["taxvat"] = customer.vat_number
    billing, shipping = customer.billing_address, customer.shipping_address
    entries = []
    if not billing.is_empty():
        # Compared as Magento holds them: ["a", ""] and ["a"] are the same address.
        same = shipping.is_empty() or address_to_magento(
            shipping, customer, billing=True, shipping=True
        ) == address_to_magento(billing, customer, billing=True, shipping=True)
        entries.append(address_to_magento(billing, customer, billing=True, shipping=same))
        if not same:
            entries.append(address_to_magento(shipping, customer, billing=False, shipping=True))
    elif not shipping.is_empty():
        entries.append(address_to_magento(shipping, customer, billing=True, shipping=True))
    if existing:
        payload["id"] = existing.get("id")
        kept = [a for a in existing.get("addresses") or [] if isinstance(a, dict)]
        for entry in entries:
            kind = "default_billing" if entry["default_billing"] else "default_shipping"
            current = _default_address(existing, kind)
            # One stored address may be both defaults: it is reused once, never for two entries.
            taken = {other.get("id") for other in entries}
            if current and current.get("id") and current["id"] not in taken:
                entry["id"] = current["id"]
        reused = {entry.get("id") for entry in entries}
        # Other address-book entries stay; they lose their default flags to the new ones.
        others = [
            {**a, "default_billing": False, "default_shipping": False}
            for a in kept
            if a.get("id") not in reused
        ]
        entries = entries + others if entries else kept
    if entries:
        payload["addresses"] = entries
    return payload


# Products and stock -----------------------------------------------------------------------
def tax_code(tax_class_id: object) -> str:
    class_id = _text(tax_class_id)
    if not class_id:
        return ""
    return TAX_CLASS_CODES.get(class_id, f"magento:{class_id}")


def tax_class_id(code: str) -> str:
    if code.startswith("magento:"):
        return code.removeprefix("magento:")
    return TAX_CLASS_IDS.get(code or "standard", TAX_CLASS_IDS["standard"])


def product_to_canonical(
    payload: dict,
    source_system: str = SOURCE_SYSTEM,
    *,
    currency: str = "GBP",
    source_items: list[dict] | None = None,
) -> Product:
    custom = attributes(payload)
    stock = None
    if source_items:
        stock = sum((_money(item.get("quantity")) for item in source_items), ZERO)
    else:
        stock_item = (payload.get("extension_attributes") or {}).get("stock_item")
        if isinstance(stock_item, dict) and stock_item.get("qty") is not None:
            stock = to_decimal(stock_item["qty"])
    price = payload.get("price")
    return Product(
        source_system=source_system,
        external_id=_text(payload.get("sku")),
        sku=_text(payload.get("sku")),
        name=_text(payload.get("name")),
        description=_text(custom.get("description")),
        unit_price=None if price is None else to_decimal(price),
        currency=currency.upper(),
        tax_code=tax_code(custom.get("tax_class_id")),
        stock=stock,
        active=int(payload.get("status") or 1) == 1,
        source_modified_at=parse_datetime(payload.get("updated_at")),
    )


def product_to_magento(product: Product, *, new: bool = False) -> dict:
    """The `product` object of PUT /V1/products/{sku}; `new` adds what a create needs.
    Stock is not part of it: it goes through source items (StockLevel)."""
    payload: dict = {
        "sku": product.sku or product.external_id,
        "name": product.name,
        "status": 1 if product.active else 2,
        "custom_attributes": [
            {"attribute_code": "tax_class_id", "value": tax_class_id(product.tax_code)}
        ],
    }
    if product.unit_price is not None:
        payload["price"] = product.unit_price
    if product.description:
        payload["custom_attributes"].append(
            {"attribute_code": "description", "value": product.description}
        )
    if new:
        payload.update(attribute_set_id=4, type_id="simple", visibility=4)
    return payload


def source_item_to_stock_level(item: dict, source_system: str = SOURCE_SYSTEM) -> StockLevel:
    return StockLevel(
        source_system=source_system,
        sku=_text(item.get("sku")),
        quantity=_money(item.get("quantity")),
        location=_text(item.get("source_code")) or DEFAULT_SOURCE_CODE,
    )


def stock_level_to_source_item(level: StockLevel) -> dict:
    """An MSI source item; a location that is not a Magento source code means `default`."""
    return {
        "sku": level.sku,
        "source_code": level.location or DEFAULT_SOURCE_CODE,
        "quantity": level.quantity,
        "status": 1 if level.quantity > 0 else 0,
    }


# Orders, payments, credit memos -----------------------------------------------------------
def invoice_status(order: dict) -> str:
    status = _text(order.get("status")).lower()
    if status in ORDER_STATUSES:
        return ORDER_STATUSES[status]
    return ORDER_STATUSES.get(_text(order.get("state")).lower(), InvoiceStatus.UNPAID)


def _rate(tax: Decimal, net: Decimal) -> Decimal:
    if not net:
        return ZERO
    return (tax / net * 100).quantize(Decimal("0.01")).normalize()


def order_lines(order: dict) -> list[InvoiceLine]:
    lines = []
    for item in order.get("items") or []:
        if item.get("parent_item_id"):
            continue
        rate = _money(item.get("tax_percent"))
        lines.append(
            InvoiceLine(
                description=_text(item.get("name")),
                sku=_text(item.get("sku")),
                quantity=_money(item.get("qty_ordered")),
                unit_price=_money(item.get("price")),
                vat_rate=rate,
            )
        )
        discount = _money(item.get("discount_amount"))
        if discount:
            lines.append(
                InvoiceLine(
                    description=f"Discount on {_text(item.get('sku'))}",
                    unit_price=-abs(discount),
                    vat_rate=rate,
                )
            )
    shipping = _money(order.get("shipping_amount"))
    if shipping:
        lines.append(
            InvoiceLine(
                description=_text(order.get("shipping_description")) or "Shipping",
                unit_price=shipping,
                vat_rate=_rate(_money(order.get("shipping_tax_amount")), shipping),
            )
        )
    return lines


def order_to_invoice(order: dict, source_system: str = SOURCE_SYSTEM) -> Invoice:
    customer_id = order.get("customer_id")
    return Invoice(
        source_system=source_system,
        external_id=_text(order.get("entity_id")),
        number=_text(order.get("increment_id")),
        customer_external_id="" if customer_id in (None, "") else _text(customer_id),
        customer_email=_text(order.get("customer_email")),
        issued_on=parse_datetime(order.get("created_at")),
        currency=_text(order.get("order_currency_code")).upper(),
        status=invoice_status(order),
        lines=order_lines(order),
        billing_address=address_to_canonical(order.get("billing_address")),
        reference=_text(order.get("increment_id")),
        source_modified_at=parse_datetime(order.get("updated_at")),
    )


def order_payment(
    order: dict, source_system: str = SOURCE_SYSTEM, *, paid_on: object = None
) -> Payment | None:
    """The money received for an order, or None while nothing is paid."""
    payment = order.get("payment") or {}
    amount = _money(payment.get("amount_paid") or order.get("total_paid"))
    if amount <= 0:
        return None
    method = _text(payment.get("method"))
    return Payment(
        source_system=source_system,
        external_id=_text(payment.get("entity_id") or order.get("entity_id")),
        invoice_number=_text(order.get("increment_id")),
        amount=amount,
        currency=_text(order.get("order_currency_code")).upper(),
        paid_on=parse_datetime(paid_on or order.get("updated_at")),
        method=PAYMENT_METHODS.get(method, method),
        reference=_text(payment.get("last_trans_id")),
        source_modified_at=parse_datetime(order.get("updated_at")),
    )


def credit_memo_to_credit_note(
    memo: dict, order: dict | None = None, source_system: str = SOURCE_SYSTEM
) -> CreditNote:
    """A credit memo as a CreditNote; with the order, lines take its VAT rates and number."""
    rates = {
        item.get("item_id"): _money(item.get("tax_percent"))
        for item in (order or {}).get("items") or []
    }
    lines = []
    for item in memo.get("items") or []:
        quantity = _money(item.get("qty"))
        if not quantity:
            continue
        net = _money(item.get("row_total"))
        rate = rates.get(item.get("order_item_id"))
        lines.append(
            InvoiceLine(
                description=_text(item.get("name")),
                sku=_text(item.get("sku")),
                quantity=quantity,
                unit_price=_money(item.get("price")),
                vat_rate=rate if rate is not None else _rate(_money(item.get("tax_amount")), net),
            )
        )
    for name, description, sign in (
        ("shipping_amount", "Shipping refund", 1),
        ("adjustment_positive", "Adjustment refund", 1),
        ("adjustment_negative", "Adjustment fee", -1),
    ):
        value = _money(memo.get(name))
        if value:
            lines.append(InvoiceLine(description=description, unit_price=sign * value))
    comments = [c for c in memo.get("comments") or [] if isinstance(c, dict) and c.get("comment")]
    return CreditNote(
        source_system=source_system,
        external_id=_text(memo.get("entity_id")),
        invoice_number=_text((order or {}).get("increment_id")),
        reason=_text(comments[0]["comment"]) if comments else "",
        lines=lines,
        amount=_money(memo.get("grand_total")),
        issued_on=parse_datetime(memo.get("created_at")),
        source_modified_at=parse_datetime(memo.get("updated_at") or memo.get("created_at")),
    )
