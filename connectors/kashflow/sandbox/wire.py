"""Kashflow's wire conventions for the sandbox: error bodies, money, dates, paging, input keys.

Everything here is shared by the resource modules: the `{"Error", "Message"}` error body,
4-decimal money rendered as bare JSON numbers, ISO-8601 timestamps, the `Data` + `MetaData`
list envelope, and case-insensitive reading of PascalCase request bodies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from urllib.parse import urlencode

from connectors.sandbox.server import Request, Response

FOUR_PLACES = Decimal("0.0001")
TWO_PLACES = Decimal("0.01")

# Keys whose values are decimals: stored as "12.3400" strings, sent as bare numbers 12.3400.
DECIMAL_KEYS = frozenset(
    {
        "Amount",
        "BankBalance",
        "CustomerDiscount",
        "DiscountRate",
        "ExchangeRate",
        "GrossAmount",
        "HomeCurrencyGrossAmount",
        "InvoicedNetAmount",
        "InvoicedVATAmount",
        "MoneyOut",
        "NetAmount",
        "OutstandingBalance",
        "PaidIn",
        "Price",
        "Quantity",
        "QuantityInStock",
        "Rate",
        "StartingAmount",
        "StockWarningQuantity",
        "TotalBankBalance",
        "TotalPaidAmount",
        "VATAmount",
        "VATLevel",
        "VATRate",
        "WholeSalePrice",
    }
)

_DECIMAL_MARK = "\u0000D"
_DECIMAL_LITERAL = re.compile(r'"\\u0000D(-?[0-9]+(?:\.[0-9]+)?)"')


class ErrorCode(StrEnum):
    """The `Error` values of the sandbox's error bodies."""

    INVALID_SESSION_TOKEN = "InvalidSessionToken"  # noqa: S105 (an error code, not a secret)
    INVALID_CREDENTIALS = "InvalidCredentials"
    ACCOUNT_LOCKED = "AccountLocked"
    VALIDATION = "ValidationError"
    DUPLICATE_CUSTOMER_CODE = "DuplicateCustomerCode"
    DUPLICATE_INVOICE_NUMBER = "DuplicateInvoiceNumber"
    DUPLICATE_PRODUCT_CODE = "DuplicateProductCode"
    NOT_FOUND = "NotFound"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    TOO_MANY_REQUESTS = "TooManyRequests"
    INTERNAL = "InternalServerError"
    UNAVAILABLE = "ServiceUnavailable"


STATUS_ERRORS = {
    400: ErrorCode.VALIDATION,
    401: ErrorCode.INVALID_SESSION_TOKEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    429: ErrorCode.TOO_MANY_REQUESTS,
}


class KashflowError(Exception):
    """A failure a handler reports to the client as `{"Error": code, "Message": message}`."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        return error_body(self.status, self.code, self.message)


def error_body(status: int, code: str, message: str) -> Response:
    return json_response(status, {"Error": str(code), "Message": message})


def error_for_status(status: int, message: str) -> Response:
    code = STATUS_ERRORS.get(status)
    if code is None:
        code = ErrorCode.UNAVAILABLE if status in (502, 503, 504) else ErrorCode.INTERNAL
    return error_body(status, code, message)


def validation(message: str) -> KashflowError:
    return KashflowError(400, ErrorCode.VALIDATION, message)


def not_found(message: str) -> KashflowError:
    return KashflowError(404, ErrorCode.NOT_FOUND, message)


# Money and dates ----------------------------------------------------------------------------
def money(value: Decimal | str | int | float) -> str:
    """A stored decimal: a string with 4 places, as Kashflow renders amounts."""
    return str(Decimal(str(value)).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP))


def to_decimal(value: object, field_name: str) -> Decimal:
    """A client-supplied number (JSON number or numeric string); 400 otherwise."""
    if isinstance(value, bool) or value is None:
        raise validation(f"{field_name} must be a number.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise validation(f"{field_name} must be a number.") from None
    if not number.is_finite():
        raise validation(f"{field_name} must be a number.")
    return number


def round_pennies(value: Decimal) -> Decimal:
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def timestamp(moment: datetime | None = None) -> str:
    """UTC timestamp the way .NET serialises it: ISO-8601, milliseconds, no offset."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def timestamp_after(previous: str) -> str:
    """`timestamp()`, at least a millisecond after `previous`: a change within the millisecond
    of the last one still moves the record's `LastUpdatedDate` on."""
    now = datetime.now(UTC)
    try:
        floor = datetime.fromisoformat(previous).replace(tzinfo=UTC) + timedelta(milliseconds=1)
    except (TypeError, ValueError):
        return timestamp(now)
    return timestamp(max(now, floor))


def day_string(day: date) -> str:
    return day.strftime("%Y-%m-%dT00:00:00")


def parse_day(value: object, field_name: str) -> date:
    """Accepts `YYYY-MM-DD`, `YYYY-MM-DD HH:mm:ss` and ISO-8601 with or without an offset."""
    if not isinstance(value, str) or not value.strip():
        raise validation(f"{field_name} must be a date.")
    text = value.strip().replace(" ", "T", 1).removesuffix("Z")
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise validation(f"{field_name} is not a valid date: {value!r}.") from None


def stored_day(value: str | None) -> date | None:
    return datetime.fromisoformat(value).date() if value else None


# Rendering --------------------------------------------------------------------------------
def _wire_value(key: str | None, value: object) -> object:
    if isinstance(value, dict):
        return {k: _wire_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_value(None, item) for item in value]
    if key in DECIMAL_KEYS and isinstance(value, str | int | Decimal) and value != "":
        return _DECIMAL_MARK + money(value)
    return value


def json_response(status: int, payload: object, headers: dict | None = None) -> Response:
    """JSON with decimals as bare 4-place numbers (`46.0000`), like the real API."""
    text = json.dumps(_wire_value(None, payload), default=str, separators=(",", ":"))
    body = _DECIMAL_LITERAL.sub(r"\1", text).encode()
    response_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Response(status, body, response_headers)


# Input ------------------------------------------------------------------------------------
def json_object(request: Request) -> dict:
    body = request.json()
    if not isinstance(body, dict):
        raise validation("The request body must be a JSON object.")
    return body


def pick(body: dict, *names: str, default: object = None) -> object:
    """Reads a key case-insensitively (clients send `UserName` and `username` alike)."""
    lowered = {key.lower(): value for key, value in body.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return default


def canonical_keys(body: dict, known: Iterable[str]) -> dict:
    """The body's keys mapped onto the documented PascalCase names; unknown keys dropped."""
    by_lower = {name.lower(): name for name in known}
    return {by_lower[key.lower()]: value for key, value in body.items() if key.lower() in by_lower}


def as_bool(value: object, field_name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise validation(f"{field_name} must be true or false.")


# Paging -----------------------------------------------------------------------------------
class SortOrder(StrEnum):
    ASC = "Asc"
    DESC = "Desc"


def paged(
    request: Request,
    records: list[dict],
    *,
    resource: str,
    sort_keys: dict[str, Callable[[dict], object]],
    default_sort: str,
    default_per_page: int,
    max_per_page: int,
    render: Callable[[dict], dict],
) -> Response:
    """One page of the `Data` + `MetaData` envelope.

    Query names are matched case-insensitively; `perpage` above the maximum is clamped; an
    unknown `sortby` is a 400 naming the allowed values. Ties sort by `Id` so paging is stable.
    """
    query = {name.lower(): values[0] for name, values in request.query.items() if values}
    page = _positive_int(query.get("page", "1"), "page")
    per_page = min(
        _positive_int(query.get("perpage", str(default_per_page)), "perpage"), max_per_page
    )
    sort_name = query.get("sortby") or default_sort
    sort_key = {name.lower(): (name, key) for name, key in sort_keys.items()}.get(sort_name.lower())
    if sort_key is None:
        raise validation(f"sortby must be one of {', '.join(sort_keys)}.")
    sort_name, key = sort_key
    order_text = (query.get("order") or SortOrder.ASC).lower()
    if order_text not in ("asc", "desc"):
        raise validation("order must be Asc or Desc.")
    order = SortOrder.ASC if order_text == "asc" else SortOrder.DESC
    ordered = sorted(records, key=lambda record: (key(record), record["Id"]))
    if order is SortOrder.DESC:
        ordered.reverse()
    total = len(ordered)
    last_page = max(1, -(-total // per_page))
    window = ordered[(page - 1) * per_page : page * per_page]

    extra = [
        (name, values[0])
        for name, values in request.query.items()
        if values and name.lower() not in ("page", "perpage", "sortby", "order")
    ]

    def url(number: int) -> str:
        params = [("page", number), ("perpage", per_page), ("sortby", sort_name)]
        params += [("order", str(order)), *extra]
        return f"/{resource}?{urlencode(params)}"

    metadata = {
        "FirstPageUrl": url(1),
        "LastPageUrl": url(last_page),
        "NextPageUrl": url(page + 1) if page < last_page else None,
        "PreviousPageUrl": url(page - 1) if 1 < page <= last_page + 1 else None,
        "TotalRecords": total,
    }
    return json_response(200, {"Data": [render(record) for record in window], "MetaData": metadata})


def _positive_int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise validation(f"{name} must be a positive whole number.") from None
    if value < 1:
        raise validation(f"{name} must be a positive whole number.")
    return value


def text_filter(request: Request, records: list[dict], fields: tuple[str, ...]) -> list[dict]:
    """`filterby=<text>`: records whose fields contain the text, case-insensitively."""
    needle = next(
        (values[0] for name, values in request.query.items() if name.lower() == "filterby"), ""
    )
    needle = needle.strip().lower()
    if not needle:
        return records
    return [
        record
        for record in records
        if any(needle in str(record.get(field) or "").lower() for field in fields)
    ]
