"""Plain executemany inserts and forked workers used by the batch import."""

import multiprocessing
import os
import uuid

import pytest

from mdm import parallel
from mdm.bulkwrite import insert_rows, reserve_ids
from mdm.models import Customer, HistoryEntry, ReviewTask, SourceRecord

pytestmark = pytest.mark.django_db


def test_inserted_rows_read_back_through_the_orm_with_defaults_applied():
    golden_id = uuid.uuid4()
    insert_rows(
        Customer,
        [{"id": golden_id, "last_name": "Ó'Brien", "emails": ["a@b.ie"], "custom_attributes": {}}],
    )
    golden = Customer.objects.get(pk=golden_id)
    assert (golden.last_name, golden.emails, golden.status) == ("Ó'Brien", ["a@b.ie"], "active")
    assert golden.first_name == "" and golden.pinned == {} and golden.merged_into_id is None
    assert golden.created_at is not None and golden.created_at == golden.updated_at
    ids = reserve_ids(SourceRecord, 2)
    insert_rows(
        SourceRecord,
        [
            {"id": ids[0], "entity": "customer", "system": "crm", "external_id": "1",
             "attributes": {"price": "1.10"}, "profile": {}, "fingerprint": "x",
             "customer_id": golden_id},
            {"id": ids[1], "entity": "customer", "system": "crm", "external_id": "2",
             "attributes": {}, "profile": {"last": "obrien"}, "fingerprint": "y",
             "customer_id": golden_id},
        ],
    )  # fmt: skip
    records = list(golden.sourcerecord_set.order_by("external_id"))
    assert [record.pk for record in records] == ids
    assert records[0].attributes == {"price": "1.10"} and records[1].profile == {"last": "obrien"}
    insert_rows(HistoryEntry, [{"entity": "customer", "golden_id": golden_id, "action": "created"}])
    assert HistoryEntry.objects.get(golden_id=golden_id).actor is None


def test_reserved_ids_once_used_are_never_handed_out_again():
    first = reserve_ids(ReviewTask, 3)
    insert_rows(
        ReviewTask,
        [
            {"id": pk, "entity": "customer", "left_id": uuid.uuid4(), "right_id": uuid.uuid4(),
             "probability": 0.5, "explanation": {}, "status": "open"}
            for pk in first
        ],
    )  # fmt: skip
    second = reserve_ids(ReviewTask, 3)
    created = ReviewTask.objects.create(
        entity="customer", left_id=uuid.uuid4(), right_id=uuid.uuid4(), probability=0.1
    )
    assert len(set(first) | set(second)) == 6
    assert created.pk not in first
    assert ReviewTask.objects.count() == 4


def _pid_and_square(item: int) -> tuple[int, int]:
    return os.getpid(), item * item + parallel.shared()["offset"]


def test_fork_map_keeps_the_order_and_runs_in_other_processes(settings):
    settings.MDM_WORKERS = 2
    results = parallel.fork_map(_pid_and_square, list(range(50)), data={"offset": 1}, minimum=1)
    assert [value for _, value in results] == [n * n + 1 for n in range(50)]
    assert os.getpid() not in {pid for pid, _ in results}
    assert parallel.shared() == {}  # nothing lingers for the next caller


def test_fork_map_stays_in_process_for_a_daemon_worker_or_one_worker(settings, monkeypatch):
    settings.MDM_WORKERS = 1
    results = parallel.fork_map(_pid_and_square, [2, 3], data={"offset": 0}, minimum=1)
    assert results == [(os.getpid(), 4), (os.getpid(), 9)]
    settings.MDM_WORKERS = 2

    class Daemon:
        daemon = True

    monkeypatch.setattr(multiprocessing, "current_process", lambda: Daemon())
    assert parallel.worker_count() == 1  # django-q2 workers are daemons: no children allowed


def test_updated_rows_change_only_the_named_fields_and_stamp_updated_at():
    from mdm.bulkwrite import update_rows

    first, second = (Customer.objects.create(last_name=name, email="x@y.org") for name in "AB")
    before = first.updated_at
    first.last_name, second.last_name, first.email = "Adams", "Brown", "changed@y.org"
    assert update_rows(Customer, [first, second], ["last_name", "updated_at"]) == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.last_name, second.last_name) == ("Adams", "Brown")
    assert first.email == "x@y.org"  # not named: untouched
    assert first.updated_at > before
    assert update_rows(Customer, [], ["last_name"]) == 0


def test_json_written_in_bulk_reads_back_like_the_orms_own():
    from mdm.bulkwrite import json_loads, json_text

    value = {"name": "Zoë Ó'Brien", "nested": {"list": [1, 2.5, None, True]}, "empty": ""}
    golden_id = uuid.uuid4()
    insert_rows(Customer, [{"id": golden_id, "custom_attributes": value}])
    by_orm = Customer.objects.create(custom_attributes=value)
    for pk in (golden_id, by_orm.pk):
        assert Customer.objects.get(pk=pk).custom_attributes == value
        text = (
            Customer.objects.filter(pk=pk)
            .annotate(text=json_text("custom_attributes"))
            .values_list("text", flat=True)
            .get()
        )
        assert json_loads(text) == value
