"""Survivorship: which source value each golden attribute takes, and why (provenance).

Rules are per entity and attribute (or attribute group: a name or an address survives whole, so
a street never pairs with another record's postcode). Defaults are below; a `SurvivorshipRule`
row overrides one. Values that fail validation (a malformed email, an impossible phone) never
win; a steward-pinned value wins until it is unpinned. Under source priority a system's trust
halves every `half_life_days` of the value's age.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from mdm.bulkwrite import JsonText, insert_rows, json_dumps, update_rows
from mdm.matching import normalise
from mdm.models import (
    Entity,
    GoldenRecord,
    HistoryAction,
    HistoryEntry,
    Provenance,
    SourceRecord,
    SurvivorshipRule,
)
from mdm.models import SurvivorshipRuleKind as Rule

ADDRESS_PARTS = ("line1", "line2", "city", "region", "postcode", "country")
PINNED = "pinned"
DEFAULT_TRUST = 0.5

# attribute or group -> (attributes it sets, default rule)
CUSTOMER_RULES: dict[str, tuple[tuple[str, ...], str]] = {
    "company_name": (("company_name",), Rule.MOST_FREQUENT),
    "name": (("first_name", "last_name"), Rule.MOST_FREQUENT),
    "email": (("email",), Rule.MOST_RECENT),
    "phone": (("phone",), Rule.MOST_RECENT),
    "billing_address": (tuple(f"billing_{part}" for part in ADDRESS_PARTS), Rule.MOST_RECENT),
    "shipping_address": (tuple(f"shipping_{part}" for part in ADDRESS_PARTS), Rule.MOST_RECENT),
    "vat_number": (("vat_number",), Rule.MOST_RECENT),
    "emails": (("emails",), Rule.AGGREGATE),
    "phones": (("phones",), Rule.AGGREGATE),
    "custom_attributes": (("custom_attributes",), Rule.AGGREGATE),
}
PRODUCT_RULES: dict[str, tuple[tuple[str, ...], str]] = {
    "sku": (("sku",), Rule.MOST_FREQUENT),
    "name": (("name",), Rule.SOURCE_PRIORITY),
    "description": (("description",), Rule.LONGEST),
    "unit_price": (("unit_price",), Rule.MOST_RECENT),
    "currency": (("currency",), Rule.MOST_RECENT),
    "tax_code": (("tax_code",), Rule.MOST_RECENT),
    "stock": (("stock",), Rule.MOST_RECENT),
    "active": (("active",), Rule.MOST_RECENT),
}
# Aggregates collect every valid value of another attribute.
AGGREGATE_SOURCES = {"emails": "email", "phones": "phone"}


@dataclass
class Survivor:
    value: object
    source_record_id: int | None
    rule: str


@dataclass(slots=True)
class RecordValues:
    """What survivorship reads of a source record, without building a model instance."""

    id: int
    system: str
    attributes: dict
    source_modified_at: datetime | None
    updated_at: datetime | None


def rules_for(entity: str) -> dict[str, tuple[tuple[str, ...], str]]:
    return CUSTOMER_RULES if entity == Entity.CUSTOMER else PRODUCT_RULES


def _country(attributes: dict) -> str:
    return normalise.country(
        attributes.get("billing_country") or attributes.get("shipping_country") or ""
    )


def clean_value(attribute: str, value, attributes: dict):
    """The value as the golden record stores it, or None when it is empty or invalid."""
    if value in (None, "", [], {}):
        return None
    if attribute in ("email", "emails"):
        return _clean_text("email", value, "") if isinstance(value, str) else None
    if attribute in ("phone", "phones") or attribute.endswith("_postcode"):
        kind = "postcode" if attribute.endswith("_postcode") else "phone"
        return _clean_text(kind, str(value), _country(attributes))
    if attribute.endswith("_country"):
        return normalise.country(value) or None
    if attribute in ("unit_price", "stock"):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return value


@lru_cache(maxsize=65536)  # survivorship meets the same values again on every recompute
def _clean_text(kind: str, value: str, country: str) -> str | None:
    if kind == "email":
        return normalise.email(value) or None
    if kind == "phone":
        return normalise.phone(value, country) or None
    return normalise.postcode(value, country) or None


def _modified(record: SourceRecord) -> datetime:
    return record.source_modified_at or record.updated_at or datetime.min.replace(tzinfo=UTC)


def _group_value(record: SourceRecord, attributes: tuple[str, ...]) -> tuple | None:
    values = tuple(
        clean_value(name, record.attributes.get(name), record.attributes) for name in attributes
    )
    return values if any(value is not None for value in values) else None


def _pick(
    rule: str, options: list[tuple[tuple, SourceRecord]], config: SurvivorshipRule | None, now
) -> tuple[tuple, SourceRecord]:
    """The winning (values, record) among valid options under one rule; ties: most recent.

    Records equally recent (a file without modification times, loaded at once) are told apart
    by how many of them hold the value, then by the later record: "Rose Bay" held by two
    systems wins over one system's "Roseb Ay" whatever the file order.
    """
    if len(options) == 1:  # most golden records: nothing to choose
        return options[0]
    counts = Counter(values for values, _ in options)

    def recency(option):
        return (_modified(option[1]), counts[option[0]], option[1].id)

    if rule == Rule.MOST_FREQUENT:
        return max(options, key=lambda option: (counts[option[0]], recency(option)))
    if rule == Rule.LONGEST:
        return max(
            options,
            key=lambda option: (
                sum(len(str(v)) for v in option[0] if v is not None),
                recency(option),
            ),
        )
    if rule in (Rule.MINIMUM, Rule.MAXIMUM):
        chooser = min if rule == Rule.MINIMUM else max
        return chooser(options, key=lambda option: (option[0], recency(option)))
    if rule == Rule.SOURCE_PRIORITY:
        trust_map = (config.source_trust if config else {}) or {}
        half_life = (config.half_life_days if config else 365) or 365

        def trust(option):
            age_days = max((now - _modified(option[1])).total_seconds() / 86400, 0)
            base = float(trust_map.get(option[1].system, DEFAULT_TRUST))
            return (base * 0.5 ** (age_days / half_life), recency(option))

        return max(options, key=trust)
    return max(options, key=recency)


def survive(
    entity: str,
    records: list[SourceRecord],
    pinned: dict | None = None,
    overrides: dict[str, SurvivorshipRule] | None = None,
    now: datetime | None = None,
) -> dict[str, Survivor]:
    """The surviving value of every attribute of a golden record built from these records."""
    now = now or datetime.now(UTC)
    pinned = pinned or {}
    overrides = overrides or {}
    result: dict[str, Survivor] = {}
    for group, (attributes, default_rule) in rules_for(entity).items():
        config = overrides.get(group)
        rule = config.rule if config else default_rule
        if default_rule == Rule.AGGREGATE:
            result[attributes[0]] = _aggregate(group, records)
            continue
        if rule == Rule.AGGREGATE:  # a single-valued attribute cannot keep all values
            rule = Rule.MOST_RECENT
        options = [
            (values, record)
            for record in records
            if (values := _group_value(record, attributes)) is not None
        ]
        if options:
            values, winner = _pick(rule, options, config, now)
            for name, value in zip(attributes, values, strict=True):
                result[name] = Survivor(value, winner.id, rule)
        else:
            for name in attributes:
                result[name] = Survivor(None, None, rule)
    for name, value in pinned.items():
        if name in result:
            result[name] = Survivor(clean_value(name, value, {}) or value, None, PINNED)
    return result


def _aggregate(group: str, records: list[SourceRecord]) -> Survivor:
    ordered = sorted(records, key=lambda record: (_modified(record), record.id))
    if group == "custom_attributes":
        merged: dict = {}
        for record in ordered:
            merged.update(record.attributes.get("custom_attributes") or {})
        return Survivor(merged, None, Rule.AGGREGATE)
    source = AGGREGATE_SOURCES.get(group, group)
    seen: list = []
    for record in reversed(ordered):
        value = clean_value(source, record.attributes.get(source), record.attributes)
        if value is not None and value not in seen:
            seen.append(value)
    return Survivor(seen, None, Rule.AGGREGATE)


def _empty(golden: GoldenRecord, name: str):
    field = golden._meta.get_field(name)
    if field.null:
        return None
    if field.get_internal_type() == "JSONField":
        return field.default()
    if field.get_internal_type() == "BooleanField":
        return field.default
    return ""


def _comparable(value):
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    return value


def apply_survivorship(golden: GoldenRecord, *, actor=None, reason: str = "") -> dict:
    """Recompute a golden record's values and provenance; record any change in history.

    Returns the changes as {attribute: [before, after]}.
    """
    entity = golden.ENTITY
    records = list(golden.source_records())
    survivors = survive(entity, records, golden.pinned, survivorship_overrides(entity))
    changes = _apply(golden, survivors)
    if changes:
        golden.save()
        HistoryEntry.objects.create(
            entity=entity,
            golden_id=golden.id,
            action=HistoryAction.UPDATED,
            changes=changes,
            actor=actor,
            reason=reason[:255],
        )
    write_provenance(golden, survivors)
    return changes


def _apply(golden: GoldenRecord, survivors: dict[str, Survivor]) -> dict:
    """Set the surviving values on the golden record; returns {attribute: [before, after]}."""
    changes = {}
    for name, survivor in survivors.items():
        value = survivor.value if survivor.value is not None else _empty(golden, name)
        before = getattr(golden, name)
        if _comparable(before) != _comparable(value):
            changes[name] = [_jsonable(before), _jsonable(value)]
            setattr(golden, name, value)
    return changes


def apply_survivorship_many(model, golden_ids, *, actor=None, reason: str = "") -> int:
    """`apply_survivorship` for many golden records with a few queries per 500 of them.

    Same rules, same history and provenance, without a dozen queries per record: the batch
    import's path for golden records that gained source records, and the admin's "Recompute"
    over a whole list after a rule changed. Returns how many changed.
    """
    overrides = survivorship_overrides(model.ENTITY)
    ids = sorted(golden_ids, key=str)
    changed_total = 0
    for start in range(0, len(ids), 500):
        inputs = survivorship_inputs(model, ids[start : start + 500])
        outcomes = [survivorship_outcome(golden, inputs, overrides) for golden in inputs.goldens]
        changed_total += write_survivorship(model, inputs, outcomes, actor=actor, reason=reason)
    return changed_total


@dataclass
class SurvivorshipInputs:
    """What `survivorship_outcome` reads for some golden records (`survivorship_inputs`)."""

    goldens: list  # the active ones among those asked for, as model instances
    members: dict  # golden id -> [RecordValues]
    provenance: dict  # golden id -> (provenance pk, stored attributes)


def survivorship_inputs(model, golden_ids: list) -> SurvivorshipInputs:
    """The golden records, their source records and stored provenance: three queries per 500
    ids."""
    from mdm.bulkwrite import json_loads, json_text

    entity = model.ENTITY
    golden_field = "customer_id" if entity == Entity.CUSTOMER else "product_id"
    goldens, members, provenance = [], {}, {}
    for start in range(0, len(golden_ids), 500):
        some = golden_ids[start : start + 500]
        goldens += [
            golden for golden in model.objects.filter(pk__in=some) if not golden.is_tombstone
        ]
        rows = (
            SourceRecord.objects.filter(**{f"{golden_field}__in": some})
            .annotate(attributes_text=json_text("attributes"))
            .values_list(
                golden_field, "id", "system", "attributes_text", "source_modified_at", "updated_at"
            )
        )
        for golden_id, record_id, system, attributes, modified, updated in rows:
            members.setdefault(golden_id, []).append(
                RecordValues(record_id, system, json_loads(attributes), modified, updated)
            )
        provenance.update(
            (golden_id, (pk, json_loads(attributes)))
            for pk, golden_id, attributes in Provenance.objects.filter(
                entity=entity, golden_id__in=some
            )
            .annotate(attributes_text=json_text("attributes"))
            .values_list("pk", "golden_id", "attributes_text")
        )
    return SurvivorshipInputs(goldens, members, provenance)


def survivorship_outcome(golden, inputs: SurvivorshipInputs, overrides: dict) -> tuple:
    """(changes, the new values of the changed attributes, the provenance to store or None
    if the stored one is right) of one golden record; needs no database. `golden` is changed
    too, which a forked worker may do to its own copy."""
    survivors = survive(golden.ENTITY, inputs.members.get(golden.pk, []), golden.pinned, overrides)
    changes = _apply(golden, survivors)
    wanted = provenance_map(survivors)
    stored = inputs.provenance.get(golden.pk)
    # As text: a worker's outcomes travel back pickled (see `JsonText`).
    provenance = None if stored is not None and stored[1] == wanted else json_dumps(wanted)
    return changes, {name: getattr(golden, name) for name in changes}, provenance


def write_survivorship(
    model, inputs: SurvivorshipInputs, outcomes: list, *, actor=None, reason: str = ""
) -> int:
    """Write the `survivorship_outcome` of each of `inputs.goldens`: values, history and
    provenance. Returns how many golden records changed."""
    entity = model.ENTITY
    changed, fields, history, new_provenance, stale_provenance = [], set(), [], [], []
    for golden, (changes, values, provenance) in zip(inputs.goldens, outcomes, strict=True):
        if changes:
            for name, value in values.items():
                setattr(golden, name, value)
            changed.append(golden)
            fields.update(changes)
            history.append(
                {"entity": entity, "golden_id": golden.pk, "action": HistoryAction.UPDATED,
                 "changes": changes, "actor_id": getattr(actor, "pk", None),
                 "reason": reason[:255]}
            )  # fmt: skip
        if provenance is None:
            continue
        provenance = JsonText(provenance)  # written as JSON by `survivorship_outcome`
        stored = inputs.provenance.get(golden.pk)
        if stored is None:
            new_provenance.append(
                {"entity": entity, "golden_id": golden.pk, "attributes": provenance}
            )
        else:
            stale_provenance.append(Provenance(pk=stored[0], attributes=provenance))
    update_rows(model, changed, [*sorted(fields), "updated_at"])
    insert_rows(HistoryEntry, history)
    insert_rows(Provenance, new_provenance)
    update_rows(Provenance, stale_provenance, ["attributes", "updated_at"])
    return len(changed)


def survivorship_overrides(entity: str) -> dict[str, SurvivorshipRule]:
    """The stewards' rules of an entity, by attribute (or group), for `survive`."""
    return {rule.attribute: rule for rule in SurvivorshipRule.objects.filter(entity=entity)}


def provenance_map(survivors: dict[str, Survivor]) -> dict:
    """{attribute: {"value", "source_record_id", "rule"}} of the attributes a source or a pin
    gave: one left empty by every source is left out (`provenance_of` readers take a missing
    attribute as empty). A customer has 21 attributes and a typical record fills 8 or 9: the
    empty ones were half the bytes of every provenance row (1.6 KB on average), written,
    parsed and read back for every golden record of a load."""
    return {
        name: {
            "value": _jsonable(survivor.value),
            "source_record_id": survivor.source_record_id,
            "rule": survivor.rule,
        }
        for name, survivor in survivors.items()
        if survivor.source_record_id is not None
        or survivor.rule == PINNED
        or survivor.value not in (None, "", [], {})
    }


def write_provenance(golden: GoldenRecord, survivors: dict[str, Survivor]) -> None:
    """Store where each surviving value came from; written only when something changed."""
    wanted = provenance_map(survivors)
    row = Provenance.objects.filter(entity=golden.ENTITY, golden_id=golden.id).first()
    if row is None:
        Provenance.objects.create(entity=golden.ENTITY, golden_id=golden.id, attributes=wanted)
    elif row.attributes != wanted:
        row.attributes = wanted
        row.save(update_fields=["attributes", "updated_at"])


def provenance_of(golden: GoldenRecord) -> dict:
    """{attribute: {"value", "source_record_id", "rule"}} of a golden record; an attribute
    no source gave (and no steward pinned) is not there."""
    row = Provenance.objects.filter(entity=golden.ENTITY, golden_id=golden.id).first()
    return row.attributes if row else {}


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    return value


def pin(golden: GoldenRecord, attribute: str, *, actor=None) -> None:
    """Pin an attribute's current surviving value: it wins over sources until unpinned."""
    if attribute not in golden.ATTRIBUTES:
        raise ValueError(f"{attribute!r} is not an attribute of {golden.ENTITY} records.")
    value = _jsonable(getattr(golden, attribute))
    golden.pinned = {**golden.pinned, attribute: value}
    golden.save(update_fields=["pinned", "updated_at"])
    _pin_history(golden, HistoryAction.PINNED, attribute, value, actor)
    apply_survivorship(golden, actor=actor, reason=f"{attribute} pinned by a steward")


def unpin(golden: GoldenRecord, attribute: str, *, actor=None) -> None:
    """Remove a pin; the attribute's value comes from the sources again."""
    if attribute not in golden.pinned:
        return
    pinned = dict(golden.pinned)
    value = pinned.pop(attribute)
    golden.pinned = pinned
    golden.save(update_fields=["pinned", "updated_at"])
    _pin_history(golden, HistoryAction.UNPINNED, attribute, value, actor)
    apply_survivorship(golden, actor=actor, reason=f"{attribute} unpinned by a steward")


def _pin_history(golden: GoldenRecord, action: str, attribute: str, value, actor) -> None:
    HistoryEntry.objects.create(
        entity=golden.ENTITY,
        golden_id=golden.id,
        action=action,
        changes={attribute: value},
        actor=actor,
        reason=f"{attribute} {'pinned' if action == HistoryAction.PINNED else 'unpinned'}",
    )
