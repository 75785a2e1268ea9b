"""Estimate the Fellegi-Sunter weights from the data itself, no labels needed.

u (agreement by chance) is counted on random pairs of records; m (agreement among true
matches) and the share of matches among blocked pairs are found by expectation maximisation
over the blocked pairs with u held fixed (as Splink does). Priors act as pseudo-counts, so a
small or empty database still gets sensible weights. The prior match probability of two
random records is the estimated number of matching pairs over all pairs.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable

import numpy as np
from django.utils import timezone

from mdm.keyindex import key_hashes
from mdm.matching.matcher import comparisons_for
from mdm.matching.profile import TERM_PREFIX, customer_keys, product_keys
from mdm.matching.scoring import (
    DEFAULT_PRIOR,
    customer_levels,
    in_comparison_order,
    product_levels,
)
from mdm.matching.vectorised import Columns, pattern_codes, patterns_of
from mdm.models import Entity, MatchSettings, SourceRecord
from mdm.parallel import fork_map, fork_pool, shared

# Passes left out of the estimate's pairs: a given name on a street word ("john" on every
# "high street") makes large groups of namesakes (a 100,000-record load peaked at 2,192 MB with
# them, 1,744 MB without); FEBRL F1 came out the same or higher without them. A street in a
# place (`st`) is left out for the same reason: on generated people with 5% movers, sampling it
# brought 118 more review tasks and precision 0.9997 against 1.000. The surname prefix in a town
# (`lp`) groups many surnames the same way; it was added unsampled and not tried sampled.
NOT_SAMPLED = ("fs:", "ls:", "si:", "st:", "lp:")
MAX_GROUP = 200  # larger blocks are too common to be informative (and quadratic)
# Share of the expected matches not merged automatically that the review band should hold:
# above the goal of 95%, as the estimate placing the threshold is itself uncertain.
REVIEW_RECALL = 0.98
MIN_REVIEW_THRESHOLD = 0.01
MAX_PROFILES = 100_000  # a larger load is estimated on a uniform sample of its records
PRIOR_STRENGTH = 20.0  # pseudo-observations the priors are worth
SYSTEM_PRIOR_STRENGTH = 1.0  # matches in the sample the overall prior lends each system prior
SYSTEM_PRIOR_Z = 3.0  # system priors are kept only this many standard errors from the overall
# A large population's prior is small: 40,000 of the 8 million distinct blocked pairs of a
# 100,000-record sample of a million held about 30 matches, and the prior (and more so the
# system priors, a third of them in pairs within one system) moved by 0.4 bits from sample to
# sample. Up to MAX_EXTRA_PAIRS more pairs are drawn until about MIN_SAMPLE_MATCHES are expected.
MIN_SAMPLE_MATCHES = 150
MAX_EXTRA_PAIRS = 160_000
ITERATIONS = 25


def _levels_function(entity: str):
    return customer_levels if entity == Entity.CUSTOMER else product_levels


def _keys_function(entity: str):
    return customer_keys if entity == Entity.CUSTOMER else product_keys


# The fields each blocking pass already forces to agree: pairs found by a pass say nothing
# about those fields' m, so EM over those pairs leaves them out (Splink's habit).
PASS_FIELDS = {
    "em": {"email"},
    "ph": {"phone"},
    "nn": {"first_name", "last_name"},
    "ni": {"first_name", "last_name"},
    "la": {"last_name", "address"},
    "lp": {"last_name", "address"},
    "fa": {"first_name", "last_name", "address"},
    "ct": {"company"},
    "cb": {"company"},
    "cn": {"company", "address"},
    "ad": {"address"},
    "hn": {"address"},
    "st": {"address"},
    "as": {"address"},
    "hi": {"address", "first_name", "last_name"},
    "fs": {"first_name", "address"},
    "ls": {"last_name", "address"},
    "si": {"address", "first_name", "last_name"},
    "pc": {"address"},
    "sku": {"sku"},
    "pt": {"name"},
    "pn": {"name"},
}


def pattern_function(entity: str):
    """(left profile, right profile) -> the levels of every comparison, in order: `_pattern`'s
    work, settled once per map rather than per pair (a sixth of its time at 30,000 pairs)."""
    levels = _levels_function(entity)
    in_order = in_comparison_order(comparisons_for(entity))
    return lambda left, right: in_order(levels(left, right))


def _compared(pairs: np.ndarray, of: str = "profiles"):
    """The level patterns of a slice of pairs (rows of two indexes into `shared()[of]`).

    Customers' are compared as arrays (`vectorised.pattern_codes`, a number each: 0.63 ->
    0.18 s of CPU for the 92,354 pairs of a 10,000-record estimate, its columns included)
    where the columns of the profiles were made already, or where the slice has at least as
    many pairs as there are profiles to make them of (then once per process); else, and for
    products, pair by pair (tuples): the columns of 100,000 profiles take 0.6 s to make, and
    a 100,000-record sample's slices hold about 12,000 pairs."""
    data = shared()
    profiles = data[of]
    made = data.setdefault("columns", {})
    columns = made.get(id(profiles))
    if data["entity"] == Entity.CUSTOMER and columns is None and len(pairs) >= len(profiles):
        columns = made[id(profiles)] = Columns(profiles)
    if columns is None:
        pattern = data["pattern"]
        return [pattern(profiles[left], profiles[right]) for left, right in pairs.tolist()]
    return pattern_codes(columns, pairs[:, 0], pairs[:, 1])


def _sampled_compared(pairs: np.ndarray):
    """`_compared` of pairs of the sample the blocked pairs are drawn from."""
    return _compared(pairs, "sampled")


def _as_array(pairs: list[tuple[int, int]]) -> np.ndarray:
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def _patterns_of(entity: str, parts: list) -> list[tuple]:
    """The patterns of every pair from `_compared`'s parts (tuples, or numbers), in order."""
    width = len(comparisons_for(entity))
    return [
        pattern
        for part in parts
        for pattern in (patterns_of(part, width) if isinstance(part, np.ndarray) else part)
    ]


def _patterns(
    entity: str, profiles: list[dict], pairs: list[tuple[int, int]], columns: Columns | None
) -> list[tuple]:
    """The level pattern of each pair, computed on all cores for many pairs. `columns`: see
    `estimate_weights`."""
    data = {
        "entity": entity,
        "pattern": pattern_function(entity),
        "profiles": profiles,
        "columns": {id(profiles): columns} if columns is not None else {},
    }
    return _patterns_of(entity, fork_map(_compared, _as_array(pairs), data=data, per_slice=True))


def blocked_pairs(
    entity: str,
    profiles: list[dict],
    max_pairs: int,
    rng,
    keys: list[list[str]] | None = None,
    spare: list | None = None,
    union: list | None = None,
) -> tuple[dict[str, list], list, int]:
    """Pairs that blocking would compare: a sample per pass, a sample of the distinct pairs, and
    how many distinct pairs there are. `spare`, if given, receives a function drawing that
    many more distinct pairs from those the sample left out; `union` receives every pair of
    the samples once, ascending, as an (n, 2) array (the sorted set of the lists' tuples
    took 0.08-0.1 s at 10,000 records).

    A true match shares many keys, so it turns up in many passes; counting it once per pass
    would inflate the share of matches several times. The prior is therefore estimated on the
    distinct pairs, while each pass keeps its own sample for the m of the fields it leaves free.
    Pairs are numpy codes (left * size + right) until sampled: as tuples in sets, the 7.8
    million pairs of a 100,000-record sample took 9.1 s and 1.26 GB more memory (now 4.2 s and
    0.56 GB).
    """
    keys_of = _keys_function(entity)
    if keys is None:
        keys = [keys_of(profile) for profile in profiles]
    left_out = (TERM_PREFIX, *NOT_SAMPLED)
    retrieval = [[key for key in own if not key.startswith(left_out)] for own in keys]
    flat = [key for own in retrieval for key in own]
    member = np.repeat(np.arange(len(retrieval)), [len(own) for own in retrieval])
    # Postings grouped by key (its 64-bit hash), members ascending within a group.
    hashes = key_hashes(flat)
    order = np.argsort(hashes, kind="stable")
    hashes, member = hashes[order], member[order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]]) if len(hashes) else hashes
    sizes = np.diff(np.r_[starts, len(hashes)])
    group_size = np.repeat(sizes, sizes)
    position = np.arange(len(hashes)) - np.repeat(starts, sizes)
    pass_ids: dict[str, int] = {}
    pass_of_group = [
        pass_ids.setdefault(flat[at].split(":", 1)[0], len(pass_ids)) for at in order[starts]
    ]
    pass_of = np.repeat(np.asarray(pass_of_group, dtype=np.int64), sizes)
    size = len(profiles)
    # Every pair of a group (2 to MAX_GROUP members) is a posting and the one `step` after it.
    usable = np.flatnonzero((group_size >= 2) & (group_size <= MAX_GROUP))
    codes, passes = [], []
    step = 1
    while len(usable):
        usable = usable[position[usable] + step < group_size[usable]]
        codes.append(member[usable] * size + member[usable + step])
        passes.append(pass_of[usable])
        step += 1
    code = np.concatenate(codes) if codes else np.empty(0, dtype=np.int64)
    pass_code = np.concatenate(passes) if passes else np.empty(0, dtype=np.int64)
    generator = np.random.default_rng(rng.getrandbits(64))
    names = {number: name for name, number in pass_ids.items()}
    by_pass = {
        name: _unique(code[pass_code == number])
        for number, name in sorted(names.items(), key=lambda item: item[1])  # by pass name
        if (pass_code == number).any()
    }
    distinct = _unique(code)
    sampled, codes = {}, []
    for name, pairs in by_pass.items():
        limit = max_pairs // max(len(by_pass), 1)
        codes.append(_sample(generator, pairs, limit))
        sampled[name] = _as_pairs(codes[-1], size)
    chosen = _sample(generator, distinct, max_pairs)
    if union is not None:
        every = _unique(np.concatenate([chosen, *codes]))
        union.append(np.stack((every // size, every % size), axis=1))
    if spare is not None:

        def draw(count: int) -> list[tuple[int, int]]:
            rest = np.setdiff1d(distinct, chosen, assume_unique=True)
            return _as_pairs(_sample(generator, rest, count), size)

        spare.append(draw)
    return sampled, _as_pairs(chosen, size), len(distinct)


def _unique(codes: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique's hashing was slower than sorting here)."""
    codes = np.sort(codes)
    return codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes


def _sample(generator, codes: np.ndarray, limit: int) -> np.ndarray:
    return generator.choice(codes, limit, replace=False) if len(codes) > limit else codes


def _as_pairs(codes: np.ndarray, size: int) -> list[tuple[int, int]]:
    return list(zip((codes // size).tolist(), (codes % size).tolist(), strict=True))


def _em(patterns: Counter, comparisons, skip: set[str], m: dict, u: dict) -> tuple[dict, float]:
    """EM over level patterns with u fixed; fields in `skip` take no part. Returns (m, share)."""
    used = [(position, c) for position, c in enumerate(comparisons) if c.name not in skip]
    m = {name: list(values) for name, values in m.items()}
    share = 0.05
    for _ in range(ITERATIONS):
        expected = {c.name: [PRIOR_STRENGTH * value for value in c.m] for _, c in used}
        matched = 0.0
        for pattern, count in patterns.items():
            likely_match, likely_chance = share, 1 - share
            for position, comparison in used:
                level = pattern[position]
                if level is not None:
                    likely_match *= m[comparison.name][level]
                    likely_chance *= u[comparison.name][level]
            posterior = likely_match / (likely_match + likely_chance)
            matched += posterior * count
            for position, comparison in used:
                if pattern[position] is not None:
                    expected[comparison.name][pattern[position]] += posterior * count
        share = min(max(matched / max(sum(patterns.values()), 1), 1e-6), 0.999)
        for name, values in expected.items():
            m[name] = [value / sum(values) for value in values]
    return m, share


def estimate_weights(
    entity: str,
    profiles: list[dict],
    *,
    keys: list[list[str]] | None = None,
    max_pairs: int = 40_000,
    seed: int = 1,
    systems: list[str] | None = None,
    meanwhile: Callable[[], object] | None = None,
    columns: Columns | None = None,
) -> dict:
    """Weights {"prior", "fields": {name: {"m": [...], "u": [...]}}} estimated from profiles.

    With `systems` (each profile's source system) and more than one system among them, the
    prior is also estimated apart for two records of one system and two of different systems
    ("prior_same_system", "prior_other_system"; see `system_priors`). `meanwhile` is called
    in this process while the workers compare the blocked pairs (or first, with no workers).
    `columns`: the `vectorised.Columns` of customer `profiles`, if made already (else each
    worker makes them).
    """
    comparisons = comparisons_for(entity)
    rng = random.Random(seed)
    size = len(profiles)
    if size < 50:
        from mdm.matching.scoring import default_weights

        if meanwhile is not None:
            meanwhile()
        return default_weights(comparisons)
    draws = min(30_000, 50 * size)
    random_pairs = [(rng.randrange(size), rng.randrange(size)) for _ in range(draws)]
    random_pairs = [(left, right) for left, right in random_pairs if left != right]
    sampled_profiles, sampled_keys, sampled_systems = profiles, keys, systems
    if size > MAX_PROFILES:
        # The prior is a ratio of pairs, so a uniform sample of records estimates it unbiased.
        chosen = sorted(rng.sample(range(size), MAX_PROFILES))
        sampled_profiles = [profiles[index] for index in chosen]
        sampled_keys = [keys[index] for index in chosen] if keys is not None else None
        sampled_systems = [systems[index] for index in chosen] if systems is not None else None
    spare: list = []
    # One pool for both maps: the blocked pairs are drawn here while the workers compare the
    # random pairs, then go to the same workers. (One worker had compared the random pairs
    # beside the drawing, 0.2 s at 10,000 records, and a second pool was forked after it.)
    shared_data = {
        "entity": entity,
        "pattern": pattern_function(entity),
        "profiles": profiles,
        "sampled": sampled_profiles,
        "columns": {id(profiles): columns} if columns is not None else {},
    }
    with fork_pool(shared_data, items=len(random_pairs)) as submit:
        compared = submit(_compared, _as_array(random_pairs), per_slice=True)
        # Passes overlap a lot (a true match shares many keys): each pair is compared once.
        union: list = []
        by_pass, distinct, total_blocked = blocked_pairs(
            entity, sampled_profiles, max_pairs, rng, sampled_keys, spare=spare, union=union
        )
        blocked_compared = submit(_sampled_compared, union[0], per_slice=True)
        needed = list(zip(*union[0].T.tolist(), strict=True))
        if meanwhile is not None:
            meanwhile()
        random_patterns = Counter(_patterns_of(entity, compared()))
        seen_patterns = dict(zip(needed, _patterns_of(entity, blocked_compared()), strict=True))
    u = {}
    for position, comparison in enumerate(comparisons):
        counts = [PRIOR_STRENGTH * value for value in comparison.u]
        for pattern, count in random_patterns.items():
            if pattern[position] is not None:
                counts[pattern[position]] += count
        total = sum(counts)
        u[comparison.name] = [value / total for value in counts]

    if sampled_profiles is not profiles:
        columns = None  # they are the whole list's
    profiles, systems, size = sampled_profiles, sampled_systems, len(sampled_profiles)
    pattern_of = seen_patterns.__getitem__

    start_m = {c.name: list(c.m) for c in comparisons}
    estimates: dict[str, list[tuple[float, list[float]]]] = defaultdict(list)
    for name, pairs in by_pass.items():
        patterns = Counter()
        for pair in pairs:
            patterns[pattern_of(pair)] += 1
        skip = PASS_FIELDS.get(name, set())
        pass_m, share = _em(patterns, comparisons, skip, start_m, u)
        for comparison in comparisons:
            if comparison.name not in skip:
                estimates[comparison.name].append((share * len(pairs), pass_m[comparison.name]))
    m = {}
    for comparison in comparisons:
        weighted = estimates.get(comparison.name) or []
        total_weight = sum(weight for weight, _ in weighted)
        if total_weight <= 0:
            m[comparison.name] = list(comparison.m)
            continue
        m[comparison.name] = [
            sum(weight * values[level] for weight, values in weighted) / total_weight
            for level in range(len(comparison.m))
        ]
    # The share of matches among the distinct blocked pairs, with every field taking part.
    all_patterns = Counter()
    for pair in distinct:
        all_patterns[pattern_of(pair)] += 1
    all_pairs = size * (size - 1) / 2
    prior = (
        _population_prior(all_patterns, comparisons, m, u, total_blocked / len(distinct), all_pairs)
        if distinct
        else DEFAULT_PRIOR
    )
    in_sample = prior * all_pairs * len(distinct) / max(total_blocked, 1)
    if distinct and in_sample < MIN_SAMPLE_MATCHES and len(distinct) < total_blocked:
        wanted = len(distinct) * (MIN_SAMPLE_MATCHES / max(in_sample, 1.0) - 1)
        extra = spare[0](int(min(wanted, MAX_EXTRA_PAIRS)))
        for pair, pattern in zip(extra, _patterns(entity, profiles, extra, columns), strict=True):
            seen_patterns[pair] = pattern
            all_patterns[pattern] += 1
        distinct = distinct + extra
    if distinct:
        u = _non_match_u(random_patterns, comparisons, m, u, prior)
        prior = _population_prior(
            all_patterns, comparisons, m, u, total_blocked / len(distinct), all_pairs
        )
    weights = {
        "prior": prior,
        "fields": {c.name: {"m": m[c.name], "u": u[c.name]} for c in comparisons},
        "blocked_pairs": total_blocked,
        "sampled_pairs": len(distinct),
        "population": size,
        "review_threshold": review_threshold(all_patterns, comparisons, m, u, prior),
    }
    if distinct and systems is not None and len(set(systems)) > 1:
        scale = total_blocked / len(distinct)
        found = system_priors(distinct, pattern_of, systems, comparisons, m, u, scale, prior)
        weights.update(found)
    return weights


def system_priors(
    distinct: list, pattern_of, systems: list[str], comparisons, m: dict, u: dict, scale, prior
) -> dict:
    """The prior apart for two records of one source system and two of different systems.

    Systems are often clean on their own (an accounts package holds a customer once) while the
    same customer is in every system; or one system (a web shop's guest checkouts) duplicates a
    lot. One prior for all pairs then overrates a namesake within a clean system and underrates
    a true link between systems. Each is estimated like the population prior, over the blocked
    pairs of its kind and all pairs of its kind, with SYSTEM_PRIOR_STRENGTH matches of the
    sample at the overall prior as pseudo-counts: a kind with little evidence stays near the
    overall prior. Neither is kept (an empty result) unless the matches the sample holds of one
    kind are SYSTEM_PRIOR_Z standard errors from what the overall prior expects of it: a
    generated file whose duplicates fall in any system came out at +0.4 / -0.3 bits on one
    100,000-record sample of a million and -0.4 / +0.2 on another.
    """
    same_patterns, other_patterns = Counter(), Counter()
    for pair in distinct:
        kind = same_patterns if systems[pair[0]] == systems[pair[1]] else other_patterns
        kind[pattern_of(pair)] += 1
    sizes = Counter(systems)
    all_pairs = len(systems) * (len(systems) - 1) / 2
    same_pairs = sum(count * (count - 1) / 2 for count in sizes.values())
    found, significant = {}, False
    for name, patterns, pairs in (
        ("prior_same_system", same_patterns, same_pairs),
        ("prior_other_system", other_patterns, all_pairs - same_pairs),
    ):
        # Matches among the sampled pairs of this kind, and as many as the overall prior
        # expects there: a difference within the sample's own noise is no finding.
        seen = _population_prior(patterns, comparisons, m, u, scale, pairs) * pairs / scale
        expected = prior * pairs / scale
        significant |= abs(seen - expected) >= SYSTEM_PRIOR_Z * math.sqrt(max(expected, 1.0))
        pseudo = (SYSTEM_PRIOR_STRENGTH * scale, prior)  # in the sample's matches, as scaled
        found[name] = _population_prior(patterns, comparisons, m, u, scale, pairs, pseudo=pseudo)
    return found if significant else {}


def _likelihood_ratio(pattern: tuple, comparisons, m: dict, u: dict) -> float:
    """P(pattern | match) / P(pattern | non-match); missing levels are neutral."""
    ratio = 1.0
    for position, comparison in enumerate(comparisons):
        level = pattern[position]
        if level is not None:
            ratio *= m[comparison.name][level] / max(u[comparison.name][level], 1e-12)
    return ratio


def _non_match_u(random_patterns: Counter, comparisons, m: dict, u: dict, prior: float) -> dict:
    """u from the random pairs less the true matches among them.

    u is P(level | two different entities), but a random pair is the same entity with the
    probability `prior`; counted raw, those few matches dominate the rarest agreements (a whole
    address in common) and cap their weight at about log2(1 / prior). Each random pair counts
    here by its probability of not being a match.
    """
    odds = prior / (1 - prior)
    counts = {c.name: [PRIOR_STRENGTH * value for value in c.u] for c in comparisons}
    for pattern, count in random_patterns.items():
        ratio = _likelihood_ratio(pattern, comparisons, m, u)
        weight = count / (1 + ratio * odds)  # count * P(not a match)
        for position, comparison in enumerate(comparisons):
            if pattern[position] is not None:
                counts[comparison.name][pattern[position]] += weight
    return {name: [value / sum(values) for value in values] for name, values in counts.items()}


def review_threshold(
    patterns: Counter, comparisons, m: dict, u: dict, prior: float, auto_merge: float = 0.95
) -> float:
    """The review threshold that keeps REVIEW_RECALL of the expected matches not auto-merged.

    With calibrated probabilities, the expected number of true matches among the blocked pairs
    scoring below t is the sum of their probabilities; the threshold is the highest t that leaves
    at most 1 - REVIEW_RECALL of the expected matches below the auto-merge threshold under it.
    It never goes below MIN_REVIEW_THRESHOLD: under 1 match in 100 pairs a review queue costs
    stewards more than it finds.
    """
    odds = prior / (1 - prior)
    scored = []
    for pattern, count in patterns.items():
        ratio = _likelihood_ratio(pattern, comparisons, m, u)
        probability = ratio * odds / (1 + ratio * odds)
        if probability < auto_merge:
            scored.append((probability, count))
    expected = sum(probability * count for probability, count in scored)
    if expected <= 0:
        return MIN_REVIEW_THRESHOLD
    below, threshold = 0.0, MIN_REVIEW_THRESHOLD
    for probability, count in sorted(scored):
        below += probability * count
        if below > (1 - REVIEW_RECALL) * expected:
            threshold = probability  # this pattern and all above it stay in the band
            break
    return round(min(max(threshold, MIN_REVIEW_THRESHOLD), auto_merge / 2), 4)


def _population_prior(
    patterns: Counter,
    comparisons,
    m: dict,
    u: dict,
    scale: float,
    all_pairs: float,
    pseudo: tuple[float, float] | None = None,
) -> float:
    """The probability that two random records match, by EM over the whole population.

    m and u describe random pairs, so a pair's posterior uses the population prior however the
    pair was found; pairs no blocking pass finds are taken as non-matches. (A mixture share fitted
    on the blocked pairs alone, with population u, counts every namesake pair as a match.)
    `scale` is the number of distinct blocked pairs each pattern count stands for; `pseudo`
    (matches, at this prior) are added to the expected matches and their pairs to `all_pairs`.
    """
    extra_matches, extra_pairs = (pseudo[0], pseudo[0] / pseudo[1]) if pseudo else (0.0, 0.0)
    ratios = []
    for pattern, count in patterns.items():
        ratio = _likelihood_ratio(pattern, comparisons, m, u)
        ratios.append((ratio, count * scale))
    prior = DEFAULT_PRIOR
    for _ in range(50):
        odds = prior / (1 - prior)
        expected = sum(count * ratio * odds / (1 + ratio * odds) for ratio, count in ratios)
        updated = (expected + extra_matches) / max(all_pairs + extra_pairs, 1.0)
        updated = min(max(updated, 1e-12), 0.1)
        if abs(updated - prior) <= prior * 1e-4:
            return updated
        prior = updated
    return prior


def estimate_from_database(
    entity: str, *, sample: int = 50_000, seed: int = 1, use_decisions: bool = True
) -> MatchSettings:
    """Re-estimate an entity's weights from (a sample of) its source records and store them.

    With `use_decisions` the stewards' "same" / "not the same" decisions refine the estimate
    as labels (`mdm.matching.labels`).
    """
    from mdm.matching.labels import apply_decisions, decision_patterns

    ids = list(SourceRecord.objects.filter(entity=entity).values_list("id", flat=True))
    rng = random.Random(seed)
    if len(ids) > sample:
        ids = rng.sample(ids, sample)
    profiles, systems = [], []
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for profile, system in SourceRecord.objects.filter(id__in=chunk).values_list(
            "profile", "system"
        ):
            profiles.append(profile)
            systems.append(system)
    weights = estimate_weights(entity, profiles, seed=seed, systems=systems)
    if use_decisions:
        comparisons = comparisons_for(entity)
        same, different = decision_patterns(entity, comparisons)
        weights = apply_decisions(weights, comparisons, same, different)
    return store_weights(entity, weights, len(profiles))


def store_weights(entity: str, weights: dict, pairs: int) -> MatchSettings:
    settings = MatchSettings.for_entity(entity)
    settings.weights = weights
    settings.weights_estimated_at = timezone.now()
    settings.weights_pairs = weights.get("blocked_pairs", pairs)
    suggested = weights.get("review_threshold")
    if settings.calibrate_review_threshold and suggested:
        settings.review_threshold = min(suggested, settings.auto_merge_threshold)
    settings.save()
    return settings
