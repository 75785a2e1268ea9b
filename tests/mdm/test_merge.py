"""Merging and unmerging golden records, and steward decisions on review tasks."""

import pytest

from mdm.ingest import ingest_customer
from mdm.merge import MergeError, decide_review, merge, unmerge
from mdm.models import (
    Customer,
    GoldenStatus,
    HistoryEntry,
    Merge,
    PairDecision,
    ReviewStatus,
    ReviewTask,
    SourceRecord,
)
from mdm.survivorship import provenance_of
from tests.mdm.factories import person

pytestmark = pytest.mark.django_db


def _state(golden):
    golden.refresh_from_db()
    return (
        golden.status,
        golden.values(),
        sorted(golden.source_records().values_list("id", flat=True)),
        provenance_of(golden),
    )


def _pair():
    left = ingest_customer(person(email="a@example.com"))
    right = ingest_customer(
        person(system="shop", external_id="7", first="Mary", email="m@example.com")
    )
    return Customer.objects.get(pk=left.golden_id), Customer.objects.get(pk=right.golden_id)


def test_merge_leaves_a_tombstone_pointing_at_the_survivor(steward):
    survivor, merged = _pair()
    merge(survivor, merged, actor=steward, reason="same person")
    merged.refresh_from_db()
    assert merged.status == GoldenStatus.MERGED
    assert merged.merged_into == survivor
    assert merged.survivor() == survivor
    assert SourceRecord.objects.filter(customer=survivor).count() == 2
    assert HistoryEntry.objects.filter(golden_id=survivor.id, action="merged", actor=steward)


def test_unmerge_restores_both_records_exactly(steward):
    survivor, merged = _pair()
    before = (_state(survivor), _state(merged))
    merge_row = merge(survivor, merged, actor=steward)
    unmerge(merge_row, actor=steward, reason="wrong merge")
    assert (_state(survivor), _state(merged)) == before
    assert HistoryEntry.objects.filter(golden_id=merged.id, action="unmerged").exists()
    assert Merge.objects.get().undone_at is not None


def test_unmerged_pair_is_not_merged_again_by_the_next_update(steward):
    survivor, merged = _pair()
    unmerge(merge(survivor, merged), actor=steward)
    ingest_customer(person(system="shop", external_id="7", first="Mary", email="a@example.com"))
    assert Customer.objects.filter(status="active").count() == 2


def test_merging_a_tombstone_is_refused():
    survivor, merged = _pair()
    merge(survivor, merged)
    with pytest.raises(MergeError):
        merge(survivor, Customer.objects.get(pk=merged.pk))


def _review_pair():
    ingest_customer(person())
    ingest_customer(person(system="shop", external_id="7", first="Mary"))


def test_approving_a_review_task_merges_the_pair(steward):
    _review_pair()
    task = ReviewTask.objects.get()
    decide_review(task, same=True, actor=steward)
    task.refresh_from_db()
    assert task.status == ReviewStatus.MERGED
    assert Customer.objects.filter(status="active").count() == 1


def test_not_the_same_is_remembered_as_a_decision(steward):
    _review_pair()
    decide_review(ReviewTask.objects.get(), same=False, actor=steward)
    assert PairDecision.objects.get().decision == "not_same"
    with pytest.raises(MergeError):
        decide_review(ReviewTask.objects.get(), same=True, actor=steward)


def test_open_tasks_of_a_pair_are_found_either_way_round_through_an_index():
    import uuid

    from django.db import connection

    one, two, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    ReviewTask.objects.bulk_create(
        [ReviewTask(entity="customer", left_id=uuid.uuid4(), right_id=other, probability=0.5)
         for _ in range(30)]
        + [ReviewTask(entity="customer", left_id=two, right_id=one, probability=0.5),
           ReviewTask(entity="customer", left_id=one, right_id=other, probability=0.5),
           ReviewTask(entity="customer", left_id=two, right_id=one, probability=0.5,
                      status=ReviewStatus.MERGED)]
    )  # fmt: skip
    found = ReviewTask.open_between("customer", one, two)
    assert [(task.left_id, task.right_id) for task in found] == [(two, one)]
    if connection.vendor == "sqlite":
        # Never the queue index (every open task of the entity) for one pair's tasks.
        assert "mdm_review_queue" not in found.explain()
