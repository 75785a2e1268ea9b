"""Match one incoming record against the golden records: blocking, then scoring per golden."""

from __future__ import annotations

from dataclasses import dataclass, field

from mdm.matching import blocking, profile, scoring
from mdm.models import Entity, MatchSettings


@dataclass
class CandidateMatch:
    """A golden record that may be the same as the incoming record, with the evidence."""

    golden_id: object
    probability: float
    explanation: list[dict]
    source_record_id: int
    identical_key: bool = False  # shares an identity key (a product's SKU)
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "golden_id": str(self.golden_id),
            "probability": round(self.probability, 6),
            "explanation": self.explanation,
            "source_record_id": self.source_record_id,
            "identical_key": self.identical_key,
        }


def profile_and_keys(entity: str, attributes: dict) -> tuple[dict, list[str]]:
    if entity == Entity.CUSTOMER:
        record_profile = profile.customer_profile(attributes)
        return record_profile, profile.customer_keys(record_profile)
    record_profile = profile.product_profile(attributes)
    return record_profile, profile.product_keys(record_profile)


def comparisons_for(entity: str) -> tuple[scoring.Comparison, ...]:
    if entity == Entity.CUSTOMER:
        return scoring.CUSTOMER_COMPARISONS
    return scoring.PRODUCT_COMPARISONS


def weights_for(settings: MatchSettings) -> dict:
    comparisons = comparisons_for(settings.entity)
    weights = settings.weights or scoring.default_weights(comparisons)
    if settings.keep_households_apart and settings.entity == Entity.CUSTOMER:
        weights = {**weights, "households": True}
    return weights


def golden_systems(entity: str, golden_ids) -> dict:
    """{golden id: the source systems of its records} (a thousand golden records a query)."""
    from mdm.models import SourceRecord

    golden_field = "customer_id" if entity == Entity.CUSTOMER else "product_id"
    wanted, found = sorted(golden_ids, key=str), {}
    for start in range(0, len(wanted), 1000):
        rows = SourceRecord.objects.filter(
            **{f"{golden_field}__in": wanted[start : start + 1000]}
        ).values_list(golden_field, "system")
        for golden_id, system in rows:
            found.setdefault(golden_id, set()).add(system)
    return found


def find_matches(
    entity: str,
    record_profile: dict,
    keys: list[str],
    *,
    exclude_record_id: int | None = None,
    exclude_golden_id=None,
    settings: MatchSettings | None = None,
    system: str = "",
) -> list[CandidateMatch]:
    """The candidate golden records for a profile, best first, one entry per golden record.

    With the incoming record's source `system` and weights that estimated the prior apart for
    pairs within one system and across systems (`scoring.system_shifts`), each golden record's
    probability takes the prior its decision needs; `extra` then keeps the probability under
    the overall prior ("raw"), its levels and the golden record's systems.
    """
    settings = settings or MatchSettings.for_entity(entity)
    weights = weights_for(settings)
    comparisons = comparisons_for(entity)
    counts = blocking.key_counts(entity, keys)
    records = blocking.candidate_records(entity, keys, counts, exclude_record_id)
    if not records:
        return []
    size = max(blocking.population(entity), 1)

    def frequency(field_name: str, value: str) -> tuple[int, int] | None:
        key = f"tf.{field_name}:{value}"[:120]
        return (counts.get(key, 0), size) if value else None

    golden_field = "customer_id" if entity == Entity.CUSTOMER else "product_id"
    best: dict[object, CandidateMatch] = {}
    for record in records:
        golden_id = record[golden_field]
        if golden_id is None or golden_id == exclude_golden_id:
            continue
        other = record["profile"]
        if entity == Entity.CUSTOMER:
            levels = scoring.customer_levels(record_profile, other)
        else:
            levels = scoring.product_levels(record_profile, other)
        probability, explanation = scoring.score(
            levels, weights, comparisons, record_profile, frequency
        )
        identical = (
            entity == Entity.PRODUCT
            and bool(record_profile.get("sku"))
            and (record_profile["sku"] == other.get("sku"))
        )
        if identical:
            probability = 1.0
            explanation = [{"field": "sku", "level": "identical", "weight": None}, *explanation]
        current = best.get(golden_id)
        if current is None or probability > current.probability:
            best[golden_id] = CandidateMatch(
                golden_id, probability, explanation, record["id"], identical, {"levels": levels}
            )
    shifts = scoring.system_shifts(weights) if system else None
    if shifts and best:
        systems = golden_systems(entity, best)
        for golden_id, match in best.items():
            match.extra.update(raw=match.probability, systems=systems.get(golden_id, set()))
            adjust_for_systems(match, {system}, shifts, weights)
    return sorted(best.values(), key=lambda match: -match.probability)


def adjust_for_systems(match: CandidateMatch, joining: set, shifts, weights: dict) -> None:
    """Set `match.probability` for joining its golden record with one holding records of the
    `joining` systems (see `scoring.system_shifts`), and its explanation's line for it."""
    same, shift = scoring.system_shift(joining, match.extra["systems"], shifts)
    match.probability = scoring.with_systems(
        match.extra["raw"], match.extra["levels"], shift, bool(weights.get("households"))
    )
    lines = [line for line in match.explanation if line["field"] != "source systems"]
    match.explanation = [*lines, scoring.system_line(same, shift)]
