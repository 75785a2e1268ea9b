"""Estimate the Fellegi-Sunter weights from the data itself, no labels needed.

u (agreement by chance) is counted on random pairs of records; m (agreement among true
matches) and the share of matches among blocked pairs are found by expectation maximisation
over the blocked pairs with u held fixed (as Splink does). Priors act as pseudo-counts, so a
small or empty database still gets sensible weights. The prior match probability of two
random records is the estimated number of matching pairs over all pairs.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from itertools import combinations

from django.utils import timezone

from mdm.matching.matcher import comparisons_for
from mdm.matching.profile import customer_keys, is_retrieval_key, product_keys
from mdm.matching.scoring import DEFAULT_PRIOR, customer_levels, product_levels
from mdm.models import Entity, MatchSettings, SourceRecord

MAX_GROUP = 50  # larger blocks are too common to be informative (and quadratic)
PRIOR_STRENGTH = 20.0  # pseudo-observations the priors are worth
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
    "la": {"last_name", "address"},
    "fa": {"first_name", "last_name", "address"},
    "ct": {"company"},
    "cn": {"company", "address"},
    "ad": {"address"},
    "pc": {"address"},
    "sku": {"sku"},
    "pt": {"name"},
    "pn": {"name"},
}


def blocked_pairs(
    entity: str, profiles: list[dict], max_pairs: int, rng, keys: list[list[str]] | None = None
) -> tuple[dict[str, list], int]:
    """Pairs that blocking would compare, grouped by pass, and how many distinct pairs exist."""
    groups: dict[str, list[int]] = defaultdict(list)
    keys_of = _keys_function(entity)
    for index, profile in enumerate(profiles):
        for key in keys[index] if keys is not None else keys_of(profile):
            if is_retrieval_key(key):
                groups[key].append(index)
    by_pass: dict[str, set] = defaultdict(set)
    for key, members in groups.items():
        if 2 <= len(members) <= MAX_GROUP:
            by_pass[key.split(":", 1)[0]].update(combinations(members, 2))
    total = len(set().union(*by_pass.values())) if by_pass else 0
    sampled = {}
    for name, pairs in by_pass.items():
        ordered = sorted(pairs)
        limit = max_pairs // max(len(by_pass), 1)
        sampled[name] = rng.sample(ordered, limit) if len(ordered) > limit else ordered
    return sampled, total


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
    max_pairs: int = 200_000,
    seed: int = 1,
) -> dict:
    """Weights {"prior", "fields": {name: {"m": [...], "u": [...]}}} estimated from profiles."""
    comparisons = comparisons_for(entity)
    levels_of = _levels_function(entity)
    rng = random.Random(seed)
    size = len(profiles)
    if size < 50:
        from mdm.matching.scoring import default_weights

        return default_weights(comparisons)
    random_patterns = Counter()
    for _ in range(min(30_000, 50 * size)):
        left, right = rng.randrange(size), rng.randrange(size)
        if left != right:
            levels = levels_of(profiles[left], profiles[right])
            random_patterns[tuple(levels[c.name] for c in comparisons)] += 1
    u = {}
    for position, comparison in enumerate(comparisons):
        counts = [PRIOR_STRENGTH * value for value in comparison.u]
        for pattern, count in random_patterns.items():
            if pattern[position] is not None:
                counts[pattern[position]] += count
        total = sum(counts)
        u[comparison.name] = [value / total for value in counts]

    by_pass, total_blocked = blocked_pairs(entity, profiles, max_pairs, rng, keys)
    start_m = {c.name: list(c.m) for c in comparisons}
    estimates: dict[str, list[tuple[float, list[float]]]] = defaultdict(list)
    all_patterns: Counter = Counter()
    for name, pairs in by_pass.items():
        patterns = Counter()
        for left, right in pairs:
            levels = levels_of(profiles[left], profiles[right])
            patterns[tuple(levels[c.name] for c in comparisons)] += 1
        all_patterns.update(patterns)
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
    # The share of matches among all blocked pairs, with every field taking part.
    share = _e_step_share(all_patterns, comparisons, m, u)
    all_pairs = size * (size - 1) / 2
    prior = min(max(share * total_blocked / all_pairs, 1e-9), 0.1) if by_pass else DEFAULT_PRIOR
    return {
        "prior": prior,
        "fields": {c.name: {"m": m[c.name], "u": u[c.name]} for c in comparisons},
        "blocked_pairs": total_blocked,
        "population": size,
    }


def _e_step_share(patterns: Counter, comparisons, m: dict, u: dict) -> float:
    share = 0.05
    for _ in range(ITERATIONS):
        matched = 0.0
        for pattern, count in patterns.items():
            likely_match, likely_chance = share, 1 - share
            for position, comparison in enumerate(comparisons):
                level = pattern[position]
                if level is not None:
                    likely_match *= m[comparison.name][level]
                    likely_chance *= u[comparison.name][level]
            matched += count * likely_match / (likely_match + likely_chance)
        share = min(max(matched / max(sum(patterns.values()), 1), 1e-6), 0.999)
    return share


def estimate_from_database(entity: str, *, sample: int = 50_000, seed: int = 1) -> MatchSettings:
    """Re-estimate an entity's weights from (a sample of) its source records and store them."""
    ids = list(SourceRecord.objects.filter(entity=entity).values_list("id", flat=True))
    rng = random.Random(seed)
    if len(ids) > sample:
        ids = rng.sample(ids, sample)
    profiles = []
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        profiles.extend(SourceRecord.objects.filter(id__in=chunk).values_list("profile", flat=True))
    weights = estimate_weights(entity, profiles, seed=seed)
    return store_weights(entity, weights, len(profiles))


def store_weights(entity: str, weights: dict, pairs: int) -> MatchSettings:
    settings = MatchSettings.for_entity(entity)
    settings.weights = weights
    settings.weights_estimated_at = timezone.now()
    settings.weights_pairs = weights.get("blocked_pairs", pairs)
    settings.save()
    return settings
