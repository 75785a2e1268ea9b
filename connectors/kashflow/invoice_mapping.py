"""Kashflow invoices and payments <-> canonical Invoice and Payment.

Pure functions, like mapping.py (whose address and lookup helpers they share).

Invoice Number: Kashflow numbers are positive integers (CONFIRMED), so a canonical number
becomes one by removing the connection's `kashflow_invoice_prefix` (if it starts with it,
case-insensitively), requiring what remains to be digits ("000000123" -> 123), and adding
`kashflow_invoice_number_offset` (default 0; e.g. 100000000 keeps web orders clear of
Kashflow's own sequence). Anything else is a ValidationError: silently dropping letters
could give two orders the same invoice. The source number is kept in `CustomerReference`.
Payments carry a Note (the provider's reference, else "<system> payment <id>") by which a
retry recognises a payment already recorded; Method is Kashflow's payment-method id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from connectors.canonical import Invoice, InvoiceLine, InvoiceStatus, Payment
from connectors.errors import ValidationError
from connectors.kashflow.mapping import (
    HOME_CURRENCY,
    SOURCE_SYSTEM,
    address_from_canonical,
    address_to_canonical,
    as_text,
    pick,
)
from connectors.transforms import parse_datetime, to_decimal

MAX_INVOICE_NUMBER = 2_147_483_647  # Kashflow is .NET: Number is an Int32
DEFAULT_NOMINAL_CODE = 4000

# Kashflow's payment methods (SOAP GetInvPayMethods ids, as the emulator serves them).
PAYMENT_METHOD_IDS = {
    "cash": 1,
    "cheque": 2,
    "bacs": 3,
    "bank_transfer": 3,
    "card": 4,
    "credit/debit card": 4,
    "paypal": 5,
    "direct_debit": 6,
    "direct debit": 6,
}
PAYMENT_METHOD_NAMES = {
    1: "cash",
    2: "cheque",
    3: "bank_transfer",
    4: "card",
    5: "paypal",
    6: "direct_debit",
}
DEFAULT_PAYMENT_METHOD = 3  # BACS, the emulator's default invoice payment type


# Invoices ----------------------------------------------------------------------------------
def kashflow_invoice_number(number: str, prefix: str = "", offset: int = 0) -> int | None:
    """The Kashflow Number for a canonical invoice number (see the module docstring)."""
    text = as_text(number)
    if not text:
        return None
    if prefix and text.upper().startswith(prefix.upper()):
        text = text[len(prefix) :].strip()
    if not text.isdigit() or not text.isascii():
        raise ValidationError(
            f"invoice number {number!r} cannot become a Kashflow invoice Number (a whole "
            "number); set the connection's kashflow_invoice_prefix if it carries a prefix",
            code="InvalidInvoiceNumber",
        )
    value = int(text) + int(offset or 0)
    if not 1 <= value <= MAX_INVOICE_NUMBER:
        raise ValidationError(
            f"invoice number {number!r} gives Kashflow Number {value}, "
            f"outside 1-{MAX_INVOICE_NUMBER}",
            code="InvalidInvoiceNumber",
        )
    return value


def kashflow_date(moment: datetime | None) -> str | None:
    """A Kashflow date in the documented "YYYY-MM-DD HH:mm:ss" form (invoices hold days)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d 00:00:00")


def invoice_from_canonical(
    invoice: Invoice,
    customer_code: str,
    *,
    default_nominal_code: int | str = DEFAULT_NOMINAL_CODE,
    number_prefix: str = "",
    number_offset: int = 0,
) -> dict:
    """A Kashflow invoice body; Number is omitted when the invoice has none (Kashflow assigns)."""
    payload: dict = {
        "CustomerCode": customer_code,
        "CustomerReference": invoice.reference or invoice.number,
        "LineItems": [
            _line_from_canonical(line, index, default_nominal_code)
            for index, line in enumerate(invoice.lines, 1)
        ],
    }
    number = kashflow_invoice_number(invoice.number, number_prefix, number_offset)
    if number is not None:
        payload["Number"] = number
    if invoice.issued_on:
        payload["IssuedDate"] = kashflow_date(invoice.issued_on)
    if invoice.due_on:
        payload["DueDate"] = kashflow_date(invoice.due_on)
    if not invoice.billing_address.is_empty():
        payload["Address"] = address_from_canonical(invoice.billing_address)
    return payload


def _line_from_canonical(line: InvoiceLine, index: int, default_nominal_code) -> dict:
    item: dict = {
        "Number": index,
        "Description": line.description,
        "Quantity": line.quantity,
        "Rate": line.unit_price,
        "VATLevel": line.vat_rate,
        "NominalCode": int(line.nominal_code or default_nominal_code),
    }
    if line.sku:
        item["ProductCode"] = line.sku
    return item


INVOICE_STATUSES = {
    "paid": InvoiceStatus.PAID,
    "unpaid": InvoiceStatus.UNPAID,
    "overdue": InvoiceStatus.UNPAID,
    "sent": InvoiceStatus.UNPAID,
    "draft": InvoiceStatus.DRAFT,
    "void": InvoiceStatus.CANCELLED,
    "cancelled": InvoiceStatus.CANCELLED,
}


def invoice_to_canonical(payload: dict, source_system: str = SOURCE_SYSTEM) -> Invoice:
    """A Kashflow invoice (summary or full) as a canonical Invoice; summaries have no lines."""
    number = as_text(pick(payload, "Number"))
    currency = pick(payload, "Currency") or {}
    status = as_text(pick(payload, "Status")).lower()
    return Invoice(
        source_system=source_system,
        external_id=number,
        number=number,
        customer_external_id=as_text(pick(payload, "CustomerCode")),
        issued_on=parse_datetime(pick(payload, "IssuedDate")),
        due_on=parse_datetime(pick(payload, "DueDate")),
        currency=as_text(pick(currency, "Code")).upper() or HOME_CURRENCY,
        status=INVOICE_STATUSES.get(status, InvoiceStatus.UNPAID),
        lines=[_line_to_canonical(item) for item in pick(payload, "LineItems") or []],
        billing_address=address_to_canonical(pick(payload, "Address")),
        reference=as_text(pick(payload, "CustomerReference")),
    )


def _line_to_canonical(item: dict) -> InvoiceLine:
    exempt = pick(item, "VATExempt") is True
    return InvoiceLine(
        description=as_text(pick(item, "Description")),
        sku=as_text(pick(item, "ProductCode")),
        quantity=to_decimal(pick(item, "Quantity"), Decimal("1")),
        unit_price=to_decimal(pick(item, "Rate"), Decimal("0")),
        vat_rate=Decimal("0") if exempt else to_decimal(pick(item, "VATLevel"), Decimal("0")),
        nominal_code=as_text(pick(item, "NominalCode")),
    )


# Payments ----------------------------------------------------------------------------------
def payment_method_id(method: str | int | None, default: str | int = DEFAULT_PAYMENT_METHOD) -> int:
    """Kashflow's payment method id for a canonical method ("card") or a Kashflow name / id."""
    for candidate in (method, default):
        if isinstance(candidate, int) and candidate in PAYMENT_METHOD_NAMES:
            return candidate
        text = as_text(candidate).lower()
        if text.isdigit() and int(text) in PAYMENT_METHOD_NAMES:
            return int(text)
        if text in PAYMENT_METHOD_IDS:
            return PAYMENT_METHOD_IDS[text]
    return DEFAULT_PAYMENT_METHOD


def payment_note(payment: Payment) -> str:
    """The Note that identifies a payment in Kashflow, so a retry can find it."""
    return payment.reference or f"{payment.source_system} payment {payment.external_id}"


def payment_from_canonical(
    payment: Payment,
    *,
    default_method: str | int = DEFAULT_PAYMENT_METHOD,
    account_id: int | None = None,
) -> dict:
    """A Kashflow PaymentItem body for POST /invoices/{number}/payments."""
    payload: dict = {
        "Amount": payment.amount,
        "Method": payment_method_id(payment.method, default_method),
        "Note": payment_note(payment),
    }
    if payment.paid_on:
        payload["Date"] = kashflow_date(payment.paid_on)
    if account_id:
        payload["AccountId"] = int(account_id)
    return payload


def bulk_payment_from_canonical(payment_item: dict, invoice_number: int) -> dict:
    """The same payment as a one-item bulk payment (`/invoices/bulk/payments`, CONFIRMED)."""
    body = {
        "Comment": payment_item["Note"],
        "Method": payment_item["Method"],
        "PaymentItems": [{"Amount": payment_item["Amount"], "ObjectNumber": invoice_number}],
    }
    for key in ("Date", "AccountId"):
        if key in payment_item:
            body[key] = payment_item[key]
    return body


def payment_to_canonical(
    payload: dict, invoice_number: str, source_system: str = SOURCE_SYSTEM
) -> Payment:
    """A Kashflow PaymentItem of an invoice as a canonical Payment."""
    method = pick(payload, "Method")
    return Payment(
        source_system=source_system,
        external_id=as_text(pick(payload, "Id")),
        invoice_number=str(invoice_number),
        amount=to_decimal(pick(payload, "Amount"), Decimal("0")),
        currency=HOME_CURRENCY,
        paid_on=parse_datetime(pick(payload, "Date")),
        method=PAYMENT_METHOD_NAMES.get(method, "") if isinstance(method, int) else "",
        reference=as_text(pick(payload, "Note")),
    )
