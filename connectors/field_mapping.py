"""Configurable field mappings: extra or custom fields of a system mapped to golden attributes.

A FieldMapping names a path in the system's raw record (`Industry`, `custom_attributes.tier`,
`CustomTextBoxes[Name=Region].Value`), a golden attribute to fill, and a list of transform
steps from a fixed, safe set. No expressions are evaluated: each step is data interpreted by
the small functions below, so a mapping can never run code.

Steps (JSON objects with an "op"):
- {"op": "trim"}
- {"op": "case", "mode": "upper" | "lower" | "title"}
- {"op": "date_format", "from": "%d/%m/%Y", "to": "%Y-%m-%d"}   (strftime patterns)
- {"op": "concat", "paths": ["FirstName", "LastName"], "separator": " "}
- {"op": "split", "separator": ",", "index": 0}
- {"op": "lookup", "table": {"A": "Gold"}, "default": "Other"}   (default optional)
- {"op": "default", "value": "n/a"}   (used when the value is blank)
"""

import re
from datetime import datetime

from django.core.exceptions import ValidationError

_SEGMENT = re.compile(
    r"^(?P<name>[A-Za-z_][\w-]*)(?:\[(?:(?P<index>\d+)|(?P<key>\w+)=(?P<match>[^\]]*))\])?$"
)
ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
OPS = {
    "trim": set(),
    "case": {"mode"},
    "date_format": {"from", "to"},
    "concat": {"paths"},
    "split": {"separator", "index"},
    "lookup": {"table"},
    "default": {"value"},
}
OPTIONAL = {"concat": {"separator"}, "lookup": {"default"}}
CASE_MODES = {"upper", "lower", "title"}


def parse_path(path: str) -> list[dict]:
    """Split a path into segments; raises ValidationError with the bad part."""
    if not path or not path.strip():
        raise ValidationError("the source path is empty")
    segments = []
    for part in path.strip().split("."):
        match = _SEGMENT.match(part)
        if not match:
            raise ValidationError(
                f"{part!r} is not a valid path segment; use name, name[0] or name[Key=Value]"
            )
        segments.append(match.groupdict())
    return segments


def read_path(payload, path: str):
    """The value at `path` in a raw record, or None when any step is missing."""
    value = payload
    for segment in parse_path(path):
        if isinstance(value, dict):
            value = value.get(segment["name"])
        else:
            return None
        if segment["index"] is not None:
            index = int(segment["index"])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        elif segment["key"] is not None:
            if not isinstance(value, list):
                return None
            value = next(
                (
                    item
                    for item in value
                    if isinstance(item, dict) and str(item.get(segment["key"])) == segment["match"]
                ),
                None,
            )
        if value is None:
            return None
    return value


def validate_steps(steps) -> None:
    """Raise ValidationError naming the first step that is not in the safe set or is incomplete."""
    if not isinstance(steps, list):
        raise ValidationError("transforms must be a list of steps")
    for position, step in enumerate(steps, start=1):
        if not isinstance(step, dict) or step.get("op") not in OPS:
            raise ValidationError(f"step {position}: op must be one of {', '.join(sorted(OPS))}")
        op = step["op"]
        missing = OPS[op] - set(step)
        if missing:
            raise ValidationError(f"step {position} ({op}): missing {', '.join(sorted(missing))}")
        unknown = set(step) - OPS[op] - OPTIONAL.get(op, set()) - {"op"}
        if unknown:
            raise ValidationError(f"step {position} ({op}): unknown {', '.join(sorted(unknown))}")
        if op == "case" and step["mode"] not in CASE_MODES:
            raise ValidationError(f"step {position}: case mode must be upper, lower or title")
        if op == "concat":
            if not isinstance(step["paths"], list) or not step["paths"]:
                raise ValidationError(f"step {position}: concat needs a list of paths")
            for path in step["paths"]:
                parse_path(path)
        if op == "split" and not isinstance(step["index"], int):
            raise ValidationError(f"step {position}: split index must be a whole number")
        if op == "lookup" and not isinstance(step["table"], dict):
            raise ValidationError(f"step {position}: lookup table must be an object")
        if op == "date_format":
            for key in ("from", "to"):
                if "%" not in str(step[key]):
                    raise ValidationError(f"step {position}: {key} must be a strftime pattern")


def run_steps(value, steps: list[dict], payload: dict):
    """Apply the steps to a value read from `payload`. A step that cannot apply raises
    ValueError with the reason (the caller reports it and keeps the record)."""
    for step in steps:
        op = step["op"]
        if op == "trim":
            value = value.strip() if isinstance(value, str) else value
        elif op == "case" and isinstance(value, str):
            value = getattr(value, step["mode"])()
        elif op == "date_format" and value not in (None, ""):
            value = datetime.strptime(str(value), step["from"]).strftime(step["to"])
        elif op == "concat":
            parts = [read_path(payload, path) for path in step["paths"]]
            value = step.get("separator", " ").join(
                str(part) for part in parts if part not in (None, "")
            )
        elif op == "split" and isinstance(value, str):
            pieces = [piece.strip() for piece in value.split(step["separator"])]
            value = pieces[step["index"]] if -len(pieces) <= step["index"] < len(pieces) else None
        elif op == "lookup":
            value = step["table"].get(str(value), step.get("default", value))
        elif op == "default" and value in (None, ""):
            value = step["value"]
    return value


def mapped_value(mapping, payload: dict):
    return run_steps(read_path(payload, mapping.source_path), mapping.transforms or [], payload)


def apply_field_mappings(connection, entity: str, payload: dict, record) -> None:
    """Fill record.custom_attributes from the connection's enabled mappings for `entity`.

    The mappings are read once per connection object and kept on it, so a pull of thousands
    of records runs one query.
    """
    cache = getattr(connection, "_field_mappings", None)
    if cache is None:
        if connection.pk is None:
            cache = []
        else:
            cache = list(connection.field_mappings.filter(enabled=True).order_by("position", "pk"))
        connection._field_mappings = cache
    for mapping in cache:
        if mapping.entity != entity:
            continue
        try:
            value = mapped_value(mapping, payload)
        except (ValueError, TypeError) as exc:
            record.custom_attributes.setdefault("_mapping_errors", []).append(
                f"{mapping.target_attribute}: {exc}"
            )
            continue
        if value not in (None, ""):
            record.custom_attributes[mapping.target_attribute] = value


# Default templates: common extra fields of each system, offered by the admin action
# "Add the default field mappings". (source path, target attribute, steps)
DEFAULT_TEMPLATES: dict[str, dict[str, list[tuple[str, str, list[dict]]]]] = {
    "salesforce": {
        "customer": [
            ("Industry", "industry", [{"op": "trim"}]),
            ("Website", "website", [{"op": "trim"}, {"op": "case", "mode": "lower"}]),
            ("NumberOfEmployees", "employees", []),
            ("AccountNumber", "account_number", [{"op": "trim"}]),
        ],
        "product": [("Family", "product_family", [{"op": "trim"}])],
    },
    "magento": {
        "customer": [
            (
                "group_id",
                "customer_group",
                [
                    {
                        "op": "lookup",
                        "table": {"1": "General", "2": "Wholesale", "3": "Retailer"},
                        "default": "General",
                    }
                ],
            ),
            ("dob", "date_of_birth", [{"op": "date_format", "from": "%Y-%m-%d", "to": "%Y-%m-%d"}]),
            (
                "gender",
                "gender",
                [{"op": "lookup", "table": {"1": "male", "2": "female", "3": "not specified"}}],
            ),
        ],
        "product": [
            ("weight", "weight", []),
            (
                "visibility",
                "visibility",
                [
                    {
                        "op": "lookup",
                        "table": {
                            "1": "not visible",
                            "2": "catalog",
                            "3": "search",
                            "4": "catalog and search",
                        },
                    }
                ],
            ),
        ],
    },
    "kashflow": {
        "customer": [
            ("Website", "website", [{"op": "trim"}, {"op": "case", "mode": "lower"}]),
            ("Note", "note", [{"op": "trim"}]),
            ("PaymentTerms.Days", "payment_terms_days", []),
        ],
        "product": [("NominalCode", "nominal_code", [])],
    },
}
