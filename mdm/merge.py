"""Merge and unmerge golden records, and the steward's decisions on review tasks.

A merge moves the merged record's cross-references to the survivor, leaves the merged record as
a tombstone pointing at it, and keeps a snapshot (values, pins, cross-references, provenance,
tombstones) in a `Merge` row. Unmerge puts all of that back exactly and re-runs survivorship, so
source updates received in between are honoured. An unmerge also records "not the same" for the
pair, or the next update would merge them again. Cross-references attached to the survivor after
the merge stay with it.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from mdm.models import (
    DecisionKind,
    Entity,
    GoldenRecord,
    GoldenStatus,
    HistoryAction,
    HistoryEntry,
    Merge,
    PairDecision,
    Provenance,
    ReviewStatus,
    ReviewTask,
    SourceRecord,
    golden_model,
)
from mdm.survivorship import _jsonable, apply_survivorship, provenance_of


class MergeError(Exception):
    """A merge or unmerge that cannot be done as asked (the message says why)."""


def _golden_field(entity: str) -> str:
    return "customer" if entity == Entity.CUSTOMER else "product"


def _snapshot(golden: GoldenRecord) -> dict:
    field = _golden_field(golden.ENTITY)
    return {
        "values": {name: _jsonable(value) for name, value in golden.values().items()},
        "pinned": golden.pinned,
        "records": sorted(
            SourceRecord.objects.filter(**{field: golden}).values_list("id", flat=True)
        ),
        "provenance": provenance_of(golden),
        "tombstones": sorted(
            str(pk)
            for pk in type(golden).objects.filter(merged_into=golden).values_list("pk", flat=True)
        ),
    }


def _history(golden, action, *, actor, reason, related=None, changes=None) -> None:
    HistoryEntry.objects.create(
        entity=golden.ENTITY,
        golden_id=golden.id,
        action=action,
        actor=actor,
        reason=reason[:255],
        related_golden_id=related.id if related is not None else None,
        changes=changes or {},
    )


def _ordered_pair(left_id, right_id) -> tuple:
    return (left_id, right_id) if str(left_id) < str(right_id) else (right_id, left_id)


def merge(
    survivor: GoldenRecord,
    merged: GoldenRecord,
    *,
    actor=None,
    reason: str = "",
    probability: float | None = None,
    survivorship: bool = True,
) -> Merge:
    """Merge `merged` into `survivor`; `merged` becomes a tombstone. Returns the Merge row.

    `survivorship=False` leaves the survivor's values as they were, for a caller that works
    them out later anyway (a bulk import's end pass, see `mdm.batch.bulk_ingest`)."""
    model = type(survivor)
    entity = survivor.ENTITY
    with transaction.atomic():
        locked = {
            golden.pk: golden
            for golden in model.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk])
        }
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        if survivor.pk == merged.pk:
            raise MergeError("A record cannot be merged into itself.")
        if survivor.is_tombstone or merged.is_tombstone:
            raise MergeError("Both records must be active; one of them is already merged.")
        snapshot = {"survivor": _snapshot(survivor), "merged": _snapshot(merged)}
        field = _golden_field(entity)
        SourceRecord.objects.filter(**{field: merged}).update(**{field: survivor})
        model.objects.filter(merged_into=merged).update(merged_into=survivor)
        survivor.pinned = {**merged.pinned, **survivor.pinned}
        survivor.save(update_fields=["pinned", "updated_at"])
        merged.status, merged.merged_into = GoldenStatus.MERGED, survivor
        merged.save(update_fields=["status", "merged_into", "updated_at"])
        Provenance.objects.filter(entity=entity, golden_id=merged.id).delete()
        ReviewTask.open_between(entity, survivor.id, merged.id).update(
            status=ReviewStatus.MERGED, decided_by=actor, decided_at=timezone.now()
        )
        _history(survivor, HistoryAction.MERGED, actor=actor, reason=reason, related=merged)
        _history(merged, HistoryAction.MERGED_AWAY, actor=actor, reason=reason, related=survivor)
        if survivorship:
            apply_survivorship(survivor, actor=actor, reason=f"merge of {merged.id}")
        return Merge.objects.create(
            entity=entity,
            survivor_id=survivor.id,
            merged_id=merged.id,
            snapshot=snapshot,
            probability=probability,
            actor=actor,
            reason=reason[:255],
        )


def _restore(golden: GoldenRecord, state: dict) -> None:
    for name, value in state["values"].items():
        setattr(golden, name, value)
    golden.pinned = state["pinned"]
    golden.status, golden.merged_into = GoldenStatus.ACTIVE, None
    golden.save()
    Provenance.objects.update_or_create(
        entity=golden.ENTITY, golden_id=golden.id, defaults={"attributes": state["provenance"]}
    )


def unmerge(merge_row: Merge, *, actor=None, reason: str = "") -> tuple[GoldenRecord, GoldenRecord]:
    """Undo a merge exactly; returns (survivor, restored record)."""
    model = golden_model(merge_row.entity)
    field = _golden_field(merge_row.entity)
    with transaction.atomic():
        merge_row = Merge.objects.select_for_update().get(pk=merge_row.pk)
        if merge_row.undone_at:
            raise MergeError("This merge has already been undone.")
        locked = {
            golden.pk: golden
            for golden in model.objects.select_for_update().filter(
                pk__in=[merge_row.survivor_id, merge_row.merged_id]
            )
        }
        survivor, merged = locked[merge_row.survivor_id], locked[merge_row.merged_id]
        if survivor.is_tombstone:
            raise MergeError(
                f"The survivor has since been merged into {survivor.merged_into_id}; undo that "
                "merge first."
            )
        if merged.merged_into_id != survivor.id:
            raise MergeError("The merged record no longer points at the survivor.")
        state = merge_row.snapshot
        SourceRecord.objects.filter(id__in=state["merged"]["records"], **{field: survivor}).update(
            **{field: merged}
        )
        model.objects.filter(pk__in=state["merged"]["tombstones"]).update(merged_into=merged)
        _restore(merged, state["merged"])
        _restore(survivor, state["survivor"])
        merge_row.undone_at, merge_row.undone_by = timezone.now(), actor
        merge_row.save(update_fields=["undone_at", "undone_by"])
        record_decision(merge_row.entity, survivor.id, merged.id, DecisionKind.NOT_SAME, actor)
        for golden, other in ((survivor, merged), (merged, survivor)):
            _history(golden, HistoryAction.UNMERGED, actor=actor, reason=reason, related=other)
            apply_survivorship(golden, actor=actor, reason="unmerge")
        return survivor, merged


def record_decision(entity: str, left_id, right_id, decision: str, actor=None, explanation=None):
    left_id, right_id = _ordered_pair(left_id, right_id)
    row, _ = PairDecision.objects.update_or_create(
        entity=entity,
        left_id=left_id,
        right_id=right_id,
        defaults={"decision": decision, "decided_by": actor, "explanation": explanation or {}},
    )
    return row


def suppressed_ids(entity: str, golden_id) -> set:
    """Active golden ids a steward has declared "not the same" as this record (or its merges)."""
    model = golden_model(entity)
    lineage = {
        golden_id,
        *model.objects.filter(merged_into_id=golden_id).values_list("pk", flat=True),
    }
    not_same = PairDecision.objects.filter(entity=entity, decision=DecisionKind.NOT_SAME)
    others = set(not_same.filter(left_id__in=lineage).values_list("right_id", flat=True))
    others |= set(not_same.filter(right_id__in=lineage).values_list("left_id", flat=True))
    if not others:
        return set()
    resolved = model.objects.filter(pk__in=others).values_list("pk", "merged_into_id")
    return {merged_into or pk for pk, merged_into in resolved}


def decide_review(task: ReviewTask, *, same: bool, actor=None) -> Merge | None:
    """Apply a steward's decision on a review task: merge the pair, or suppress it for good."""
    model = golden_model(task.entity)
    with transaction.atomic():
        task = ReviewTask.objects.select_for_update().get(pk=task.pk)
        if task.status != ReviewStatus.OPEN:
            raise MergeError("This review task has already been decided.")
        left = model.objects.get(pk=task.left_id).survivor()
        right = model.objects.get(pk=task.right_id).survivor()
        task.decided_by, task.decided_at = actor, timezone.now()
        if not same:
            record_decision(
                task.entity, left.id, right.id, DecisionKind.NOT_SAME, actor, task.explanation
            )
            task.status = ReviewStatus.NOT_SAME
            task.save()
            for golden, other in ((left, right), (right, left)):
                _history(
                    golden, HistoryAction.DECIDED, actor=actor, reason="not the same", related=other
                )
            return None
        record_decision(task.entity, left.id, right.id, DecisionKind.SAME, actor, task.explanation)
        task.status = ReviewStatus.MERGED
        task.save()
        if left.pk == right.pk:
            return None
        survivor, merged = choose_survivor(left, right)
        return merge(
            survivor, merged, actor=actor, reason="review: the same", probability=task.probability
        )


def choose_survivor(first: GoldenRecord, second: GoldenRecord) -> tuple[GoldenRecord, GoldenRecord]:
    """The record with more cross-references survives (then the older one): fewer ids move."""

    def rank(golden):
        return (-golden.source_records().count(), golden.created_at, str(golden.id))

    return (first, second) if rank(first) <= rank(second) else (second, first)
