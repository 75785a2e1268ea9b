"""Salesforce wire conventions: 18-character ids, datetimes, error lists and record JSON.

Top-level REST errors are a JSON list `[{"message", "errorCode", "fields"?}]` (CONFIRMED);
sObject Collections use `statusCode` inside each result's `errors` (CONFIRMED). Datetimes go
out as `2024-01-15T10:20:30.000+0000` and SOQL accepts `Z`, `+hh:mm` and `+hhmm` offsets.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from connectors.salesforce.sandbox.schema import API_VERSION, FieldType, ObjectSpec
from connectors.sandbox.server import Response

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ID_PATTERN = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")


class ApiError(Exception):
    """A Salesforce error for the caller: status, errorCode, message and optional fields."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.record_id: str | None = None  # which record a collection result is about

    def as_rest(self) -> dict:
        body = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            body["fields"] = self.fields
        return body

    def as_collection(self) -> dict:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}

    def response(self) -> Response:
        return Response(self.status, [self.as_rest()])


def id_suffix(short_id: str) -> str:
    """The 3-character case-safe suffix that turns a 15-character id into 18."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(short_id[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_CHARS[bits]
    return suffix


def make_id(prefix: str, number: int) -> str:
    """An 18-character id: key prefix, instance marker, base62 counter, checksum suffix."""
    digits = ""
    while number:
        number, remainder = divmod(number, 62)
        digits = _BASE62[remainder] + digits
    short = f"{prefix}8d{digits.rjust(10, '0')}"
    return short + id_suffix(short)


def normalise_id(value: str) -> str | None:
    """An id in its 18-character form, or None if the text cannot be an id."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        return None
    if len(value) == 15:
        return value + id_suffix(value)
    if id_suffix(value[:15]).lower() != value[15:].lower():
        return None
    return value[:15] + id_suffix(value[:15])


def format_datetime(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def now_text() -> str:
    return format_datetime(datetime.now(UTC))


_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"(Z|[+-]\d{2}:?\d{2})"
)


def parse_datetime(text: str) -> datetime | None:
    """A Salesforce/SOQL datetime literal as an aware UTC datetime, or None."""
    match = _DATETIME.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second),
        int((fraction or "0").ljust(6, "0")),
        tzinfo=UTC,
    )
    if offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def canonical_datetime(text: str) -> str | None:
    moment = parse_datetime(text)
    return format_datetime(moment) if moment else None


def json_number(value: object) -> object:
    """Stored numbers are strings of Decimal; the wire has bare JSON numbers."""
    if isinstance(value, str):
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    return value


def sobject_url(version: str, name: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{name}/{record_id}"


def address_of(doc: dict, prefix: str) -> dict | None:
    parts = {
        "street": doc.get(f"{prefix}Street"),
        "city": doc.get(f"{prefix}City"),
        "state": doc.get(f"{prefix}State"),
        "postalCode": doc.get(f"{prefix}PostalCode"),
        "country": doc.get(f"{prefix}Country"),
    }
    if not any(parts.values()):
        return None
    return {
        **parts,
        "stateCode": None,
        "countryCode": None,
        "geocodeAccuracy": None,
        "latitude": None,
        "longitude": None,
    }


def field_value(spec: ObjectSpec, doc: dict, name: str) -> object:
    """A field's wire value (compound addresses assembled, numbers unquoted)."""
    field_spec = spec.fields[name]
    if field_spec.type == FieldType.ADDRESS:
        return address_of(doc, name[: -len("Address")])
    value = doc.get(name)
    if value is not None and field_spec.type in (
        FieldType.CURRENCY,
        FieldType.DOUBLE,
        FieldType.PERCENT,
        FieldType.INT,
    ):
        return json_number(value)
    return value


def render_record(
    spec: ObjectSpec, doc: dict, fields: list[str] | None = None, version: str = API_VERSION
) -> dict:
    """The record JSON of GET /sobjects/<Obj>/<Id>: attributes first, then the fields."""
    names = fields or list(spec.fields)
    record = {"attributes": {"type": spec.name, "url": sobject_url(version, spec.name, doc["Id"])}}
    for name in names:
        record[name] = field_value(spec, doc, name)
    return record
