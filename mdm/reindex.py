"""Bring stored profiles and blocking keys up to date with the matching code.

A record's profile (the normalised view matching compares) and its blocking keys are computed
once, when the record is ingested. A later version of Concord may normalise differently or add
a blocking pass (the surname-prefix pass `lp` came in a later version): records stored before
it keep their old profile and lack the new keys until they are ingested again, so new records
do not find them through the new pass. `reindex` recomputes both from each record's stored
attributes and rewrites those that differ. It changes no golden record and decides no match:
what it changes is which records later ones are compared with, and with what.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q

from mdm.bulkwrite import json_loads, json_text, update_rows
from mdm.keyindex import insert_keys
from mdm.matching.matcher import profile_and_keys
from mdm.models import BlockingKey, SourceRecord
from mdm.parallel import fork_map, shared


@dataclass
class ReindexSummary:
    records: int = 0  # looked at
    profiles_changed: int = 0
    keys_changed: int = 0  # records whose key set changed
    keys_added: int = 0
    keys_removed: int = 0
    stale: int = 0  # records whose profile or keys differ from what the code computes now
    orphans: int = 0  # key rows whose record is gone (deleted in SQL: the table has no constraint)
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)  # a few keys that were missing


def _fresh(index: int) -> tuple[dict, list[str]]:
    data = shared()
    return profile_and_keys(data["entity"], data["attributes"][index])


def _stored(entity: str, ids: list[int]) -> tuple[list, dict[int, set[str]]]:
    """(id, attributes, profile) of these records and their stored keys, in id order."""
    rows = list(
        SourceRecord.objects.filter(id__in=ids)
        .annotate(attributes_text=json_text("attributes"), profile_text=json_text("profile"))
        .order_by("id")
        .values_list("id", "attributes_text", "profile_text")
    )
    records = [(rid, json_loads(attributes), json_loads(prof)) for rid, attributes, prof in rows]
    keys: dict[int, set[str]] = {rid: set() for rid, _, _ in records}
    pairs = BlockingKey.objects.filter(entity=entity, source_record_id__in=ids).values_list(
        "source_record_id", "key"
    )
    for record_id, key in pairs:
        keys.setdefault(record_id, set()).add(key)
    return records, keys


def _compare(entity: str, ids: list[int], summary: ReindexSummary, write: bool) -> None:
    records, stored_keys = _stored(entity, ids)
    fresh = fork_map(
        _fresh,
        range(len(records)),
        data={"entity": entity, "attributes": [attributes for _, attributes, _ in records]},
    )
    changed_profiles, removed, added = [], {}, []
    for (record_id, _, old_profile), (new_profile, new_keys) in zip(records, fresh, strict=True):
        summary.records += 1
        wanted, have = set(new_keys), stored_keys[record_id]
        profile_changed, keys_changed = new_profile != old_profile, wanted != have
        if profile_changed:
            summary.profiles_changed += 1
            changed_profiles.append(SourceRecord(id=record_id, profile=new_profile))
        if keys_changed:
            gone, new = have - wanted, sorted(wanted - have)
            summary.keys_changed += 1
            summary.keys_added += len(new)
            summary.keys_removed += len(gone)
            if gone:
                removed[record_id] = sorted(gone)
            added.extend((entity, key, record_id) for key in new)
            if len(summary.examples) < 5 and new:
                summary.examples.append(new[0])
        summary.stale += profile_changed or keys_changed
    if not write:
        return
    update_rows(SourceRecord, changed_profiles, ["profile"])
    # Only the keys that changed: an upgrade that adds a pass adds one key a record, and
    # rewriting all ~18 of them churned the key index (1M records: 205,000 in 150 s).
    pending = list(removed.items())
    for start in range(0, len(pending), 200):
        condition = Q()
        for record_id, keys in pending[start : start + 200]:
            condition |= Q(source_record_id=record_id, key__in=keys)
        BlockingKey.objects.filter(condition, entity=entity).delete()
    insert_keys(added, in_key_order=False)


def reindex(
    entity: str,
    *,
    write: bool = True,
    chunk: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> ReindexSummary:
    """Recompute every source record's profile and keys; rewrite those that changed.

    Each chunk is one transaction (the records' rows locked on PostgreSQL, so a real-time
    ingest of one of them waits and its result is what stays). With `write=False` nothing is
    written: the summary says what would change.
    """
    started = time.monotonic()
    summary = ReindexSummary()
    ids = list(
        SourceRecord.objects.filter(entity=entity).order_by("id").values_list("id", flat=True)
    )
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        with transaction.atomic():
            if write and connection.features.has_select_for_update:
                list(SourceRecord.objects.select_for_update().filter(id__in=part).values("id"))
            _compare(entity, part, summary, write)
        if progress:
            progress(min(start + chunk, len(ids)), len(ids))
    # NOT EXISTS, an anti-join: NOT IN (SELECT id ...) is planned on PostgreSQL as a scan of
    # all record ids per key row once they outgrow work_mem (1M records: never finishes).
    orphans = BlockingKey.objects.filter(entity=entity).filter(
        ~Exists(SourceRecord.objects.filter(id=OuterRef("source_record_id")))
    )
    summary.orphans = orphans.delete()[0] if write else orphans.count()
    summary.seconds = time.monotonic() - started
    return summary


def sample_staleness(entity: str, size: int = 100, seed: int = 1) -> tuple[int, int]:
    """(records checked, of which out of date) on a random sample: a cheap check for status.

    Ids are drawn from the id range (reading every id of a million records would not be
    cheap); those that are gone or of the other entity are skipped.
    """
    bounds = SourceRecord.objects.filter(entity=entity).aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return 0, 0
    rng = random.Random(seed)
    drawn = {rng.randint(bounds["low"], bounds["high"]) for _ in range(size * 3)}
    found = list(
        SourceRecord.objects.filter(entity=entity, id__in=sorted(drawn)).values_list(
            "id", flat=True
        )
    )
    chosen = sorted(rng.sample(found, min(size, len(found))))
    summary = ReindexSummary()
    if chosen:
        _compare(entity, chosen, summary, write=False)
    return summary.records, summary.stale
