"""The levels of many pairs at once (`mdm.matching.vectorised`) are the per-pair levels exactly."""

import math
import random
import sys
from collections import Counter

import numpy as np

from mdm.management.commands.import_records import customer_from_row
from mdm.matching.estimate import blocked_pairs, estimate_weights
from mdm.matching.matcher import profile_and_keys
from mdm.matching.scoring import (
    _CEILING_LOG_ODDS,
    CUSTOMER_COMPARISONS,
    Scorer,
    _term_weight,
    customer_levels,
    customer_levels_above,
    in_comparison_order,
)
from mdm.matching.vectorised import (
    Columns,
    customer_pairs_above,
    customer_patterns,
    pattern_codes,
    patterns_of,
)
from mdm.records import customer_attributes
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from mdm_generate import generate

DOMAINS = ["gmail.com", "gmial.com", "acme.co.uk", "yahoo.com"]


def _rows(seed: int) -> list[dict]:
    """Generated people and businesses, with what the generator leaves out: emails (handles
    with numbers, "+tags", a mistyped provider), blanked fields, second lines naming a
    building, whole names in the first-name field, phones with their country code."""
    rng = random.Random(seed)
    rows = generate("people", 400, seed=seed, households=0.2)
    rows += generate("business", 250, seed=seed + 1, neighbours=0.2, country=False)
    for row in rows:
        if rng.random() < 0.6:
            local = f"{row['first_name']}.{row['last_name']}".lower().strip(".") or "info"
            if rng.random() < 0.3:
                local += str(rng.randrange(50, 53))
            if rng.random() < 0.2:
                local += "+shop"
            if rng.random() < 0.1:
                local = "jb.trading"
            row["email"] = f"{local}@{rng.choice(DOMAINS)}"
        if rng.random() < 0.1:
            row["address_line2"] = rng.choice(["Flat 3", "Rose Court", "Rose Ct", "Mill House"])
        if rng.random() < 0.05:
            row["first_name"], row["last_name"] = f"{row['first_name']} {row['last_name']}", ""
        if rng.random() < 0.1:
            row["phone"] = "+44 " + (row["phone"] or "07700 900123").lstrip("0")
        for field in ("first_name", "last_name", "postcode", "city", "address_line1", "phone"):
            if rng.random() < 0.04:
                row[field] = ""
    # Typed again with the house number dropped, the postcode a typo away (in its district
    # part), another town; the phone in another area.
    for row in rows[:: len(rows) // 20]:
        street = " ".join(word for word in row["address_line1"].split() if not word.isdigit())
        postcode = ("Q" if row["postcode"][:1] != "Q" else "X") + row["postcode"][1:]
        digits = "".join(char for char in row["phone"] if char.isdigit())
        phone = f"0199 {digits[-7:]}" if len(digits) > 7 else ""  # another area code
        rows.append(
            {**row, "address_line1": street, "postcode": postcode, "city": "Elsewhere"}
            | ({"phone": phone} if phone else {})
        )
    return rows


def _profiles(seed: int) -> list[dict]:
    return [
        profile_and_keys("customer", customer_attributes(customer_from_row(row)))[0]
        for row in _rows(seed)
    ]


def _pairs(profiles: list[dict], seed: int) -> list[tuple[int, int]]:
    """Every pair blocking finds, both ways round, and as many random pairs."""
    _, distinct, _ = blocked_pairs("customer", profiles, 10**6, random.Random(seed))
    rng = random.Random(seed)
    size = len(profiles)
    randoms = [(rng.randrange(size), rng.randrange(size)) for _ in range(len(distinct))]
    return distinct + [(right, left) for left, right in distinct] + randoms


def test_the_levels_of_many_pairs_at_once_are_the_per_pair_levels():
    in_order = in_comparison_order(CUSTOMER_COMPARISONS)
    for seed in (3, 4):
        profiles = _profiles(seed)
        pairs = _pairs(profiles, seed)
        expected = [in_order(customer_levels(profiles[a], profiles[b])) for a, b in pairs]
        found = customer_patterns(Columns(profiles), *np.asarray(pairs).T)
        wrong = [(pair, e, f) for pair, e, f in zip(pairs, expected, found, strict=True) if e != f]
        assert not wrong[:5]
        # The comparison took every road: each level of each field (and missing) was met.
        for position, comparison in enumerate(CUSTOMER_COMPARISONS):
            seen = Counter(pattern[position] for pattern in found)
            assert set(seen) == {None, *range(len(comparison.levels))}, comparison.name


def test_patterns_travel_as_numbers_and_come_back_as_the_same_tuples():
    patterns = [(None, 0, 5, 10, None, 2), (4, None, None, None, 0, None), (0,) * 6]
    levels = np.array([[-1 if level is None else level for level in p] for p in patterns])
    codes = np.zeros(len(patterns), dtype=np.int64)
    for column in levels.T:
        codes = codes * 16 + column + 1
    assert patterns_of(codes, 6) == patterns
    # Equal patterns come back as one tuple (the estimate counts many of them).
    again = patterns_of(np.concatenate([codes, codes]), 6)
    assert again[0] is again[3]


def test_pairs_of_one_slice_give_their_levels_whatever_else_is_in_it():
    profiles = _profiles(5)
    pairs = np.asarray(_pairs(profiles, 5))
    columns = Columns(profiles)
    whole = pattern_codes(columns, pairs[:, 0], pairs[:, 1])
    parts = [pattern_codes(columns, part[:, 0], part[:, 1]) for part in np.array_split(pairs, 7)]
    assert np.array_equal(whole, np.concatenate(parts))
    assert len(pattern_codes(columns, pairs[:0, 0], pairs[:0, 1])) == 0


def _frequency_of(profiles: list[dict]):
    counts = Counter(
        f"tf.{field}:{profile[field]}"[:120]
        for profile in profiles
        for field in ("company", "first", "last")
        if profile[field]
    )

    def frequency(field: str, value: str):
        return (counts[f"tf.{field}:{value}"[:120]], len(profiles)) if value else None

    return frequency


def test_scores_of_many_pairs_at_once_are_the_per_pair_scores():
    profiles = _profiles(6)
    pairs = _pairs(profiles, 6)
    left, right = np.asarray(pairs).T
    frequency = _frequency_of(profiles)
    columns = Columns(profiles)
    ceilings = []
    for households, threshold in ((False, 0.2), (True, 0.05)):
        weights = {**estimate_weights("customer", profiles), "households": households}
        scorer = Scorer(weights, CUSTOMER_COMPARISONS)
        floor = math.log2(threshold / (1 - threshold))
        expected = {}
        for position, (a, b) in enumerate(pairs):
            found = customer_levels_above(profiles[a], profiles[b], scorer, floor, frequency)
            if found is not None:
                pattern = in_comparison_order(CUSTOMER_COMPARISONS)(found[0])
                expected[position] = (pattern, found[1])
        term_weights = {}
        for name, _, m_exact, u_exact, field in scorer.fields:
            if field:
                own = [_term_weight(m_exact, u_exact, frequency(field, p[field])) for p in profiles]
                own = np.array([math.nan if weight is None else weight for weight in own])
                term_weights[name] = own[left]
        at, totals, codes = customer_pairs_above(columns, left, right, scorer, floor, term_weights)
        patterns = patterns_of(codes, 6)
        found = dict(zip(at.tolist(), zip(patterns, totals.tolist(), strict=True), strict=True))
        assert found == expected
        assert 1000 < len(found) < len(pairs) / 2  # the floor keeps some pairs, not all
        ceilings.append(sum(total == _CEILING_LOG_ODDS for _, total in found.values()))
    # Held under the ceiling: businesses whose names differ, and more with households kept apart.
    assert 0 < ceilings[0] < ceilings[1]
