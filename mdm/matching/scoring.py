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
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import ratio, token_set_ratio, token_sort_ratio

from mdm.matching.normalise import COMPANY_SUFFIXES, postcode_area, same_phone
from mdm.matching.phonetic import nysiis
from mdm.matching.profile import street_name


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
        "company", ("exact", "close", "similar", "one contains the other", "different"),
        (0.78, 0.10, 0.05, 0.03, 0.04), (0.0005, 0.0005, 0.002, 0.001, 0.996), "company",
    ),
    Comparison(
        "first_name",
        ("exact", "nickname", "close", "similar or same sound", "initial", "different"),
        (0.80, 0.05, 0.06, 0.04, 0.03, 0.02), (0.01, 0.001, 0.004, 0.02, 0.03, 0.935), "first",
    ),
    Comparison(
        "last_name", ("exact", "close", "same sound or similar", "different"),
        (0.88, 0.07, 0.03, 0.02), (0.002, 0.002, 0.01, 0.986), "last",
    ),
    Comparison(
        "address",
        ("same street and place", "close street, same place", "same street, other number",
         "same postcode and house number", "same postcode", "same postcode district",
         "same town", "same street and number, other place", "same second line, same place",
         "same street, a number missing, postcode a typo away, other town", "different"),
        (0.70, 0.12, 0.02, 0.03, 0.01, 0.03, 0.03, 0.005, 0.01, 0.005, 0.04),
        (0.00005, 0.00005, 0.0003, 0.00001, 0.0005, 0.003, 0.02, 0.0001, 0.0002, 0.00002,
         0.97577),
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

# Two businesses whose names clearly differ but that share an address and a phone are more often
# neighbours in one building (a hotel's restaurants, firms sharing an office and a switchboard)
# than one business entered twice; a phone and an address in common are, to Fellegi-Sunter,
# independent evidence that outweighs the names. Such a pair scores at most REVIEW_CEILING:
# a steward decides, the default auto-merge never does. The same holds for two people whose
# given names clearly differ at one address when the steward keeps households apart (below).
_DIFFERENT_COMPANY = 4
_LEGAL_FORMS = tuple(sorted(form for form in COMPANY_SUFFIXES if len(form) >= 3))

# Two people whose given names clearly differ but who share a surname and an address may be a
# household (spouses, siblings) rather than one person with a wrongly entered name. The weights
# cannot tell them apart: to Fellegi-Sunter matching fields are independent evidence, and EM
# fits households as matches. Where the match settings say to keep households apart
# ("households" in the weights), such a pair (no company on both sides to say it is one
# business) scores at most this probability: review, never the default auto-merge.
REVIEW_CEILING = 0.9
_CEILING_LOG_ODDS = math.log2(REVIEW_CEILING / (1 - REVIEW_CEILING))
_DIFFERENT_GIVEN_NAME = 5

# Priors within a system and across systems that differ less than this (bits) from the overall
# one change no decision worth a look-up: 0.1 bits moves 0.95 to 0.953.
MIN_SYSTEM_SHIFT = 0.1
DEFAULT_PRIOR = 1e-4  # two random records are the same entity (re-estimated from the data)
PRODUCT_PRIOR = 1e-2
TF_PSEUDO_COUNT = 1000  # frequencies lean on the average u until the population is large


_jw = JaroWinkler.similarity  # (left, right) -> 0..1; met hundreds of thousands of times a load


def _level(similarity: float, cutoffs: tuple[float, ...]) -> int:
    for index, cutoff in enumerate(cutoffs):
        if similarity >= cutoff:
            return index
    return len(cutoffs)


def _code(profile: dict, field: str) -> str:
    # Profiles stored before the phonetic codes were added compute them on the fly.
    return profile.get(field + "_code") or nysiis(profile[field])


# Name pairs repeat a great deal (common names meet common names), so their levels are kept.
_NAME_CACHE_SIZE = 200_000
_first_levels: dict[tuple, int] = {}
_last_levels: dict[tuple, int] = {}


def _first_name_level(left: dict, right: dict) -> int | None:
    if not left["first"] or not right["first"]:
        return None
    key = (left["first_raw"], left["first"], right["first_raw"], right["first"])
    level = _first_levels.get(key)  # most pairs: looked up here, without a call
    if level is None:
        level = _cached(_first_levels, key, _compare_first_names, left, right)
    return level


def _cached(cache: dict, key: tuple, compare, left: dict, right: dict) -> int:
    """`compare(left, right)`, kept under `key`; the cache is emptied when full."""
    level = cache.get(key)
    if level is None:
        if len(cache) >= _NAME_CACHE_SIZE:
            cache.clear()
        level = cache[key] = compare(left, right)
    return level


def _compare_first_names(left: dict, right: dict) -> int:
    if left["first_raw"] == right["first_raw"]:
        return 0
    if left["first"] == right["first"]:
        return 1  # "bill" and "william"
    similarity = max(_jw(left["first"], right["first"]), _jw(left["first_raw"], right["first_raw"]))
    if similarity >= 0.92:
        return 2
    if similarity >= 0.80 or _code(left, "first") == _code(right, "first"):
        return 3
    short = min(left["first_raw"], right["first_raw"], key=len)
    if len(short) == 1 and left["first"][0] == right["first"][0]:
        return 4
    return 5


def _last_name_level(left: dict, right: dict) -> int | None:
    if not left["last"] or not right["last"]:
        return None
    if left["last"] == right["last"]:
        return 0
    key = (left["last"], right["last"])
    level = _last_levels.get(key)
    if level is None:
        level = _cached(_last_levels, key, _compare_last_names, left, right)
    return level


def _compare_last_names(left: dict, right: dict) -> int:
    similarity = _jw(left["last"], right["last"])
    if similarity >= 0.94:
        return 1
    if similarity >= 0.85 or _code(left, "last") == _code(right, "last"):
        return 2
    return 3


def _swapped(profile: dict) -> dict:
    return {**profile, "first": profile["last"], "first_raw": profile["last"],
            "first_code": _code(profile, "last"), "last": profile["first"],
            "last_code": _code(profile, "first")}  # fmt: skip


def _district(profile: dict) -> str:
    district = profile.get("district")
    if district is None:
        district = postcode_area(profile["postcode"]) if profile["postcode"] else ""
    return district


def _street_name(profile: dict) -> str:
    name = profile.get("street_name")
    if name is None:
        name = " ".join(word for word in profile["street"].split() if not word[0].isdigit())
    return name


def _close_postcodes(left: str, right: str) -> bool:
    """One typed character apart (a wrong, missing, extra or transposed character)."""
    return len(left) >= 4 and len(right) >= 4 and OSA.distance(left, right) <= 1


def _street_similarity(left: str, right: str) -> float:
    # Also without spaces: "stanleykstreet" is "stanley street" with a typo.
    return (
        max(token_set_ratio(left, right), ratio(left.replace(" ", ""), right.replace(" ", "")))
        / 100
    )


# The address levels `_address_level` can still give when both postcodes are known, differ
# by more than a typo and lie in other districts (the same place is ruled out, so are levels
# 0, 1, 3, 4, 5 and 8), and the one that also needs the same house number.
_LEVELS_OTHER_PLACE = (2, 6, 10)
_LEVEL_SAME_NUMBER_ELSEWHERE = 7
_LEVEL_STREET_NEAR_POSTCODE = 9  # postcodes a typo apart: never "elsewhere" above


def _address_level(left: dict, right: dict) -> int | None:
    # The dearest comparison, met by every pair: the common steps are written out here rather
    # than called (with the name caches', 0.62-0.66 -> 0.57 s of CPU for `customer_levels` over
    # the 92,336 pairs of a 10,000-record estimate).
    postcodes, cities = (left["postcode"], right["postcode"]), (left["city"], right["city"])
    both_postcodes = bool(postcodes[0] and postcodes[1])
    both_cities = bool(cities[0] and cities[1])
    if not (both_postcodes or both_cities or (left["street"] and right["street"])):
        return None
    same_postcode = both_postcodes and postcodes[0] == postcodes[1]
    same_district = both_postcodes and _district(left) == _district(right)
    same_city = both_cities and (cities[0] == cities[1] or _jw(*cities) >= 0.92)  # a typo apart
    # A postcode with a typo is the same place when the towns agree (or one is unknown).
    close_postcode = (
        both_postcodes
        and not same_postcode
        and (same_city or not both_cities)
        and _close_postcodes(left["postcode"], right["postcode"])
    )
    # Where neither postcodes nor towns can be compared the place is unknown, which is neutral.
    same_place = (
        same_postcode
        or close_postcode
        or (not both_postcodes and (same_city if both_cities else True))
    )
    if left["street"] and right["street"]:
        numbers_clash = left["number"] and right["number"] and left["number"] != right["number"]
        if same_place or same_district or same_city:
            similarity = _street_similarity(left["street"], right["street"])
            if similarity < 0.95 and bool(left.get("line1")) != bool(right.get("line1")):
                # One side has a second line the other lacks: compare the first lines. (Two
                # different second lines are not a missing one: they are compared whole.)
                lines = left.get("line1") or left["street"], right.get("line1") or right["street"]
                similarity = max(similarity, _street_similarity(*lines))
            if not numbers_clash and same_place:
                if similarity >= 0.95 and not close_postcode:
                    return 0
                if similarity >= 0.85:
                    return 1
            names = _street_name(left), _street_name(right)
            if names[0] and names[1] and _street_similarity(*names) >= 0.90:
                return 2
    # A house number is nearly unique within a postcode: with it, a badly typed or differently
    # written street is still the same address far more often than by chance.
    same_number = bool(left["number"]) and left["number"] == right["number"]
    towns_clash = both_cities and not same_city
    if same_number and not towns_clash and (same_postcode or (close_postcode and both_cities)):
        return 3
    if same_place and not towns_clash and _same_place_names(left, right):
        return 8
    if towns_clash and both_postcodes and _close_postcodes(left["postcode"], right["postcode"]):
        # A postcode one typo away names the same place when the towns agree (above); with
        # towns that differ too, the same street where a house number is missing still says
        # more than chance: a record typed twice with its number dropped and its town and
        # postcode mangled. (With both numbers known, levels 5 to 7 and 10 decide as before.)
        names = _street_name(left), _street_name(right)
        one_number = not (left["number"] and right["number"])
        if names[0] and names[1] and one_number and _street_similarity(*names) >= 0.95:
            return _LEVEL_STREET_NEAR_POSTCODE
    if same_postcode or close_postcode:
        return 4
    if same_district:
        return 5
    if same_city:
        return 6
    # The same street and number with both postcode and town different (or mistyped): weaker
    # than the same place, as common street names repeat from town to town (the data says how
    # much).
    if same_number and _street_similarity(left["street"], right["street"]) >= 0.95:
        return 7
    return 10


def _place_name(profile: dict) -> str:
    name = profile.get("place_name")
    if name is None:  # a profile stored before the field was added
        line1 = profile.get("line1") or ""
        rest = profile["street"][len(line1) :] if line1 else ""
        name = street_name(rest) if line1 and profile["street"].startswith(line1) else ""
    return name


def _same_place_names(left: dict, right: dict) -> bool:
    """Both second lines name the same building, estate or locality (typos allowed)."""
    names = _place_name(left), _place_name(right)
    if min(len(names[0].replace(" ", "")), len(names[1].replace(" ", ""))) < 4:
        return False  # "flat 3" names nothing; "sec" is too short to tell
    return _street_similarity(*names) >= 0.88


def _mailbox(address: str) -> tuple[str, str]:
    """(local part without a "+tag" sub-address, domain): "ann+shop@x.com" -> ("ann", "x.com")."""
    local, _, domain = address.rpartition("@")
    return local.split("+", 1)[0], domain


def _made_of_names(local: str, *profiles: dict) -> bool:
    """Whether an email's local part just spells a name ("john.smith", "jsmith", "smith.j")."""
    letters = re.sub(r"[^a-z]", "", local)
    names = {
        name
        for profile in profiles
        for name in (profile.get("last"), profile.get("first"), profile.get("first_raw"))
        if name and len(name) >= 3
    }
    return any(name.replace(" ", "") in letters for name in names)


def _email_level(left: dict, right: dict) -> int:
    """Exact (also with a "+tag"), close (a typo), different: for two known addresses.

    A local part that only spells the person's name is no evidence of its own once the names
    have been compared: namesakes at other employers, or "jo.dunn55" and "jo.dunn92" at one
    free-mail domain, are different mailboxes, so they count as different, not as close.
    """
    if left["email"] == right["email"]:
        return 0
    (local_left, domain_left), (local_right, domain_right) = (
        _mailbox(left["email"]),
        _mailbox(right["email"]),
    )
    if local_left == local_right and domain_left == domain_right:
        return 0
    if re.findall(r"\d+", local_left) != re.findall(r"\d+", local_right):
        return 2  # "dunn55" and "dunn92": other accounts
    if domain_left == domain_right:
        return 1 if _jw(local_left, local_right) >= 0.92 else 2
    if local_left == local_right and (
        OSA.distance(domain_left, domain_right) <= 1 or not _made_of_names(local_left, left, right)
    ):
        return 1  # a typo in the domain, or a distinctive handle at another provider
    return 2


def _phone_level(left: dict, right: dict) -> int:
    if same_phone(left["phone"], right["phone"]):
        return 0
    return 1 if left["phone"][-7:] == right["phone"][-7:] else 2


def _company_level(left: dict, right: dict) -> int:
    if left["company"] == right["company"]:
        return 0
    left_name, right_name = (
        _without_legal_form(left["company"]),
        _without_legal_form(right["company"]),
    )
    # Also compared without spaces: "pioneereinteriors" is "pioneer interiors" with a typo.
    similarity = max(
        token_sort_ratio(left_name, right_name),
        ratio(left_name.replace(" ", ""), right_name.replace(" ", "")),
    )
    level = 1 + _level(similarity / 100, (0.92, 0.80))
    if level == 3 and token_set_ratio(left["company"], right["company"]) >= 95:
        return 3  # "acme" and "acme engineering"
    if level == 3 and _abbreviates(left["company"].split(), right["company"].split()):
        return 3  # "arts deli" and "arts delicatessen"
    return 4 if level == 3 else level


def _without_legal_form(name: str) -> str:
    """The name without a last word that is a legal form with a typo ("chavez reed crop"):
    normalisation drops the legal form only when it is spelled right, so one side kept it."""
    words = name.split()
    mistyped = len(words) > 1 and len(words[-1]) >= 3
    if mistyped and any(OSA.distance(words[-1], form) <= 1 for form in _LEGAL_FORMS):
        return " ".join(words[:-1])
    return name


def _abbreviates(left: list[str], right: list[str]) -> bool:
    """Whether the shorter name's words (two or more) each begin a word of the longer one, in
    order ("arts deli" / "arts delicatessen", "assoc builders" / "associated builders co"); one
    word alone ("bright" / "brighton plumbing") says too little."""
    short, long = (left, right) if len(left) <= len(right) else (right, left)
    position = 0
    for word in short:
        while position < len(long) and not (
            long[position] == word or (len(word) >= 3 and long[position].startswith(word))
        ):
            position += 1
        if position == len(long):
            return False
        position += 1
    return len(short) > 1


def _may_be_swapped(left: dict, right: dict) -> bool:
    # Cheap test before comparing crosswise: one name resembles the other side's other name.
    return (
        _jw(left["first"], right["last"]) >= 0.8
        or _jw(left["last"], right["first"]) >= 0.8
        or left["first_raw"][:1] == right["last"][:1]
    )


def customer_levels(left: dict, right: dict, *, with_address: bool = True) -> dict[str, int | None]:
    """The agreement level of every customer comparison (None: missing on either side)."""
    first, last = _first_name_level(left, right), _last_name_level(left, right)
    if first is not None and last is not None and first + last > 2 and _may_be_swapped(left, right):
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
    # Company, email and phone are compared where both sides have one (a call saved per pair).
    return {
        "company": _company_level(left, right) if left["company"] and right["company"] else None,
        "first_name": first,
        "last_name": last,
        "address": _address_level(left, right) if with_address else None,
        "email": _email_level(left, right) if left["email"] and right["email"] else None,
        "phone": _phone_level(left, right) if left["phone"] and right["phone"] else None,
    }


def customer_levels_above(
    left: dict, right: dict, scorer: Scorer, floor: float, frequency=None, memo=None
) -> tuple[dict[str, int | None], float] | None:
    """(`customer_levels`, their log-odds), or None when the pair does not reach log-odds
    `floor`. The address is the dearest comparison, so it is skipped where the names (and, for
    other places, the levels still possible there) already rule the floor out: most pairs a
    batch meets are neighbours with other names or namesakes elsewhere. `memo`: see
    `Scorer.log_odds`."""
    levels = customer_levels(left, right, with_address=False)
    partial = scorer.log_odds(levels, left, frequency, ceiling=False, memo=memo)
    if partial + scorer.best["address"] < floor:
        return None
    postcodes = left["postcode"], right["postcode"]
    if (
        postcodes[0]
        and postcodes[1]
        and postcodes[0] != postcodes[1]
        and _district(left) != _district(right)
        and not _close_postcodes(*postcodes)
    ):
        # Namesakes in other places (most pairs a batch compares): the levels of one place are
        # out of reach, and the street is only worth comparing if what is left could tell.
        same_number = bool(left["number"]) and left["number"] == right["number"]
        if partial + scorer.best_elsewhere[same_number] < floor:
            return None
    address = levels["address"] = _address_level(left, right)
    total = partial + (scorer.table["address"][address] if address is not None else 0.0)
    total = with_ceiling(levels, total, scorer.households)
    return (levels, total) if total >= floor else None


def in_comparison_order(comparisons: tuple[Comparison, ...]):
    """levels dict -> tuple of the levels in `comparisons`' order (the pattern that travels
    between processes and that the estimate counts)."""
    names = [comparison.name for comparison in comparisons]
    if len(names) == 1:
        return lambda levels: (levels[names[0]],)
    return itemgetter(*names)


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
    total = _log_odds_of(weights.get("prior", DEFAULT_PRIOR))
    explanation = []
    for comparison in comparisons:
        level = levels.get(comparison.name)
        if level is None:
            explanation.append({"field": comparison.name, "level": "missing", "weight": 0.0})
            continue
        params = field_params(weights, comparison)
        weight = level_weights(params["m"], params["u"])[level]
        if level == 0 and comparison.term_frequency and left is not None and frequency:
            counted = frequency(comparison.term_frequency, left[comparison.term_frequency])
            adjusted = _term_weight(params["m"][0], params["u"][0], counted)
            if adjusted is not None:
                weight = adjusted
        total += weight
        explanation.append(
            {
                "field": comparison.name,
                "level": comparison.levels[level],
                "weight": round(weight, 2),
            }
        )
    reason = ceiling_reason(levels, bool(weights.get("households")))
    if reason and total > _CEILING_LOG_ODDS:
        explanation.append(
            {"field": reason[0], "level": reason[1], "weight": round(_CEILING_LOG_ODDS - total, 2)}
        )
        total = _CEILING_LOG_ODDS
    probability = 1 / (1 + 2 ** (-total)) if total > -1000 else 0.0
    return probability, explanation


def field_params(weights: dict, comparison: Comparison) -> dict:
    """{"m": [...], "u": [...]} of a compared field: the estimated ones, or the comparison's
    defaults where there are none or they were stored before its levels changed."""
    params = weights["fields"].get(comparison.name)
    if not params or len(params["m"]) != len(comparison.levels):
        return {"m": comparison.m, "u": comparison.u}
    return params


def _log_odds_of(probability: float) -> float:
    """log2 of a prior's odds, the prior held to [1e-12, 0.5]."""
    probability = min(max(probability, 1e-12), 0.5)
    return math.log2(probability / (1 - probability))


def level_weights(m: list[float], u: list[float]) -> list[float]:
    """log2(m / u) of each level, none above the first (full agreement).

    A partial agreement is never stronger evidence than the full one: where the estimate says
    otherwise (a level that random pairs never reach gets a tiny u from the prior alone), the
    steward would see "same postcode and house number" outweigh "same street and place".
    """
    table = [
        math.log2(max(m_value, 1e-9) / max(u_value, 1e-12))
        for m_value, u_value in zip(m, u, strict=True)
    ]
    return [table[0], *(min(weight, table[0]) for weight in table[1:])]


def ceiling_reason(levels: dict, households: bool) -> tuple[str, str] | None:
    """Why a pair may reach review but never the auto-merge, as an explanation line, or None."""
    if levels.get("company") == _DIFFERENT_COMPANY:
        return "business", "company names differ: review, never merge"
    if (
        households
        and levels.get("first_name") == _DIFFERENT_GIVEN_NAME
        and levels.get("company") is None
    ):
        return "household", "given names differ: review, never merge"
    return None


def with_ceiling(levels: dict, log_odds: float, households: bool) -> float:
    """`log_odds`, lowered to REVIEW_CEILING where `ceiling_reason` gives a reason."""
    if log_odds > _CEILING_LOG_ODDS and ceiling_reason(levels, households):
        return _CEILING_LOG_ODDS
    return log_odds


_UNSEEN = object()


def _term_weight(m_exact: float, u_exact: float, counted: tuple[int, int] | None) -> float | None:
    """The weight of full agreement on a value held by `counted` = (records, population), or
    None without a count (the field's average weight then)."""
    if counted is None:
        return None
    count, population = counted
    share = (count + u_exact * TF_PSEUDO_COUNT) / (population + TF_PSEUDO_COUNT)
    u_value = max(share, u_exact / 10)
    return math.log2(max(m_exact, 1e-9) / max(u_value, 1e-12))


class Scorer:
    """`score` for many pairs under one set of weights: the log2(m/u) of every level is worked
    out once, and the explanation is only built when asked for (`explain`), so scoring a pair
    is a few table look-ups. `probability(...)` equals `score(...)[0]`.
    """

    def __init__(self, weights: dict, comparisons: tuple[Comparison, ...]):
        self.weights, self.comparisons = weights, comparisons
        self.base = _log_odds_of(weights.get("prior", DEFAULT_PRIOR))
        self.fields = []
        for comparison in comparisons:
            params = field_params(weights, comparison)
            table = level_weights(params["m"], params["u"])
            self.fields.append(
                (comparison.name, table, params["m"][0], params["u"][0], comparison.term_frequency)
            )
        self.table = {name: table for name, table, *_ in self.fields}
        self.households = bool(weights.get("households"))
        # The most a field can add (0: missing is neutral, so never below that).
        self.best = {name: max(max(table), 0.0) for name, table, *_ in self.fields}
        # The most the address can add in another place: [other, the same] house number.
        address = self.table.get("address")
        if address is not None:
            elsewhere = max(address[level] for level in _LEVELS_OTHER_PLACE)
            self.best_elsewhere = (
                elsewhere,
                max(elsewhere, address[_LEVEL_SAME_NUMBER_ELSEWHERE]),
            )

    def log_odds(
        self,
        levels: dict,
        left: dict | None = None,
        frequency: FrequencyLookup | None = None,
        *,
        ceiling: bool = True,
        memo: dict | None = None,
    ) -> float:
        """The log-odds of a compared pair. `memo`, an empty dict for each `left` record and
        passed with every pair it is scored in, keeps the term-frequency weights of its values
        (a record's candidates mostly share its name)."""
        total = self.base
        for name, table, m_exact, u_exact, term_field in self.fields:
            level = levels.get(name)
            if level is None:
                continue
            if level == 0 and term_field and left is not None and frequency:
                weight = _UNSEEN if memo is None else memo.get(name, _UNSEEN)
                if weight is _UNSEEN:
                    weight = _term_weight(m_exact, u_exact, frequency(term_field, left[term_field]))
                    if memo is not None:
                        memo[name] = weight
                if weight is not None:
                    total += weight
                    continue
            total += table[level]
        return with_ceiling(levels, total, self.households) if ceiling else total

    def probability(
        self, levels: dict, left: dict | None = None, frequency: FrequencyLookup | None = None
    ) -> float:
        return probability_of(self.log_odds(levels, left, frequency))

    def explain(
        self, levels: dict, left: dict | None = None, frequency: FrequencyLookup | None = None
    ) -> tuple[float, list[dict]]:
        return score(levels, self.weights, self.comparisons, left, frequency)


def system_shifts(weights: dict) -> tuple[float, float] | None:
    """(log-odds to add when the golden record a pair would join already holds a record of the
    incoming record's source system, log-odds to add when it holds records of other systems
    only), from the priors estimated apart for the two kinds of pair; None without them.

    Pairs are scored under the overall prior. Joining a golden record that holds a record of
    one's own system makes the two records of that system duplicates of each other, so that
    decision takes the same-system prior, whichever pair of records was compared.
    """
    same, other = weights.get("prior_same_system"), weights.get("prior_other_system")
    if not same or not other:
        return None
    base = _log_odds_of(weights.get("prior", DEFAULT_PRIOR))
    shifts = _log_odds_of(same) - base, _log_odds_of(other) - base
    if max(abs(shift) for shift in shifts) < MIN_SYSTEM_SHIFT:
        return None  # duplicates fall in any system: nothing to weigh, nothing to look up
    return shifts


def with_systems(probability: float, levels, shift: float, households: bool) -> float:
    """`probability` (scored under the overall prior) moved by a `system_shifts` shift; a pair
    under the review ceiling stays under it (`levels`, or a function giving them, is only
    needed for a shift up). A certainty (identical SKU) stays one."""
    if probability >= 1.0 or not shift:
        return probability
    log_odds = math.log2(max(probability, 1e-300) / (1 - probability)) + shift
    if shift > 0:
        log_odds = with_ceiling(levels() if callable(levels) else levels, log_odds, households)
    return probability_of(log_odds)


def system_shift(joining: set, golden_systems: set, shifts: tuple[float, float]):
    """(same system?, shift) for joining a golden record holding records of `golden_systems`
    with one holding records of the `joining` systems."""
    same = bool(joining & golden_systems)
    return same, shifts[0] if same else shifts[1]


def system_line(same: bool, shift: float) -> dict:
    """The explanation line of a `system_shifts` shift."""
    level = "a record of its system already in the golden record" if same else "other systems"
    return {"field": "source systems", "level": level, "weight": round(shift, 2)}


def probability_of(log_odds: float) -> float:
    return 1 / (1 + 2 ** (-log_odds)) if log_odds > -1000 else 0.0
