"""Steward decisions as labels: "the same" and "not the same" refine the estimated weights.

Every decision keeps the field-by-field explanation of its pair, that is the agreement level of
each field. A "same" decision is one observed true match: its levels join the m estimate, where
the unsupervised estimate counts as LABEL_PRIOR_STRENGTH observations, so a few dozen decisions
move the weights visibly and a handful cannot overturn them. A "not the same" decision is one
observed non-match: its levels join the u estimate, where the random pairs already count for
tens of thousands, so it corrects u only slowly (such pairs are hard cases, not random ones);
the pair itself stays suppressed for good either way.
"""

from __future__ import annotations

from collections import Counter

from mdm.matching.scoring import Comparison
from mdm.models import DecisionKind, PairDecision

LABEL_PRIOR_STRENGTH = 100.0  # observations the unsupervised m estimate is worth
RANDOM_PAIRS_STRENGTH = 30_000.0  # observations behind u (the random pairs it was counted on)


def decision_patterns(
    entity: str, comparisons: tuple[Comparison, ...]
) -> tuple[list[tuple], list[tuple]]:
    """The level patterns of the stored decisions: (same, not the same)."""
    same, different = [], []
    rows = PairDecision.objects.filter(entity=entity).values_list("decision", "explanation")
    for decision, explanation in rows.iterator():
        pattern = pattern_from_explanation(explanation, comparisons)
        if pattern is None:
            continue
        (same if decision == DecisionKind.SAME else different).append(pattern)
    return same, different


def pattern_from_explanation(explanation: dict, comparisons: tuple[Comparison, ...]):
    """The level index per comparison from a stored explanation (None where unknown/missing)."""
    levels = {
        item.get("field"): item.get("level") for item in (explanation or {}).get("fields", [])
    }
    pattern = []
    for comparison in comparisons:
        label = levels.get(comparison.name)
        pattern.append(comparison.levels.index(label) if label in comparison.levels else None)
    return tuple(pattern) if any(level is not None for level in pattern) else None


def apply_decisions(
    weights: dict, comparisons: tuple[Comparison, ...], same: list[tuple], different: list[tuple]
) -> dict:
    """Weights with the decisions' levels counted in: m from "same", u from "not the same"."""
    fields = {}
    for position, comparison in enumerate(comparisons):
        params = weights["fields"].get(comparison.name) or {"m": comparison.m, "u": comparison.u}
        m = _blend(params["m"], Counter(p[position] for p in same), LABEL_PRIOR_STRENGTH)
        u = _blend(params["u"], Counter(p[position] for p in different), RANDOM_PAIRS_STRENGTH)
        fields[comparison.name] = {"m": m, "u": u}
    return {
        **weights,
        "fields": fields,
        "decisions": {"same": len(same), "not_same": len(different)},
    }


def _blend(estimate: list[float], counts: Counter, strength: float) -> list[float]:
    counts.pop(None, None)  # a field missing on either side says nothing
    observed = sum(counts.values())
    if not observed:
        return list(estimate)
    total = strength + observed
    return [(strength * value + counts[level]) / total for level, value in enumerate(estimate)]
