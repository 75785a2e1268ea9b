"""Plain executemany inserts and forked workers used by the batch import."""

import multiprocessing
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

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


def test_json_with_an_encoder_and_omitted_defaults_read_back_like_the_orms_own():
    """`raw` has Django's encoder (decimals, times, ids); an omitted `raw` is {} in every row,
    one value worked out once for all, never one object the rows share."""
    golden_id = uuid.uuid4()
    Customer.objects.create(id=golden_id)
    raw = {
        "price": Decimal("1.10"),
        "at": datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
        "id": golden_id,
    }
    ids = reserve_ids(SourceRecord, 3)
    rows = [
        {"id": record_id, "entity": "customer", "system": "crm", "external_id": str(record_id),
         "attributes": {}, "profile": {}, "fingerprint": "x", "customer_id": golden_id}
        for record_id in ids
    ]  # fmt: skip
    insert_rows(SourceRecord, [{**rows[0], "raw": raw}])
    insert_rows(SourceRecord, rows[1:])
    by_orm = SourceRecord.objects.create(
        entity="customer", system="crm", external_id="orm", raw=raw, customer_id=golden_id
    )
    written = SourceRecord.objects.in_bulk([*ids, by_orm.pk])
    assert written[ids[0]].raw == written[by_orm.pk].raw == {
        "price": "1.10", "at": "2026-12-06T09:30:00Z", "id": str(golden_id)
    }  # fmt: skip
    assert written[ids[1]].raw == written[ids[2]].raw == {}
    written[ids[1]].raw["changed"] = True
    written[ids[1]].save()
    assert SourceRecord.objects.get(pk=ids[2]).raw == {}


def test_a_callable_default_is_worked_out_for_each_row(monkeypatch):
    field = HistoryEntry._meta.get_field("reason")
    made = iter(range(100))

    def default() -> str:
        return f"row {next(made)}"

    monkeypatch.setattr(field, "default", default)
    monkeypatch.setattr(field, "get_default", default)  # Django caches what it made of it
    golden_id = uuid.uuid4()
    rows = [{"entity": "customer", "golden_id": golden_id, "action": "created"}] * 3
    insert_rows(HistoryEntry, rows)
    reasons = HistoryEntry.objects.filter(golden_id=golden_id).values_list("reason", flat=True)
    assert sorted(reasons) == ["row 0", "row 1", "row 2"]


def test_reserved_ids_that_do_not_run_in_a_row_come_back_one_by_one():
    """Another session drawing ids in between leaves gaps (PostgreSQL): a sequence that
    steps by 3 leaves them in every draw, so the ids cannot come back as a range."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's ids are the next after the largest")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('mdm_reviewtask', 'id')")
        sequence = cursor.fetchone()[0]
        cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY 3")  # undone with the test
        cursor.execute("SELECT nextval(%s::regclass)", [sequence])
        last = cursor.fetchone()[0]
    drawn = reserve_ids(ReviewTask, 4)
    assert drawn == [last + 3, last + 6, last + 9, last + 12]


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


def test_fork_map_runs_meanwhile_in_this_process_beside_one_worker(settings):
    settings.MDM_WORKERS = 2
    calls = []
    results = parallel.fork_map(
        _pid_and_square,
        list(range(20)),
        data={"offset": 0},
        minimum=1,
        meanwhile=lambda: calls.append(os.getpid()),
    )
    assert [value for _, value in results] == [n * n for n in range(20)]
    assert calls == [os.getpid()]
    assert len({pid for pid, _ in results}) == 1  # the other core was the parent's
    assert os.getpid() not in {pid for pid, _ in results}
    settings.MDM_WORKERS = 1
    order = []
    parallel.fork_map(order.append, [1, 2], data={}, minimum=1, meanwhile=lambda: order.append(0))
    assert order == [0, 1, 2]  # no worker: meanwhile first, then the items here


def _pid_after_a_pause(item: int) -> int:
    time.sleep(0.02)  # long enough that every worker takes some of the slices
    return os.getpid()


def test_fork_map_keeps_every_worker_beside_a_short_meanwhile(settings):
    settings.MDM_WORKERS = 2
    calls = []
    pids = parallel.fork_map(
        _pid_after_a_pause,
        list(range(24)),
        data={},
        minimum=1,
        meanwhile=lambda: calls.append(os.getpid()),
        meanwhile_is_short=True,
    )
    assert calls == [os.getpid()]
    assert len(set(pids)) == 2  # two workers, as without `meanwhile`
    assert os.getpid() not in pids
    settings.MDM_WORKERS = 1  # "1 turns it off": no worker beside the parent either
    order = []
    parallel.fork_map(
        order.append,
        [1, 2],
        data={},
        minimum=1,
        meanwhile=lambda: order.append(0),
        meanwhile_is_short=True,
    )
    assert order == [0, 1, 2]


def test_fork_pool_serves_maps_made_after_its_workers_were_forked(settings):
    settings.MDM_WORKERS = 2
    with parallel.fork_pool({"offset": 1}, items=50, minimum=1) as submit:
        first = submit(_pid_and_square, list(range(50)))
        later = [n + 100 for n in range(30)]  # made here while the workers run the first
        second = submit(_pid_and_square, later)
        results, more = first(), second()
    assert [value for _, value in results] == [n * n + 1 for n in range(50)]
    assert [value for _, value in more] == [n * n + 1 for n in later]
    pids = {pid for pid, _ in results + more}
    assert os.getpid() not in pids
    assert len(pids) <= 2  # one pool of two workers served both maps
    assert parallel.shared() == {}
    for workers, items in ((1, 50), (2, 1)):  # one core, or too few items: all here
        settings.MDM_WORKERS = workers
        with parallel.fork_pool({"offset": 0}, items=items, minimum=2) as submit:
            here = submit(_pid_and_square, [2, 3])()
        assert here == [(os.getpid(), 4), (os.getpid(), 9)]


def test_a_map_made_here_inside_a_pools_wait_leaves_the_pools_data(settings):
    """On one core a pool's maps run here when asked for; a map run before that (a one-chunk
    file's candidates, while the estimate's pairs wait) must not take their data away."""
    settings.MDM_WORKERS = 1
    with parallel.fork_pool({"offset": 1}, items=50, minimum=1) as submit:
        waiting = submit(_pid_and_square, [2, 3])
        inner = parallel.fork_map(_pid_and_square, [4], data={"offset": 100}, minimum=1)
        assert [value for _, value in inner] == [116]
        assert [value for _, value in waiting()] == [5, 10]
    assert parallel.shared() == {}


def _squares(items) -> list[int]:
    return [item * item for item in items]


def test_fork_map_hands_each_part_over_as_it_comes_in(settings):
    for workers in (1, 2):
        settings.MDM_WORKERS = workers
        parts = []
        found = parallel.fork_map(
            _squares, list(range(40)), data={}, minimum=1, per_slice=True, each=parts.append
        )
        assert parts == found  # each part once, in order
        assert [value for part in found for value in part] == [n * n for n in range(40)]
        assert len(found) == (1 if workers == 1 else 8)
    with pytest.raises(ValueError, match="not both"):
        parallel.fork_map(_squares, [1], data={}, each=print, meanwhile=print)


def test_fork_map_stays_in_process_for_a_daemon_worker_or_one_worker(settings, monkeypatch):
    settings.MDM_WORKERS = 1
    results = parallel.fork_map(_pid_and_square, [2, 3], data={"offset": 0}, minimum=1)
    assert results == [(os.getpid(), 4), (os.getpid(), 9)]
    settings.MDM_WORKERS = 2

    class Daemon:
        daemon = True

    monkeypatch.setattr(multiprocessing, "current_process", lambda: Daemon())
    assert parallel.worker_count() == 1  # django-q2 workers are daemons: no children allowed


def _made_with_pids(count: int):
    for item in range(count):
        yield os.getpid(), item


def _key_writer(key: str, record_id: int):
    from mdm.models import BlockingKey

    def write() -> None:
        BlockingKey.objects.create(entity="customer", key=key, source_record_id=record_id)

    return write


def test_statements_beside_run_in_order_on_another_thread_in_this_transaction(settings):
    from django.db import transaction

    from mdm.models import BlockingKey

    settings.MDM_WORKERS = 2
    record = SourceRecord.objects.create(
        entity="customer", system="crm", external_id="1", attributes={}, profile={}
    )
    seen = []
    with parallel.statements_beside() as beside:
        beside.submit(lambda: seen.append(threading.current_thread().name))
        beside.submit(_key_writer("fa:a", record.pk))
        beside.submit(lambda: seen.append(BlockingKey.objects.filter(key="fa:a").count()))
        beside.wait()
        assert BlockingKey.objects.filter(key="fa:a").exists()  # this thread sees it at once
    assert seen == ["concord-statements", 1]
    with pytest.raises(RuntimeError), transaction.atomic():
        with parallel.statements_beside() as beside:
            beside.submit(_key_writer("fa:b", record.pk))
        raise RuntimeError("the transaction the thread wrote in is rolled back")
    assert not BlockingKey.objects.filter(key="fa:b").exists()  # it wrote in this transaction


def test_statements_beside_raise_at_the_wait_and_run_nothing_after_a_failure(settings):
    settings.MDM_WORKERS = 2
    ran = []
    with pytest.raises(ZeroDivisionError), parallel.statements_beside() as beside:
        beside.submit(lambda: 1 / 0)
        beside.submit(lambda: ran.append("later"))  # may rely on what failed
    assert ran == []
    with parallel.statements_beside() as beside:
        beside.submit(lambda: ran.append("first"))
        with pytest.raises(LookupError):
            beside.submit(lambda: {}["missing"])
            beside.wait()
        beside.submit(lambda: ran.append("after the wait"))  # the failure was reported
    assert ran == ["first", "after the wait"]


def test_statements_beside_finish_before_a_failing_block_is_left(settings):
    settings.MDM_WORKERS = 2
    started, finished = threading.Event(), []

    def slow() -> None:
        started.set()
        time.sleep(0.2)
        finished.append(threading.current_thread().name)

    with pytest.raises(KeyError), parallel.statements_beside() as beside:
        beside.submit(slow)
        beside.submit(lambda: 1 / 0)  # the block's own error is the one raised
        assert started.wait(5)
        raise KeyError("the block fails while the thread works")
    assert finished == ["concord-statements"]  # done, not left running on the connection


def test_statements_beside_run_at_once_here_without_a_second_core(settings):
    settings.MDM_WORKERS = 1
    names = []
    with parallel.statements_beside() as beside:
        beside.submit(lambda: names.append(threading.current_thread().name))
        assert names == [threading.current_thread().name]
    settings.MDM_WORKERS = 2
    with parallel.statements_beside(enabled=False) as beside:
        beside.submit(lambda: names.append(threading.current_thread().name))
        assert len(names) == 2 and names[1] == threading.current_thread().name


def test_ahead_yields_in_order_from_another_process(settings):
    settings.MDM_WORKERS = 2
    results = list(parallel.ahead(lambda: _made_with_pids(5)))
    assert [item for _, item in results] == [0, 1, 2, 3, 4]
    assert {pid for pid, _ in results} - {os.getpid()}  # made elsewhere
    settings.MDM_WORKERS = 1
    assert list(parallel.ahead(lambda: _made_with_pids(2))) == [(os.getpid(), 0), (os.getpid(), 1)]


def _fails_after_one():
    yield "first"
    raise LookupError("line 7: no such column")


def _counted(path):
    for item in range(1000):
        with open(path, "a") as handle:
            handle.write(".")
        yield item


def test_ahead_runs_at_most_depth_items_ahead(settings, tmp_path):
    settings.MDM_WORKERS = 2
    made = tmp_path / "made"
    items = parallel.ahead(lambda: _counted(made), depth=2)
    assert next(items) == 0
    time.sleep(0.5)
    # Two wait to be taken, one is being handed over and one made meanwhile, not 1,000.
    assert len(made.read_text()) <= 4
    assert list(items) == list(range(1, 1000))


def test_ahead_raises_the_producers_exception_after_its_items(settings):
    settings.MDM_WORKERS = 2
    received = []
    with pytest.raises(LookupError, match="line 7: no such column"):
        for item in parallel.ahead(_fails_after_one):
            received.append(item)
    assert received == ["first"]


def _dies():
    yield 1
    os._exit(3)


def test_ahead_says_so_when_its_process_dies(settings):
    settings.MDM_WORKERS = 2
    items = parallel.ahead(_dies)
    assert next(items) == 1
    with pytest.raises(RuntimeError, match="exit code 3"):
        next(items)


def test_ahead_stops_its_process_when_the_caller_stops_early(settings):
    settings.MDM_WORKERS = 2
    before = {child.pid for child in multiprocessing.active_children()}
    items = parallel.ahead(lambda: iter(range(10**9)))
    assert next(items) == 0
    items.close()
    assert {child.pid for child in multiprocessing.active_children()} == before


def test_ahead_stops_its_process_when_dropped_before_the_first_item(settings):
    settings.MDM_WORKERS = 2
    before = set(multiprocessing.active_children())
    items = parallel.ahead(lambda: iter(range(10**9)))
    (process,) = set(multiprocessing.active_children()) - before
    del items  # never iterated: a generator would not have run its cleanup
    assert not process.is_alive()


@pytest.fixture(params=["statements", "copy"])
def update_path(request, monkeypatch):
    """Both ways `update_rows` writes: one UPDATE per row, and (on PostgreSQL) COPY into a
    temporary table and one UPDATE from it, which normally starts at 100 rows."""
    from mdm import bulkwrite

    if request.param == "copy":
        monkeypatch.setattr(bulkwrite, "COPY_UPDATE_ROWS", 1)
    return request.param


def test_updated_rows_change_only_the_named_fields_and_stamp_updated_at(update_path):
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


def test_updated_rows_carry_json_nulls_and_keys_of_other_rows(update_path):
    """JSON, NULL, a key to another row and quotes all survive the bulk update."""
    from mdm.bulkwrite import update_rows

    first, second, third = (Customer.objects.create(last_name=name) for name in "ABC")
    first.emails, first.merged_into = ["a@x.org", "ä@x.org"], second
    second.emails, second.merged_into = [], None
    third.emails, third.merged_into, third.last_name = [{"odd": 'qu"ote'}], first, "O'Hara"
    changed = update_rows(Customer, [first, second, third], ["emails", "merged_into", "last_name"])
    assert changed == 3
    stored = {
        row.pk: (row.emails, row.merged_into_id, row.last_name)
        for row in Customer.objects.filter(pk__in=[first.pk, second.pk, third.pk])
    }
    assert stored == {
        first.pk: (["a@x.org", "ä@x.org"], second.pk, "A"),
        second.pk: ([], None, "B"),
        third.pk: ([{"odd": 'qu"ote'}], first.pk, "O'Hara"),
    }


def test_json_written_as_text_is_stored_as_the_value_it_writes(update_path):
    """`JsonText` (what the survivorship workers hand back) is stored as it is, not as a
    JSON string holding it, inserted and updated alike."""
    from mdm.bulkwrite import JsonText, json_dumps, update_rows

    value = {"email": {"value": "ann@x.org", "source_record_id": 7, "rule": "most_recent"}}
    golden_id = uuid.uuid4()
    insert_rows(Customer, [{"id": golden_id, "custom_attributes": JsonText(json_dumps(value))}])
    assert Customer.objects.get(pk=golden_id).custom_attributes == value
    golden = Customer.objects.get(pk=golden_id)
    golden.custom_attributes = JsonText(json_dumps({**value, "odd": 'qu"ote'}))
    update_rows(Customer, [golden], ["custom_attributes"])
    assert Customer.objects.get(pk=golden_id).custom_attributes == {**value, "odd": 'qu"ote'}


@pytest.mark.skipif(
    "postgresql" not in os.environ.get("DATABASE_URL", ""), reason="COPY is PostgreSQL's"
)
def test_a_failed_update_through_copy_changes_nothing_and_leaves_no_table(monkeypatch):
    """A value the column refuses fails the whole update with Django's error; no row changed,
    and the temporary table is gone, so the next update in the same transaction works."""
    from django.db import DataError, transaction

    from mdm import bulkwrite
    from mdm.bulkwrite import update_rows

    monkeypatch.setattr(bulkwrite, "COPY_UPDATE_ROWS", 1)
    rows = [Customer.objects.create(last_name=f"N{number}") for number in range(3)]
    with transaction.atomic():
        rows[0].last_name, rows[1].last_name = "Fine", "x" * 500  # the column holds 120
        with pytest.raises(DataError, match="too long"):
            update_rows(Customer, rows[:2], ["last_name"])
        rows[1].last_name = "Good"
        assert update_rows(Customer, rows, ["last_name"]) == 3
    assert sorted(Customer.objects.values_list("last_name", flat=True)) == ["Fine", "Good", "N2"]


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


def test_fingerprints_stay_those_of_the_standard_json_encoder():
    """Stored fingerprints were made with json.dumps: the fast encoder must not change one, or
    re-importing an unchanged file would update every record."""
    import hashlib
    import json
    import random

    from mdm.records import fingerprint

    rng = random.Random(5)
    alphabet = [chr(code) for code in range(0, 130)] + ["é", "Ö", "ß", "€", "\u2028"]
    values = [None, True, False, 3, 2.5, ["a", "b"], {"x": "y"}, {}, []]

    def text(longest: int) -> str:
        return "".join(rng.choices(alphabet, k=rng.randrange(0, longest)))

    def value(depth: int = 0):
        draw = rng.random()
        if draw < 0.7 or depth > 2:
            return text(10) if draw < 0.6 or depth > 2 else rng.choice(values)
        if draw < 0.85:  # nested, as `custom_attributes` is
            return {text(5): value(depth + 1) for _ in range(rng.randrange(0, 4))}
        return [value(depth + 1) for _ in range(rng.randrange(0, 4))]

    for _ in range(3000):
        attributes = {text(6) or "k": value() for _ in range(rng.randrange(0, 8))}
        encoded = json.dumps(attributes, sort_keys=True, separators=(",", ":"))
        assert fingerprint(attributes) == hashlib.sha256(encoded.encode()).hexdigest(), attributes


def test_a_paused_collector_collects_only_what_the_step_made_and_then_runs_again():
    import gc

    class Node:
        pass

    with parallel.collector_paused():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # the old heap is set aside, not walked again
        cycle = Node()
        cycle.me = cycle
        del cycle
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert not any(isinstance(thing, Node) for thing in gc.get_objects())  # the cycle was freed


@pytest.mark.parametrize("exact_json", [False, True])
def test_narrow_rows_as_json_store_what_the_driver_would_and_fall_back_for_nul(exact_json):
    from django.db import connection

    from mdm.bulkwrite import write_rows
    from mdm.models import BlockingKey

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's own path (PostgreSQL takes COPY, and no NUL in text)")
    record = SourceRecord.objects.create(
        entity="customer", system="crm", external_id="1", attributes={}, profile={}
    )
    keys = [
        "fa:o'brien",
        'ni:say "hi"',
        "ad:ñandú 12 straße",
        "la:back\\slash",
        "nn:nul\x00inside",  # SQLite's JSON functions would cut this short: not as JSON
        "pc:" + "9" * 20,  # digits stay text
        "hi:emoji 🏠",
    ]
    write_rows(
        BlockingKey._meta.db_table,
        ["entity", "key", "source_record_id"],
        [("customer", key, record.pk) for key in keys],
        exact_json=exact_json,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, typeof(key), source_record_id, typeof(source_record_id) "
            "FROM mdm_blockingkey ORDER BY id"
        )
        stored = cursor.fetchall()
    assert [row[0] for row in stored] == keys
    assert {(row[1], row[2], row[3]) for row in stored} == {("text", record.pk, "integer")}


def test_json_rows_go_as_json_on_sqlite(monkeypatch):
    """The JSON path is taken (else the test above would pass through executemany twice)."""
    from django.db import connection

    from mdm.bulkwrite import write_rows
    from mdm.models import BlockingKey

    if connection.vendor != "sqlite":
        pytest.skip("the JSON path is SQLite's")
    record = SourceRecord.objects.create(
        entity="customer", system="crm", external_id="1", attributes={}, profile={}
    )
    statements = []
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: (
            statements.append((sql, many)) or execute(sql, params, many, context)
        )
    ):
        write_rows(
            BlockingKey._meta.db_table,
            ["entity", "key", "source_record_id"],
            [("customer", "fa:x", record.pk), ("customer", "nn:y", record.pk)],
            exact_json=True,
        )
    assert [(("json_each" in sql), many) for sql, many in statements] == [(True, False)]
    assert BlockingKey.objects.filter(source_record=record).count() == 2


def _record_ids(count: int) -> list[int]:
    return [
        SourceRecord.objects.create(
            entity="customer", system="crm", external_id=str(n), attributes={}, profile={}
        ).pk
        for n in range(count)
    ]


def test_keys_sent_by_record_store_the_rows_they_were_given(monkeypatch):
    """Record order on SQLite: each statement takes the records' key lists, numbered up from
    its first record; gaps, another entity, a NUL character and full statements start anew
    or fall back, and what is stored is exactly the rows given."""
    from django.db import connection

    from mdm import keyindex
    from mdm.models import BlockingKey

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's own path (PostgreSQL takes COPY)")
    monkeypatch.setattr(keyindex, "KEYS_PER_STATEMENT", 4)
    monkeypatch.setattr(keyindex, "_GAP", 2)
    ids = _record_ids(12)
    rows = [("customer", "fa:a", ids[0]), ("customer", "fa:b", ids[0])]
    rows += [("customer", "ni:c", ids[2])]  # ids[1] has no keys: an empty list
    rows += [("customer", f"st:{n}", ids[3]) for n in range(5)]  # more than a statement holds
    rows += [("product", "pt:x", ids[4]), ("customer", "pc:nul\x00", ids[5])]
    rows += [("customer", "hi:far", ids[9]), ("customer", "hi:back", ids[6])]  # gap, then back
    rows += [("customer", "fa:a", ids[6]), ("customer", 'la:ñ 🏠 "q" \\', ids[11])]
    statements = []
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: (
            statements.append(sql) or execute(sql, params, many, context)
        )
    ):
        keyindex.insert_keys(iter(rows), in_key_order=False)
    stored = sorted(BlockingKey.objects.values_list("entity", "key", "source_record_id"))
    assert stored == sorted(rows)
    assert sum("json_each(records.value)" in sql for sql in statements) >= 5
    assert any("json_each" not in sql for sql in statements)  # the NUL key's fallback


@pytest.mark.parametrize("in_key_order", [False, True])
def test_keys_copied_by_record_store_the_rows_they_were_given(monkeypatch, in_key_order):
    """PostgreSQL: COPY's text made here, each record's keys as one string; characters COPY
    must escape are escaped, and what is stored is exactly the rows given."""
    from django.db import connection

    from mdm import keyindex
    from mdm.models import BlockingKey

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's own path (SQLite takes JSON)")
    monkeypatch.setattr(keyindex, "KEYS_PER_STATEMENT", 3)
    ids = _record_ids(5)
    rows = [("customer", "fa:a", ids[0]), ("customer", "fa:b", ids[0])]
    rows += [("customer", f"st:{n}", ids[1]) for n in range(4)]
    rows += [("customer", "la:tab\there", ids[2]), ("customer", "la:new\nline", ids[2])]
    rows += [("customer", "la:back\\slash \\N", ids[3]), ("customer", "la:cr\rx", ids[3])]
    rows += [("product", "pt:ñ 🏠", ids[4]), ("customer", "fa:a", ids[1])]
    keyindex.insert_keys(iter(rows), in_key_order=in_key_order)
    stored = sorted(BlockingKey.objects.values_list("entity", "key", "source_record_id"))
    assert stored == sorted(rows)


_CHECKPOINTS = """
import os, sys, threading
from django.db import connection, transaction
import mdm.bulkwrite as bulkwrite

path = connection.settings_dict["NAME"]
threads = []
beside = bulkwrite.beside_connection


def spied(work, on):
    def traced():
        threads.append(threading.current_thread().name)
        return work()
    return beside(traced, on)


bulkwrite.beside_connection = spied
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE load (value TEXT)")
for start in (True, False):
    with bulkwrite.checkpoints_beside() as checkpoint:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            inside = cursor.fetchone()[0]
        before = os.path.getsize(path)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany("INSERT INTO load VALUES (%s)", [("x" * 1000,)] * 8000)
        if start:
            checkpoint()
    # Grown only if a checkpoint copied the log's pages into the file.
    print(start, inside, os.path.getsize(path) - before > 4_000_000)
with connection.cursor() as cursor:
    cursor.execute("PRAGMA wal_autocheckpoint")
    print("after", cursor.fetchone()[0], threads)
"""


def test_a_bulk_loads_sqlite_checkpoints_run_in_a_thread_only_when_asked(tmp_path):
    """Inside `checkpoints_beside` a commit leaves the log alone (the file does not grow),
    until the yielded function checkpoints it on a thread of its own; outside, the
    connection checkpoints as before. A database file, as the in-memory test database has
    no log."""
    import subprocess

    from tests.conftest import manage_py

    database = tmp_path / "load.sqlite3"
    done = subprocess.run(
        manage_py("shell", "--no-imports", "-c", _CHECKPOINTS),
        env=dict(os.environ, DATABASE_URL=f"sqlite:///{database}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "True 0 True",
        "False 0 False",
        "after 1000 ['concord-beside']",
    ]
