"""Blocking in the database: store each record's keys, lock them, find candidates through them.

Keys live in `BlockingKey` (indexed on entity + key), so any worker on any machine finds the
same candidates and nothing is lost on a restart. A key held by more than `MAX_POSTINGS`
records ("ct:services") is too common to narrow anything down and is skipped for retrieval.
"""

from __future__ import annotations

import time
from collections import Counter

from django.db import connection
from django.db.models import Count

from mdm.matching.profile import is_retrieval_key
from mdm.models import BlockingKey, BlockingLock, SourceRecord

MAX_POSTINGS = 1000
# Candidates compared per record, most shared keys first. On 100,000 generated people 20 found
# the same pairs as 50 but for 8 of 53,000 (recall 0.8992 vs 0.8993) and compared far fewer;
# 12 compares 32% fewer pairs than 20 there (11.1 a record instead of 16.2) and misses 4 more
# true pairs of 59,439 (F1 0.9651 -> 0.9653, precision 0.9976 -> 0.998). FEBRL 1-4, the
# restaurants and 6,000 generated people and businesses give the same figures with either.
MAX_CANDIDATE_RECORDS = 12
# Of those, how many may share a single key with the record. Two thirds of all comparisons
# were such pairs (a neighbour in the same postcode, a namesake elsewhere) and under 1% of them
# reached the review band; a duplicate nearly always shares several keys.
MAX_SINGLE_KEY_CANDIDATES = 5
# Postings read per incoming record: the most selective keys first, larger ones only while the
# budget lasts. A duplicate shares several keys, and the small ones (postcode, house number +
# street, name + district) find it; "john smith" in a million records would not narrow much.
CANDIDATE_BUDGET = 400
_POPULATION_TTL = 60.0
_population_cache: dict[str, tuple[float, int]] = {}
_large_counts: dict[tuple[str, str], tuple[float, int]] = {}  # see `key_counts`
_LARGE_COUNTS_KEPT = 100_000


def ensure_lock_rows(entity: str, keys: list[str]) -> None:
    """Create the lock rows of these keys (PostgreSQL), outside the ingest transaction.

    Done before locking so the locking transaction only ever waits on existing rows, taken in
    key order: no deadlock between two ingests.
    """
    if connection.vendor != "postgresql" or not keys:
        return
    BlockingLock.objects.bulk_create(
        [BlockingLock(entity=entity, key=key) for key in sorted(keys)], ignore_conflicts=True
    )


def lock_keys(entity: str, keys: list[str]) -> None:
    """Row-lock the keys' lock rows until the transaction ends (PostgreSQL; SQLite: no-op).

    SQLite needs no row lock: its IMMEDIATE transactions already serialise all writers.
    """
    if connection.vendor != "postgresql" or not keys:
        return
    ensure_lock_rows(entity, keys)  # a no-op unless a key appeared since; keeps callers simple
    list(
        BlockingLock.objects.select_for_update()
        .filter(entity=entity, key__in=sorted(keys))
        .order_by("key")
        .values_list("id", flat=True)
    )


def store_keys(source_record: SourceRecord, keys: list[str]) -> None:
    """Replace a source record's blocking keys."""
    BlockingKey.objects.filter(source_record=source_record).delete()
    BlockingKey.objects.bulk_create(
        [
            BlockingKey(entity=source_record.entity, key=key, source_record=source_record)
            for key in keys
        ]
    )


def key_counts(entity: str, keys: list[str], upto_record: int | None = None) -> dict[str, int]:
    """How many source records (up to an id, if given) hold each key (one grouped, index-only
    query).

    Counting a key reads every posting of it in the index: the term frequency of a common first
    or last name, or a long street in a town (`st`), has thousands among a million customers
    (up to 89,325), and the four or five such keys of a record were most of a real-time match
    (on PostgreSQL at 1,000,000 records: p95 24.8 ms for them, 2.3 ms for all the others). So
    the counts of keys held by more than MAX_POSTINGS records are kept for a minute per
    process, like the population. They are never retrieval keys, and as term frequencies a
    minute's new records change them by a fraction of a percent. Counts up to an id (the batch
    import's) are always read.
    """
    if not keys:
        return {}
    if upto_record is not None:
        return dict(key_count_query(entity, keys, upto_record))
    now = time.monotonic()
    counts, wanted = {}, []
    for key in keys:
        cached = _large_counts.get((entity, key))
        if cached is not None and now - cached[0] < _POPULATION_TTL:
            counts[key] = cached[1]
        else:
            wanted.append(key)
    if wanted:
        found = dict(key_count_query(entity, wanted))
        if len(_large_counts) > _LARGE_COUNTS_KEPT:
            _large_counts.clear()
        for key, count in found.items():
            if count > MAX_POSTINGS:
                _large_counts[(entity, key)] = (now, count)
        counts.update(found)
    return counts


def key_count_query(entity: str, keys: list[str], upto_record: int | None = None):
    """The grouped query behind `key_counts`: (key, count) rows."""
    found = BlockingKey.objects.filter(entity=entity, key__in=keys)
    if upto_record is not None:
        found = found.filter(source_record_id__lte=upto_record)
    # source_record_id, not id: the postings index holds (entity, key, source_record_id), so
    # PostgreSQL counts from the index alone; counting ids read every posting's table row
    # (71 ms instead of 14 ms for five common keys of 100,000 records).
    return found.values_list("key").annotate(count=Count("source_record_id")).order_by()


def population(entity: str) -> int:
    """The number of source records of an entity, cached for a minute per process."""
    cached = _population_cache.get(entity)
    now = time.monotonic()
    if cached and now - cached[0] < _POPULATION_TTL:
        return cached[1]
    count = SourceRecord.objects.filter(entity=entity).count()
    _population_cache[entity] = (now, count)
    return count


def retrieval_keys(keys: list[str], counts: dict[str, int]) -> list[str]:
    """The keys to look candidates up by: smallest first, within CANDIDATE_BUDGET postings.

    The smallest usable key is always taken (up to MAX_POSTINGS), so a record always meets the
    records of its most selective key. The same choice serves the real-time and batch paths.
    """
    usable = sorted(
        (counts.get(key, 0), key)
        for key in keys
        if is_retrieval_key(key) and 0 < counts.get(key, 0) <= MAX_POSTINGS
    )
    chosen, spent = [], 0
    for size, key in usable:
        if chosen and spent + size > CANDIDATE_BUDGET:
            break
        chosen.append(key)
        spent += size
    return chosen


def choose_candidates(shared: Counter) -> list[int]:
    """The records to compare, from {record id: keys shared}: most shared keys first, at most
    MAX_CANDIDATE_RECORDS, of which at most MAX_SINGLE_KEY_CANDIDATES share one key (those of
    the most selective keys: ties keep the order the keys were counted in, smallest first)."""
    chosen = shared.most_common(MAX_CANDIDATE_RECORDS)
    several = sum(1 for _, count in chosen if count > 1)  # they come first
    return [record_id for record_id, _ in chosen[: several + MAX_SINGLE_KEY_CANDIDATES]]


def candidate_records(
    entity: str, keys: list[str], counts: dict[str, int], exclude_record_id: int | None = None
) -> list[dict]:
    """Source records sharing a usable key, most shared keys first, at most a few hundred."""
    usable = retrieval_keys(keys, counts)
    if not usable:
        return []
    shared = Counter(
        BlockingKey.objects.filter(entity=entity, key__in=usable).values_list(
            "source_record_id", flat=True
        )
    )
    shared.pop(exclude_record_id, None)
    chosen = choose_candidates(shared)
    golden_field = "customer_id" if entity == "customer" else "product_id"
    return list(
        SourceRecord.objects.filter(id__in=chosen).values(
            "id", "system", "external_id", "profile", golden_field
        )
    )
