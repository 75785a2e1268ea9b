"""Fellegi-Sunter scoring: per-field comparison levels, m/u weights, a match probability.

Each field comparison lands in one agreement level (exact, close, ..., disagree) or is missing
(either side empty), which is neutral: weight 0, never evidence against. The weight of a level is
log2(m/u): m = P(level | same entity), u = P(level | two random records). Exact agreement on a
name uses the frequency of that very name instead of the average u (term-frequency adjustment),
so "John Smith" counts for less than "Aurelio Quarshie". The prior is the probability that two
random records are the same; the posterior is returned with a field-by-field explanation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz.distance import JaroWinkler
from rapidfuzz.fuzz import token_set_ratio, token_sort_ratio


@dataclass(frozen=True)
class Comparison:
    """One compared field: its level labels (strongest first, disagree last) and priors."""

    name: str
    levels: tuple[str, ...]
    m: tuple[float, ...]
    u: tuple[float, ...]
    term_frequency: str = ""  # profile field whose frequency adjusts the exact level


CUSTOMER_COMPARISONS = (
    Comparison(
        "company", ("exact", "close", "similar", "different"),
        (0.80, 0.10, 0.05, 0.05), (0.0005, 0.0005, 0.002, 0.997), "company",
    ),
    Comparison(
        "first_name", ("exact", "close", "similar or initial", "different"),
        (0.85, 0.07, 0.05, 0.03), (0.01, 0.005, 0.03, 0.955), "first",
    ),
    Comparison(
        "last_name", ("exact", "close", "similar", "different"),
        (0.88, 0.07, 0.03, 0.02), (0.002, 0.002, 0.01, 0.986), "last",
    ),
    Comparison(
        "address",
        ("same street and place", "close street, same place", "same postcode", "same area",
         "different"),
        (0.70, 0.12, 0.05, 0.05, 0.08), (0.00005, 0.00005, 0.0005, 0.02, 0.9794),
    ),
    Comparison(
        "email", ("exact", "close", "different"), (0.90, 0.03, 0.07), (0.00001, 0.0001, 0.99989)
    ),
    Comparison(
        "phone", ("exact", "same last 7 digits", "different"),
        (0.85, 0.05, 0.10), (0.00001, 0.00005, 0.99994),
    ),
)  # fmt: skip

PRODUCT_COMPARISONS = (
    Comparison(
        "name", ("exact", "close", "similar", "different"),
        (0.60, 0.25, 0.10, 0.05), (0.0005, 0.001, 0.01, 0.9885),
    ),
    Comparison(
        "price", ("equal", "within 5%", "different"), (0.70, 0.15, 0.15), (0.02, 0.05, 0.93)
    ),
)  # fmt: skip

DEFAULT_PRIOR = 1e-4  # two random records are the same entity (re-estimated from the data)
PRODUCT_PRIOR = 1e-2
TF_PSEUDO_COUNT = 1000  # frequencies lean on the average u until the population is large


def _jw(left: str, right: str) -> float:
    return JaroWinkler.similarity(left, right)


def _level(similarity: float, cutoffs: tuple[float, ...]) -> int:
    for index, cutoff in enumerate(cutoffs):
        if similarity >= cutoff:
            return index
    return len(cutoffs)


def _first_name_level(left: dict, right: dict) -> int | None:
    if not left["first"] or not right["first"]:
        return None
    if left["first"] == right["first"]:
        return 0
    similarity = max(_jw(left["first"], right["first"]), _jw(left["first_raw"], right["first_raw"]))
    if similarity >= 0.92:
        return 1
    short = min(left["first_raw"], right["first_raw"], key=len)
    if similarity >= 0.80 or (len(short) == 1 and left["first"][0] == right["first"][0]):
        return 2
    return 3


def _last_name_level(left: dict, right: dict) -> int | None:
    if not left["last"] or not right["last"]:
        return None
    if left["last"] == right["last"]:
        return 0
    return 1 + _level(_jw(left["last"], right["last"]), (0.94, 0.85))


def _swapped(profile: dict) -> dict:
    return {**profile, "first": profile["last"], "first_raw": profile["last"],
            "last": profile["first"]}  # fmt: skip


def _address_level(left: dict, right: dict) -> int | None:
    comparable = [key for key in ("street", "postcode", "city") if left[key] and right[key]]
    if not comparable:
        return None
    same_postcode = bool(left["postcode"]) and left["postcode"] == right["postcode"]
    both_postcodes = bool(left["postcode"] and right["postcode"])
    both_cities = bool(left["city"] and right["city"])
    # Where neither postcodes nor towns can be compared the place is unknown, which is neutral.
    same_place = same_postcode or (
        not both_postcodes and (left["city"] == right["city"] if both_cities else True)
    )
    if left["street"] and right["street"]:
        numbers_clash = left["number"] and right["number"] and left["number"] != right["number"]
        similarity = token_set_ratio(left["street"], right["street"]) / 100
        if not numbers_clash and same_place:
            if similarity >= 0.95:
                return 0
            if similarity >= 0.85:
                return 1
    if same_postcode:
        return 2
    from mdm.matching.normalise import postcode_area

    same_area = (
        left["postcode"]
        and right["postcode"]
        and postcode_area(left["postcode"]) == postcode_area(right["postcode"])
    ) or (left["city"] and left["city"] == right["city"])
    return 3 if same_area else 4


def _email_level(left: dict, right: dict) -> int | None:
    if not left["email"] or not right["email"]:
        return None
    if left["email"] == right["email"]:
        return 0
    local_left, local_right = left["email"].split("@")[0], right["email"].split("@")[0]
    if local_left == local_right or _jw(left["email"], right["email"]) >= 0.95:
        return 1
    return 2


def _phone_level(left: dict, right: dict) -> int | None:
    if not left["phone"] or not right["phone"]:
        return None
    if left["phone"] == right["phone"]:
        return 0
    return 1 if left["phone"][-7:] == right["phone"][-7:] else 2


def _company_level(left: dict, right: dict) -> int | None:
    if not left["company"] or not right["company"]:
        return None
    if left["company"] == right["company"]:
        return 0
    return 1 + _level(token_sort_ratio(left["company"], right["company"]) / 100, (0.92, 0.80))


def customer_levels(left: dict, right: dict) -> dict[str, int | None]:
    """The agreement level of every customer comparison (None: missing on either side)."""
    first, last = _first_name_level(left, right), _last_name_level(left, right)
    if first is not None and last is not None and first + last > 2:
        swapped = _swapped(right)
        swapped_first, swapped_last = (
            _first_name_level(left, swapped),
            _last_name_level(left, swapped),
        )
        if (
            swapped_first is not None
            and swapped_last is not None
            and swapped_first + swapped_last < first + last
        ):
            first, last = swapped_first, swapped_last
    return {
        "company": _company_level(left, right),
        "first_name": first,
        "last_name": last,
        "address": _address_level(left, right),
        "email": _email_level(left, right),
        "phone": _phone_level(left, right),
    }


def product_levels(left: dict, right: dict) -> dict[str, int | None]:
    name = None
    if left["name"] and right["name"]:
        name = (
            0
            if left["name"] == right["name"]
            else 1 + _level(token_sort_ratio(left["name"], right["name"]) / 100, (0.90, 0.75))
        )
    price = None
    if left["price"] not in (None, "") and right["price"] not in (None, ""):
        low, high = sorted((float(left["price"]), float(right["price"])))
        price = 0 if low == high else (1 if high and (high - low) / high <= 0.05 else 2)
    return {"name": name, "price": price}


def default_weights(comparisons: tuple[Comparison, ...]) -> dict:
    # Two products with the same name are far more often the same than two namesakes.
    prior = PRODUCT_PRIOR if comparisons is PRODUCT_COMPARISONS else DEFAULT_PRIOR
    return {
        "prior": prior,
        "fields": {c.name: {"m": list(c.m), "u": list(c.u)} for c in comparisons},
    }


# (field, value) -> (records holding that exact value, records in the population), or None.
FrequencyLookup = Callable[[str, str], tuple[int, int] | None]


def score(
    levels: dict[str, int | None],
    weights: dict,
    comparisons: tuple[Comparison, ...],
    left: dict | None = None,
    frequency: FrequencyLookup | None = None,
) -> tuple[float, list[dict]]:
    """The match probability of a compared pair and its field-by-field explanation.

    `frequency(field, value)` gives how many records hold that exact value out of how many;
    that share replaces u on exact agreement, smoothed towards u for small populations.
    """
    prior = min(max(weights.get("prior", DEFAULT_PRIOR), 1e-12), 0.5)
    total = math.log2(prior / (1 - prior))
    explanation = []
    for comparison in comparisons:
        level = levels.get(comparison.name)
        if level is None:
            explanation.append({"field": comparison.name, "level": "missing", "weight": 0.0})
            continue
        params = weights["fields"].get(comparison.name) or {"m": comparison.m, "u": comparison.u}
        m_value, u_value = params["m"][level], params["u"][level]
        if level == 0 and comparison.term_frequency and left is not None and frequency:
            counted = frequency(comparison.term_frequency, left[comparison.term_frequency])
            if counted is not None:
                count, population = counted
                share = (count + u_value * TF_PSEUDO_COUNT) / (population + TF_PSEUDO_COUNT)
                u_value = max(share, u_value / 10)
        weight = math.log2(max(m_value, 1e-9) / max(u_value, 1e-12))
        total += weight
        explanation.append(
            {
                "field": comparison.name,
                "level": comparison.levels[level],
                "weight": round(weight, 2),
            }
        )
    probability = 1 / (1 + 2 ** (-total)) if total > -1000 else 0.0
    return probability, explanation
