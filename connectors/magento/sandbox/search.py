"""`searchCriteria` read from the query string the way Magento reads it, applied to records.

`searchCriteria[filter_groups][0][filters][0][field]=...` is PHP's nested-array syntax; Magento
accepts snake_case and camelCase keys (`filter_groups`/`filterGroups`, `sortOrders`/
`sort_orders`, `pageSize`, `currentPage`, `condition_type`/`conditionType`). Filters in one group
are ORed, groups are ANDed. Values compare like MySQL would: numbers numerically, text
case-insensitively (utf8 general collation), a missing field is NULL and matches nothing but
`null`. The envelope echoes what was asked (`filter_groups` always, the rest only when given) and
a `currentPage` past the end answers with the last page again (magento2 #3787/#8099/#26986).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from connectors.magento.sandbox.common import (
    MAX_PAGE_SIZE,
    REQUIRED_PARAMETER,
    MagentoError,
    number_or_error,
    required,
)

CONDITION_TYPES = {
    "eq",
    "neq",
    "gt",
    "gteq",
    "moreq",
    "lt",
    "lteq",
    "like",
    "nlike",
    "in",
    "nin",
    "null",
    "notnull",
    "finset",
    "nfinset",
    "from",
    "to",
}
_KEY_ALIASES = {
    "filterGroups": "filter_groups",
    "sortOrders": "sort_orders",
    "pageSize": "page_size",
    "currentPage": "current_page",
    "conditionType": "condition_type",
}


@dataclass(frozen=True)
class InputLimits:
    """Stores > Configuration > Services > Web API Input Limits (shipped enabled in 2.4.3)."""

    enabled: bool = True
    list_limit: int = 20
    default_page_size: int = 20
    max_page_size: int = 300


@dataclass
class Filter:
    field: str
    value: str
    condition_type: str = "eq"


@dataclass
class SearchCriteria:
    present: bool = False
    filter_groups: list[list[Filter]] = field(default_factory=list)
    sort_orders: list[tuple[str, str]] = field(default_factory=list)
    page_size: int | None = None
    current_page: int | None = None

    def echo(self) -> dict:
        echoed: dict[str, Any] = {
            "filter_groups": [
                {
                    "filters": [
                        {"field": f.field, "value": f.value, "condition_type": f.condition_type}
                        for f in group
                    ]
                }
                for group in self.filter_groups
            ]
        }
        if self.sort_orders:
            echoed["sort_orders"] = [
                {"field": name, "direction": direction} for name, direction in self.sort_orders
            ]
        if self.page_size is not None:
            echoed["page_size"] = self.page_size
        if self.current_page is not None:
            echoed["current_page"] = self.current_page
        return echoed


def _nested(raw_query: str) -> tuple[bool, dict]:
    present = False
    tree: dict = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        if not key.startswith("searchCriteria"):
            continue
        rest = key[len("searchCriteria") :]
        parts = re.findall(r"\[([^\]]*)\]", rest)
        if rest and "".join(f"[{part}]" for part in parts) != rest:
            continue  # not PHP array syntax; PHP would drop it too
        present = True
        node = tree
        for position, part in enumerate(parts):
            part = _KEY_ALIASES.get(part, part)
            if position == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return present, tree


def parse_search_criteria(raw_query: str) -> SearchCriteria:
    present, tree = _nested(raw_query)
    criteria = SearchCriteria(present=present)
    groups = tree.get("filter_groups")
    for group in groups.values() if isinstance(groups, dict) else []:
        filters = group.get("filters") if isinstance(group, dict) else None
        parsed = []
        for spec in filters.values() if isinstance(filters, dict) else []:
            if not isinstance(spec, dict) or not spec.get("field"):
                raise required("field")
            condition = (spec.get("condition_type") or "eq").lower()
            if condition not in CONDITION_TYPES:
                raise MagentoError(
                    400,
                    'Invalid value of "%value" provided for the %fieldName field.',
                    {"value": condition, "fieldName": "condition_type"},
                )
            parsed.append(Filter(spec["field"], str(spec.get("value", "")), condition))
        if parsed:
            criteria.filter_groups.append(parsed)
    orders = tree.get("sort_orders")
    for spec in orders.values() if isinstance(orders, dict) else []:
        if isinstance(spec, dict) and spec.get("field"):
            direction = "DESC" if str(spec.get("direction", "")).upper() == "DESC" else "ASC"
            criteria.sort_orders.append((spec["field"], direction))
    if "page_size" in tree:
        criteria.page_size = number_or_error(tree["page_size"])
    if "current_page" in tree:
        criteria.current_page = number_or_error(tree["current_page"])
    return criteria


def require_search_criteria(criteria: SearchCriteria) -> None:
    """getList(SearchCriteriaInterface) has a required argument: no searchCriteria → 400."""
    if not criteria.present:
        raise MagentoError(400, REQUIRED_PARAMETER, {"fieldName": "searchCriteria"})


# Matching -------------------------------------------------------------------------------
def lookup(record: dict, name: str) -> Any:
    """A field of a record; EAV custom attributes count as fields, as they do in Magento.

    `entity_id` is the column behind a customer's or product's `id`, so filters and sorts on
    it work as in real Magento (which rejects `id` for those entities).
    """
    if name == "entity_id" and name not in record and "id" in record:
        value = record["id"]
    elif name in record:
        value = record[name]
    else:
        value = None
        for attribute in record.get("custom_attributes") or []:
            if attribute.get("attribute_code") == name:
                value = attribute.get("value")
                break
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return value


def _as_number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _compare(actual: Any, wanted: str) -> int:
    """-1, 0 or 1 like MySQL comparing a column with a quoted value."""
    if isinstance(actual, int | float):
        number = _as_number(wanted)
        if number is not None:
            left = Decimal(str(actual))
            return (left > number) - (left < number)
    left, right = str(actual).casefold(), wanted.casefold()
    return (left > right) - (left < right)


def _like(actual: Any, pattern: str) -> bool:
    regex = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, str(actual), re.IGNORECASE | re.DOTALL) is not None


def matches(record: dict, flt: Filter) -> bool:
    actual = lookup(record, flt.field)
    condition = flt.condition_type
    if condition == "null":
        return actual is None
    if condition == "notnull":
        return actual is not None
    if actual is None:
        return False  # SQL: NULL compared with anything is not true
    if condition == "eq":
        return _compare(actual, flt.value) == 0
    if condition == "neq":
        return _compare(actual, flt.value) != 0
    if condition == "gt":
        return _compare(actual, flt.value) > 0
    if condition in ("gteq", "moreq", "from"):
        return _compare(actual, flt.value) >= 0
    if condition == "lt":
        return _compare(actual, flt.value) < 0
    if condition in ("lteq", "to"):
        return _compare(actual, flt.value) <= 0
    if condition == "like":
        return _like(actual, flt.value)
    if condition == "nlike":
        return not _like(actual, flt.value)
    values = [part.strip() for part in flt.value.split(",")]
    if condition == "in":
        return any(_compare(actual, value) == 0 for value in values)
    if condition == "nin":
        return all(_compare(actual, value) != 0 for value in values)
    members = [part.strip().casefold() for part in str(actual).split(",")]
    if condition == "finset":
        return flt.value.casefold() in members
    return flt.value.casefold() not in members  # nfinset


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (0, 0, "")  # MySQL puts NULL first in ascending order
    if isinstance(value, int | float):
        return (1, 0, Decimal(str(value)))
    return (1, 1, str(value).casefold())


def search(
    records: list[dict],
    criteria: SearchCriteria,
    limits: InputLimits,
    render=None,
) -> dict:
    """The `{"items", "search_criteria", "total_count"}` envelope for one page of records."""
    found = [
        record
        for record in records
        if all(any(matches(record, flt) for flt in group) for group in criteria.filter_groups)
    ]
    for name, direction in reversed(criteria.sort_orders):
        found.sort(key=lambda record: _sort_key(lookup(record, name)), reverse=direction == "DESC")
    total = len(found)
    page_size = criteria.page_size or (limits.default_page_size if limits.enabled else 0)
    if limits.enabled and page_size > limits.max_page_size:
        raise MagentoError(400, MAX_PAGE_SIZE, {"max": limits.max_page_size})
    if page_size:
        last_page = max(1, math.ceil(total / page_size))
        page = min(max(criteria.current_page or 1, 1), last_page)
        found = found[(page - 1) * page_size : page * page_size]
    items = [render(record) for record in found] if render else found
    return {"items": items, "search_criteria": criteria.echo(), "total_count": total}
