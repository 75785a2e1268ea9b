"""Turning request values (JSON or Bulk CSV text) into stored field values, with SF's errors.

Stored documents keep numbers as Decimal strings, dates as `YYYY-MM-DD`, datetimes in the API
format and booleans as JSON booleans. The messages copy Salesforce's wording where it is known
(`Required fields are missing: [Name]`, `data value too large`, `id value of incorrect type`).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from connectors.salesforce.sandbox.schema import FieldSpec, FieldType, ObjectSpec
from connectors.salesforce.sandbox.wire import ApiError, canonical_datetime, normalise_id

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Picklists the sandbox org restricts; the others accept any value, as unrestricted ones do.
RESTRICTED_PICKLISTS = {("Opportunity", "StageName")}


def _type_error(spec: FieldSpec, value: object) -> ApiError:
    return ApiError(
        400,
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        f"{spec.label}: value not of required type: {value}",
        [spec.name],
    )


def coerce(object_spec: ObjectSpec, spec: FieldSpec, value: object, from_text: bool) -> object:
    """The stored form of one value; `from_text` for Bulk CSV cells (everything is a string)."""
    if from_text and value == "":
        return None  # an empty CSV cell leaves the field empty
    if value is None:
        return None
    kind = spec.type
    if kind == FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise _type_error(spec, value)
    if kind in (FieldType.CURRENCY, FieldType.DOUBLE, FieldType.PERCENT, FieldType.INT):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _type_error(spec, value)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _type_error(spec, value) from None
        if not number.is_finite():
            raise _type_error(spec, value)
        if kind == FieldType.INT:
            return str(int(number))
        return str(number.quantize(Decimal("0.01")) if kind == FieldType.CURRENCY else number)
    if not isinstance(value, str):
        if kind in (FieldType.STRING, FieldType.TEXTAREA, FieldType.PICKLIST) and isinstance(
            value, int | float
        ):
            value = str(value)
        else:
            raise _type_error(spec, value)
    if kind == FieldType.DATE:
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            raise _type_error(spec, value) from None
    if kind == FieldType.DATETIME:
        text = canonical_datetime(value)
        if text is None:
            raise _type_error(spec, value)
        return text
    if kind == FieldType.REFERENCE:
        record_id = normalise_id(value)
        if record_id is None:
            raise ApiError(
                400,
                "MALFORMED_ID",
                f"{spec.label}: id value of incorrect type: {value}",
                [spec.name],
            )
        return record_id
    if kind == FieldType.EMAIL and value and not _EMAIL.fullmatch(value):
        raise ApiError(
            400, "INVALID_EMAIL_ADDRESS", f"{spec.label}: invalid email address: {value}", []
        )
    restricted = (object_spec.name, spec.name) in RESTRICTED_PICKLISTS
    if kind == FieldType.PICKLIST and restricted and value not in spec.picklist:
        raise ApiError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{spec.label}: bad value for restricted picklist field: {value}",
            [spec.name],
        )
    if spec.length and len(value) > spec.length:
        raise ApiError(
            400,
            "STRING_TOO_LONG",
            f"{spec.label}: data value too large: {value[:40]} (max length={spec.length})",
            [spec.name],
        )
    return value


def clean_values(
    object_spec: ObjectSpec, values: dict, *, creating: bool, from_text: bool = False
) -> dict:
    """Validate a create/update body: known, writable fields only, each coerced."""
    if not isinstance(values, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object of field values")
    cleaned = {}
    not_writable = []
    for raw_name, value in values.items():
        if raw_name == "attributes":
            continue
        spec = object_spec.field(raw_name)
        if spec is None:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{raw_name}' on sobject of type {object_spec.name}",
            )
        if spec.name == "Id":
            if creating:
                raise ApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "Record ID: cannot specify Id in an insert call",
                    ["Id"],
                )
            continue  # the URL names the record; an Id in the body is ignored
        if not (spec.createable if creating else spec.updateable):
            not_writable.append(spec.name)
            continue
        cleaned[spec.name] = coerce(object_spec, spec, value, from_text)
    if not_writable:
        raise ApiError(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to {'create' if creating else 'update'} fields: {', '.join(not_writable)}."
            " Please check the security settings of this field and verify that it is"
            " read/write for your profile or permission set.",
            not_writable,
        )
    return cleaned


def check_required(object_spec: ObjectSpec, doc: dict) -> None:
    missing = [
        spec.name
        for spec in object_spec.fields.values()
        if spec.required and doc.get(spec.name) in (None, "")
    ]
    if missing:
        raise ApiError(
            400,
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )
