"""Magento `searchCriteria` query parameters, built as a small immutable value.

Filters inside one group are ORed, groups are ANDed (Magento has no OR across groups):

    SearchCriteria().where("updated_at", since, "gteq").sort("entity_id").page(1, 100)

`params()` renders the PHP nested-array query string Magento reads
(`searchCriteria[filter_groups][0][filters][0][field]=...`). Values are rendered the way
Magento compares them: datetimes as UTC "YYYY-MM-DD HH:MM:SS", lists comma-separated for
`in`/`nin`, booleans as 1/0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum


class Condition(StrEnum):
    """Magento's condition types (external-apis.md §3.3)."""

    EQ = "eq"
    NEQ = "neq"
    GT = "gt"
    GTEQ = "gteq"
    LT = "lt"
    LTEQ = "lteq"
    MOREQ = "moreq"
    LIKE = "like"
    NLIKE = "nlike"
    IN = "in"
    NIN = "nin"
    NULL = "null"
    NOTNULL = "notnull"
    FINSET = "finset"
    NFINSET = "nfinset"
    FROM = "from"
    TO = "to"


def magento_datetime(moment: datetime) -> str:
    """A datetime as Magento stores and compares it: UTC, "YYYY-MM-DD HH:MM:SS"."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive means UTC, as in Magento's own columns
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def render_value(value: object) -> str:
    if isinstance(value, datetime):
        return magento_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(render_value(item) for item in value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Filter:
    field: str
    value: object = ""
    condition: str = Condition.EQ


@dataclass(frozen=True)
class SearchCriteria:
    """An immutable searchCriteria; every builder method returns a new one."""

    filter_groups: tuple[tuple[Filter, ...], ...] = ()
    sort_orders: tuple[tuple[str, str], ...] = ()
    page_size: int | None = None
    current_page: int | None = None

    def where(self, field_name: str, value: object = "", condition: str = "eq") -> SearchCriteria:
        """AND one more condition (a filter group of its own)."""
        return self.any_of(Filter(field_name, value, Condition(condition)))

    def any_of(self, *filters: Filter) -> SearchCriteria:
        """AND a group of filters that are ORed with each other."""
        if not filters:
            return self
        return replace(self, filter_groups=(*self.filter_groups, tuple(filters)))

    def sort(self, field_name: str, direction: str = "ASC") -> SearchCriteria:
        direction = direction.upper()
        if direction not in ("ASC", "DESC"):
            raise ValueError(f"sort direction must be ASC or DESC, not {direction!r}")
        return replace(self, sort_orders=(*self.sort_orders, (field_name, direction)))

    def page(self, current_page: int, page_size: int) -> SearchCriteria:
        return replace(self, current_page=current_page, page_size=page_size)

    def params(self) -> list[tuple[str, str]]:
        """The query parameters; an empty criteria still sends `searchCriteria=` (required)."""
        params: list[tuple[str, str]] = []
        for group_index, group in enumerate(self.filter_groups):
            for filter_index, flt in enumerate(group):
                prefix = f"searchCriteria[filter_groups][{group_index}][filters][{filter_index}]"
                params += [
                    (f"{prefix}[field]", flt.field),
                    (f"{prefix}[value]", render_value(flt.value)),
                    (f"{prefix}[condition_type]", str(flt.condition)),
                ]
        for index, (field_name, direction) in enumerate(self.sort_orders):
            params += [
                (f"searchCriteria[sortOrders][{index}][field]", field_name),
                (f"searchCriteria[sortOrders][{index}][direction]", direction),
            ]
        if self.page_size is not None:
            params.append(("searchCriteria[pageSize]", str(self.page_size)))
        if self.current_page is not None:
            params.append(("searchCriteria[currentPage]", str(self.current_page)))
        return params or [("searchCriteria", "")]
