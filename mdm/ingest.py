"""Ingest one canonical record: cross-reference, match, merge or review, survivorship.

`ingest_customer` / `ingest_product` are what the flows, the webhook tasks and the bulk import
call. One record is one transaction:

1. upsert the SourceRecord (an unchanged fingerprint is a no-op; an older timestamp than the
   stored one is ignored, so out-of-order deliveries never roll data back);
2. lock its blocking keys (row locks on PostgreSQL; SQLite's IMMEDIATE transactions serialise
   writers), so two workers ingesting near-duplicates at once cannot both create a golden record;
3. find candidates through the blocking keys and score them;
4. at or above the auto-merge threshold attach the record to the best golden record, between
   the thresholds create a review task, below create a new golden record;
5. recompute the surviving values with their provenance.

Products: an identical SKU is identity; otherwise a similar name only ever proposes a review.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import models, transaction

from connectors.canonical import Customer as CanonicalCustomer
from connectors.canonical import Product as CanonicalProduct
from mdm.matching import blocking
from mdm.matching.matcher import (
    CandidateMatch,
    adjust_for_systems,
    find_matches,
    profile_and_keys,
    weights_for,
)
from mdm.matching.scoring import system_shifts
from mdm.merge import merge, suppressed_ids
from mdm.models import (
    Entity,
    HistoryAction,
    HistoryEntry,
    MatchSettings,
    ReviewTask,
    SourceRecord,
    golden_model,
)
from mdm.records import aware_utc, customer_attributes, fingerprint, product_attributes
from mdm.survivorship import apply_survivorship

logger = logging.getLogger(__name__)


class IngestAction(models.TextChoices):
    CREATED = "created", "New golden record"
    ATTACHED = "attached", "Attached to an existing golden record"
    MERGED = "merged", "Merged its golden record into another"
    UPDATED = "updated", "Updated in place"
    UNCHANGED = "unchanged", "Unchanged (same fingerprint)"
    STALE = "stale", "Ignored (older than the stored version)"


@dataclass
class IngestResult:
    action: IngestAction
    golden_id: object
    source_record_id: int | None
    candidates: list[CandidateMatch] = field(default_factory=list)
    review_tasks: int = 0


def ingest_customer(customer: CanonicalCustomer, *, raw: dict | None = None, actor=None):
    """Ingest one canonical customer; returns what happened and to which golden record."""
    return ingest_record(
        Entity.CUSTOMER,
        customer.source_system,
        customer.external_id,
        customer_attributes(customer),
        customer.source_modified_at,
        raw=raw,
        actor=actor,
    )


def ingest_product(product: CanonicalProduct, *, raw: dict | None = None, actor=None):
    """Ingest one canonical product; returns what happened and to which golden record."""
    return ingest_record(
        Entity.PRODUCT,
        product.source_system,
        product.external_id,
        product_attributes(product),
        product.source_modified_at,
        raw=raw,
        actor=actor,
    )


def ingest_record(
    entity: str,
    system: str,
    external_id: str,
    attributes: dict,
    modified: datetime | None,
    *,
    raw: dict | None = None,
    actor=None,
    settings: MatchSettings | None = None,
) -> IngestResult:
    """Ingest flat canonical attributes of one source record (see the module docstring)."""
    external_id, modified = str(external_id), aware_utc(modified)
    digest = fingerprint(attributes)
    identity = {"entity": entity, "system": system, "external_id": external_id}
    known = SourceRecord.objects.filter(**identity).values("id", "fingerprint").first()
    if known and known["fingerprint"] == digest:
        return _unchanged(entity, known["id"])
    record_profile, keys = profile_and_keys(entity, attributes)
    settings = settings or MatchSettings.for_entity(entity)
    blocking.ensure_lock_rows(entity, keys)
    with transaction.atomic():
        blocking.lock_keys(entity, keys)
        record = SourceRecord.objects.select_for_update().filter(**identity).first()
        if record is not None:
            if record.fingerprint == digest:
                return _unchanged(entity, record.id)
            if modified and record.source_modified_at and modified < record.source_modified_at:
                return IngestResult(IngestAction.STALE, record.golden_id, record.id)
        else:
            record = SourceRecord(**identity)
        record.attributes, record.profile, record.fingerprint = attributes, record_profile, digest
        record.raw = raw if raw is not None else record.raw or {}
        record.source_modified_at = modified or record.source_modified_at
        record.save()
        blocking.store_keys(record, keys)
        current = record.golden
        candidates = find_matches(
            entity,
            record_profile,
            keys,
            exclude_record_id=record.id,
            exclude_golden_id=current.id if current else None,
            settings=settings,
            system=system,
        )
        return _decide(entity, record, current, candidates, settings, actor)


def _unchanged(entity: str, record_id: int) -> IngestResult:
    golden_field = "customer_id" if entity == Entity.CUSTOMER else "product_id"
    golden_id = SourceRecord.objects.filter(id=record_id).values_list(golden_field, flat=True)[0]
    return IngestResult(IngestAction.UNCHANGED, golden_id, record_id)


def _decide(entity, record, current, candidates, settings, actor) -> IngestResult:
    model = golden_model(entity)
    if current is not None and candidates:
        blocked = suppressed_ids(entity, current.id)
        candidates = [match for match in candidates if match.golden_id not in blocked]

    def merges_automatically(match: CandidateMatch) -> bool:
        if entity == Entity.PRODUCT:
            return match.identical_key
        return match.probability >= settings.auto_merge_threshold

    considered = list(candidates)
    best = candidates[0] if candidates else None
    action = IngestAction.UPDATED
    if best is not None and merges_automatically(best):
        target = model.objects.select_for_update().get(pk=best.golden_id)
        if current is None:
            record.set_golden(target)
            record.save(update_fields=["customer", "product", "updated_at"])
            _attached_history(target, record, best, actor)
            current, action = target, IngestAction.ATTACHED
        elif current.source_records().count() == 1:
            # This record alone makes up its golden record: it now belongs with the other one.
            merge(
                target,
                current,
                actor=actor,
                reason=f"automatic match p={best.probability:.4f}",
                probability=best.probability,
            )
            current, action = target, IngestAction.MERGED
        if current.pk == target.pk:
            candidates = candidates[1:]
    if current is None:
        current = model.objects.create()
        record.set_golden(current)
        record.save(update_fields=["customer", "product", "updated_at"])
        HistoryEntry.objects.create(
            entity=entity,
            golden_id=current.id,
            action=HistoryAction.CREATED,
            actor=actor,
            reason=f"from {record}",
        )
        action = IngestAction.CREATED
    tasks = 0
    if candidates and action in (IngestAction.ATTACHED, IngestAction.MERGED):
        blocked = suppressed_ids(entity, current.id)
        candidates = [match for match in candidates if match.golden_id not in blocked]
        weights = weights_for(settings)
        shifts = system_shifts(weights)
        if shifts and "systems" in best.extra:
            # Joining another golden record now joins the one this record went to as well.
            joining = best.extra["systems"] | {record.system}
            for match in candidates:
                adjust_for_systems(match, joining, shifts, weights)
    for match in candidates:
        if match.golden_id == current.id or match.probability < settings.review_threshold:
            continue
        if action in (IngestAction.ATTACHED, IngestAction.MERGED) and merges_automatically(match):
            # The record bridges two golden records it matches with certainty: they are one.
            other = model.objects.select_for_update().filter(pk=match.golden_id).first()
            if other is not None and not other.is_tombstone:
                merge(
                    current,
                    other,
                    actor=actor,
                    reason=f"automatic match via {record} p={match.probability:.4f}",
                    probability=match.probability,
                )
                continue
        tasks += _open_review(entity, current.id, match)
    apply_survivorship(current, actor=actor, reason=f"update from {record}")
    return IngestResult(action, current.id, record.id, considered, tasks)


def _attached_history(golden, record, match: CandidateMatch, actor) -> None:
    HistoryEntry.objects.create(
        entity=golden.ENTITY,
        golden_id=golden.id,
        action=HistoryAction.SOURCE_ATTACHED,
        actor=actor,
        reason=f"{record} matched with p={match.probability:.4f}",
        changes={"explanation": match.explanation},
    )


def _open_review(entity: str, golden_id, match: CandidateMatch) -> int:
    """Open a review task for the pair unless one is already open; returns 1 if created."""
    if ReviewTask.open_between(entity, golden_id, match.golden_id).exists():
        return 0
    ReviewTask.objects.create(
        entity=entity,
        left_id=golden_id,
        right_id=match.golden_id,
        probability=match.probability,
        explanation={"fields": match.explanation, "source_record_id": match.source_record_id},
    )
    return 1
