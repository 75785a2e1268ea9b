"""The bulk path of import_records decides like the record-by-record path."""

import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from mdm.models import Customer, MatchSettings, SourceRecord
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from mdm_generate import generate, write_csv

pytestmark = pytest.mark.django_db


def _clusters() -> set[frozenset]:
    groups: dict = {}
    for system, external_id, golden in SourceRecord.objects.values_list(
        "system", "external_id", "customer_id"
    ):
        groups.setdefault(golden, set()).add((system, external_id))
    return {frozenset(members) for members in groups.values()}


def _load(path, *extra):
    call_command("import_records", "--entity", "customer", str(path), *extra,
                 stdout=StringIO(), stderr=StringIO())  # fmt: skip


@pytest.fixture
def generated(tmp_path):
    path = tmp_path / "people.csv"
    with path.open("w", newline="") as handle:
        write_csv(generate("people", 150, seed=5), handle)
    return path


def test_bulk_import_builds_the_same_golden_records_as_record_by_record(generated):
    _load(generated, "--per-record")
    one_by_one = _clusters()
    SourceRecord.objects.all().delete()
    Customer.objects.filter(status="merged").delete()
    Customer.objects.all().delete()
    _load(generated)
    assert _clusters() == one_by_one


@pytest.mark.django_db(transaction=True)  # another connection sees only what is committed
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection on PostgreSQL")
def test_candidates_read_on_a_second_connection_give_the_same_golden_records(
    generated, monkeypatch
):
    import threading

    from mdm import batch

    _load(generated, "--per-record")
    one_by_one = _clusters()
    readers = []
    real = batch._read_profiles

    def reading(ids, golden_field):
        readers.append((threading.current_thread().name, len(ids)))
        return real(ids, golden_field)

    monkeypatch.setattr(batch, "_read_profiles", reading)
    assert _reload_keeping_weights(lambda: _load(generated, "--chunk", "40")) == one_by_one
    assert any(name == "concord-beside" and size for name, size in readers)
    assert any(name != "concord-beside" and size for name, size in readers)


def _threads_calling(monkeypatch, name: str) -> list[str]:
    """The names of the threads that call `mdm.batch.<name>` from now on, as they call it."""
    import threading

    from mdm import batch

    called, real = [], getattr(batch, name)

    def spy(*args, **kwargs):
        called.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, name, spy)
    return called


@pytest.mark.django_db(transaction=True)  # another connection sees only what is committed
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection on PostgreSQL")
def test_the_systems_of_joined_golden_records_read_beside_the_keys_give_the_same_records(
    generated, monkeypatch
):

    from mdm import batch
    from mdm.matching.matcher import comparisons_for
    from mdm.matching.scoring import default_weights, system_shifts

    settings = MatchSettings.for_entity("customer")
    weights = default_weights(comparisons_for("customer"))
    prior = weights["prior"]  # systems that weigh: their golden records are looked up
    settings.weights = {**weights, "prior_same_system": prior / 20}
    settings.weights["prior_other_system"] = prior * 3
    settings.save()
    assert system_shifts(settings.weights)
    monkeypatch.setattr(batch, "beside_connection", lambda work, beside: work)  # all on one
    on_one = _reload_keeping_weights(lambda: _load(generated, "--chunk", "40"))
    monkeypatch.undo()
    read_on = _threads_calling(monkeypatch, "golden_systems")
    assert _reload_keeping_weights(lambda: _load(generated, "--chunk", "40")) == on_one
    assert read_on and set(read_on) == {"concord-beside"}


def test_bulk_import_takes_the_bulk_path(generated, settings):
    # A failing bulk chunk falls back to record-by-record ingest, which hides the failure from
    # the results; the command says so on stderr.
    settings.MDM_WORKERS = 1
    err = StringIO()
    call_command("import_records", "--entity", "customer", str(generated),
                 stdout=StringIO(), stderr=err)  # fmt: skip
    assert "one by one" not in err.getvalue()
    assert SourceRecord.objects.count() > 200


def test_bulk_import_twice_changes_nothing(generated):
    _load(generated)
    before = (_clusters(), Customer.objects.filter(status="active").count())
    _load(generated)
    assert (_clusters(), Customer.objects.filter(status="active").count()) == before


def test_bulk_import_writes_provenance_and_history_for_new_golden_records(generated):
    from mdm.models import HistoryEntry
    from mdm.survivorship import provenance_of

    _load(generated)
    golden = Customer.objects.filter(status="active").first()
    assert golden.last_name
    assert provenance_of(golden)["last_name"]["value"] == golden.last_name
    assert HistoryEntry.objects.filter(golden_id=golden.id, action="created").exists()


def test_comparing_on_several_processes_decides_exactly_as_one_process(
    generated, settings, monkeypatch
):
    from mdm import parallel

    monkeypatch.setattr(parallel, "MINIMUM_ITEMS", 1)  # fork even for this small file
    settings.MDM_WORKERS = 1
    _load(generated)
    one_process = (_clusters(), _review_pairs())
    SourceRecord.objects.all().delete()
    Customer.objects.all().delete()
    _clear_match_state()
    settings.MDM_WORKERS = 2
    _load(generated)
    assert (_clusters(), _review_pairs()) == one_process


def _review_pairs() -> set:
    from mdm.models import ReviewTask

    members = {
        golden: frozenset(
            SourceRecord.objects.filter(customer_id=golden).values_list("system", "external_id")
        )
        for golden in Customer.objects.values_list("id", flat=True)
    }
    return {
        (members[left], members[right], round(probability, 9), str(explanation))
        for left, right, probability, explanation in ReviewTask.objects.values_list(
            "left_id", "right_id", "probability", "explanation"
        )
    }


def _clear_match_state() -> None:
    from mdm.models import HistoryEntry, MatchSettings, Provenance, ReviewTask

    ReviewTask.objects.all().delete()
    Provenance.objects.all().delete()
    HistoryEntry.objects.all().delete()
    MatchSettings.objects.all().delete()  # estimate the weights again from the file


def test_a_file_larger_than_a_chunk_builds_the_same_golden_records(generated):
    _load(generated)
    whole = _clusters()
    SourceRecord.objects.all().delete()
    Customer.objects.all().delete()
    _clear_match_state()
    _load(generated, "--chunk", "40")
    assert _clusters() == whole


def test_golden_records_that_gain_members_in_later_chunks_survive_as_a_recompute_would(
    generated,
):
    # Their survivorship runs beside the chunk's writes, on members read before the chunk
    # plus the chunk's own from memory: recomputing everything from the tables changes nothing.
    from mdm.models import HistoryEntry, Provenance
    from mdm.survivorship import apply_survivorship_many

    _load(generated, "--chunk", "40")
    updated = HistoryEntry.objects.filter(action="updated", reason="batch import").count()
    assert updated > 10  # later chunks did change golden records
    provenance = dict(Provenance.objects.values_list("golden_id", "attributes"))
    values = list(Customer.objects.order_by("id").values())
    live = Customer.objects.filter(status="active").values_list("id", flat=True)
    assert apply_survivorship_many(Customer, list(live), reason="recompute") == 0
    assert list(Customer.objects.order_by("id").values()) == values
    assert dict(Provenance.objects.values_list("golden_id", "attributes")) == provenance


def test_standard_input_is_read_like_a_file(generated, monkeypatch):
    _load(generated)
    from_file = _clusters()
    SourceRecord.objects.all().delete()
    Customer.objects.all().delete()
    _clear_match_state()
    monkeypatch.setattr(sys, "stdin", StringIO(generated.read_text()))
    call_command("import_records", "--entity", "customer", "-", stdout=StringIO(),
                 stderr=StringIO())  # fmt: skip
    assert _clusters() == from_file


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics of PostgreSQL")
def test_bulk_import_leaves_postgresql_statistics_that_know_the_rows(generated):
    from mdm.models import BlockingKey

    _load(generated)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", ["mdm_blockingkey"])
        estimated = cursor.fetchone()[0]
    # Without ANALYZE the planner believes the table empty (-1 or 0) and scans it per lookup.
    assert estimated >= BlockingKey.objects.count() * 0.5


@pytest.mark.django_db(transaction=True)
def test_a_real_time_ingest_waits_for_a_bulk_chunk_and_then_matches_it():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent writers need PostgreSQL; SQLite serialises them")
    import threading
    import time

    from django.db import connections, transaction

    from mdm.batch import BatchItem, bulk_ingest
    from mdm.ingest import ingest_customer
    from mdm.records import customer_attributes
    from tests.mdm.factories import person

    locked, done, errors = threading.Event(), threading.Event(), []

    def bulk():
        try:
            with transaction.atomic():
                bulk_ingest(
                    "customer",
                    [BatchItem("crm", "1", customer_attributes(person(system="crm")))],
                )
                locked.set()
                time.sleep(1.0)  # the chunk is still open when the real-time ingest arrives
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def real_time():
        try:
            locked.wait(10)
            ingest_customer(person(system="shop", external_id="2", first="Bill"))
            done.set()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bulk), threading.Thread(target=real_time)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    # Had it not waited, it would not have seen the chunk's record and made a second golden.
    assert Customer.objects.filter(status="active").count() == 1
    assert SourceRecord.objects.values("customer").distinct().count() == 1


def _reload_keeping_weights(*loads) -> set:
    """Empty the hub but keep the estimated weights, run the loads, return the clusters."""
    SourceRecord.objects.all().delete()
    Customer.objects.filter(status="merged").delete()  # tombstones first: they protect survivors
    Customer.objects.all().delete()
    for load in loads:
        load()
    return _clusters()


def test_a_second_file_finds_the_golden_records_of_the_first(generated, tmp_path):
    # The second import starts with records in the table: it reads those keys from the
    # database and its own from memory, and decides as one import of both files would.
    lines = generated.read_text().splitlines(keepends=True)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("".join(lines[: len(lines) // 2]))
    second.write_text(lines[0] + "".join(lines[len(lines) // 2 :]))
    _load(generated)
    whole = _reload_keeping_weights(lambda: _load(generated, "--chunk", "50"))
    split = _reload_keeping_weights(
        lambda: _load(first, "--chunk", "50"), lambda: _load(second, "--chunk", "50")
    )
    assert len(whole) < len(lines) - 1  # the file has duplicates to find
    assert split == whole


def test_records_loaded_one_by_one_after_a_failed_chunk_are_found_by_later_chunks(
    generated, monkeypatch
):
    from mdm import batch

    _load(generated)
    whole = _reload_keeping_weights(lambda: _load(generated, "--chunk", "60"))
    real, calls = batch._ingest_fresh, []

    def first_chunk_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "_ingest_fresh", first_chunk_fails)
    err = StringIO()
    command = ("import_records", "--entity", "customer", str(generated), "--chunk", "60")
    recovered = _reload_keeping_weights(
        lambda: call_command(*command, stdout=StringIO(), stderr=err)
    )
    assert "disk full" in err.getvalue() and len(calls) > 2
    assert recovered == whole


def test_run_keys_count_and_find_the_records_a_run_added():
    import numpy as np

    from mdm.keyindex import RunKeys, key_hashes

    run = RunKeys("customer")
    run.add([(8, ["pc:ab1", "tf.last:smith"]), (7, ["pc:ab1", "em:x@y.com"])])
    run.add([(9, ["pc:ab1"])])  # a later chunk: later ids
    counts = run.counts(key_hashes(["pc:ab1", "tf.last:smith", "em:x@y.com", "pc:zz9"]))
    assert counts.tolist() == [3, 1, 1, 0]
    # In id order within a key; "tf." keys are counted only, never a way to find records.
    hashes, ids = run.postings()
    found = {(int(h), int(i)) for h, i in zip(hashes, ids, strict=True)}
    pc, email = key_hashes(["pc:ab1", "em:x@y.com"]).tolist()
    assert found == {(pc, 7), (pc, 8), (pc, 9), (email, 7)}
    assert hashes.tolist() == sorted(hashes.tolist())
    assert [i for h, i in zip(hashes.tolist(), ids.tolist(), strict=True) if h == pc] == [7, 8, 9]
    assert run.population == 3
    assert isinstance(counts, np.ndarray)


def test_candidates_sharing_one_key_are_few_and_come_from_the_smallest_keys():
    from collections import Counter

    from mdm.matching.blocking import (
        MAX_CANDIDATE_RECORDS,
        MAX_SINGLE_KEY_CANDIDATES,
        choose_candidates,
    )

    shared = Counter()
    shared.update(range(100, 130))  # the smallest key's records, counted first
    shared.update(range(200, 230))
    shared.update([1, 2, 2, 3, 3, 3])  # records sharing two and three keys
    chosen = choose_candidates(shared)
    assert chosen[:2] == [3, 2]
    assert chosen[2:] == list(range(100, 100 + MAX_SINGLE_KEY_CANDIDATES))
    many = Counter({record_id: 2 for record_id in range(50)})
    assert len(choose_candidates(many)) == MAX_CANDIDATE_RECORDS


PERSON = (
    "source_system,source_id,first_name,last_name,email,phone,address_line1,city,postcode,country\n"
)


def _person_file(tmp_path, name, *rows):
    path = tmp_path / name
    path.write_text(PERSON + "".join(f"{system},{external_id},Ann,Okafor,{email},{phone},"
                                     "4 Mill Lane,Leeds,LS1 4AB,GB\n"
                                     for system, external_id, email, phone in rows))  # fmt: skip
    return path


def test_new_golden_records_of_a_bulk_load_follow_the_stewards_rules(tmp_path):
    from mdm.models import SurvivorshipRule

    SurvivorshipRule.objects.create(entity="customer", attribute="email", rule="source_priority",
                                    source_trust={"crm": 0.9, "shop": 0.1})  # fmt: skip
    _load(_person_file(tmp_path, "a.csv", ("crm", "1", "ann@crm.example", "0113 496 0000"),
                       ("shop", "2", "ann@shop.example", "0113 496 0000")))  # fmt: skip
    golden = Customer.objects.get(status="active")
    assert golden.sourcerecord_set.count() == 2
    assert golden.email == "ann@crm.example"  # the later row, were the default rule used


def test_an_existing_golden_record_a_bulk_load_adds_to_keeps_pins_rules_and_history(tmp_path):
    from mdm.models import HistoryEntry, SurvivorshipRule
    from mdm.survivorship import pin, provenance_of

    _load(_person_file(tmp_path, "a.csv", ("crm", "1", "ann@crm.example", "0113 496 0000")))
    golden = Customer.objects.get(status="active")
    golden.last_name = "Okafor-Smith"  # a steward's correction, kept by pinning it
    golden.save()
    pin(golden, "last_name")
    SurvivorshipRule.objects.create(entity="customer", attribute="email", rule="source_priority",
                                    source_trust={"crm": 0.9, "shop": 0.1})  # fmt: skip
    _load(_person_file(tmp_path, "b.csv", ("shop", "2", "ann@shop.example", "0113 496 0000"),
                       ("shop", "3", "ann@shop.example", "0113 496 0001")))  # fmt: skip
    golden.refresh_from_db()
    assert golden.sourcerecord_set.count() == 3
    assert golden.last_name == "Okafor-Smith"  # pinned
    assert golden.email == "ann@crm.example"  # the stewards' rule
    assert sorted(golden.emails) == ["ann@crm.example", "ann@shop.example"]  # new ones too
    # The most recent: of the file's two rows, equally recent, the number two records hold.
    assert golden.phone == "+441134960000"
    provenance = provenance_of(golden)
    assert provenance["phone"]["source_record_id"] == SourceRecord.objects.get(external_id="2").pk
    assert provenance["last_name"]["rule"] == "pinned"
    entry = HistoryEntry.objects.get(golden_id=golden.pk, reason="batch import")
    assert sorted(entry.changes["phones"][1]) == ["+441134960000", "+441134960001"]
    assert set(entry.changes) == {"phones", "emails"}


def _golden_values() -> dict[frozenset, tuple]:
    """Each golden record's values and provenance, by the source records it holds."""
    from mdm.models import Provenance

    members, names = {}, {}
    for pk, system, external_id, golden in SourceRecord.objects.values_list(
        "pk", "system", "external_id", "customer_id"
    ):
        members.setdefault(golden, set()).add((system, external_id))
        names[pk] = (system, external_id)
    provenance = {row.golden_id: row.attributes for row in Provenance.objects.all()}
    result = {}
    for golden in Customer.objects.filter(status="active"):
        sources = {
            name: names.get(entry.get("source_record_id"))
            for name, entry in provenance[golden.id].items()
        }
        result[frozenset(members[golden.id])] = (golden.values(), sources)
    return result


def test_a_load_in_chunks_works_out_each_golden_record_once_with_the_values_of_each_chunk(
    generated, monkeypatch, settings
):
    from mdm import batch, parallel
    from mdm.management.commands import import_records
    from mdm.models import PendingSurvivorship

    _load(generated)
    # The same chunks, each golden record's survivorship worked out after every chunk that
    # gave it records (no pending set: as before it was left for the end of the load).
    with monkeypatch.context() as patched:
        patched.setattr(
            import_records, "bulk_ingest",
            lambda entity, items, settings, run, pending: batch.bulk_ingest(
                entity, items, settings, run
            ),
        )  # fmt: skip
        _reload_keeping_weights(lambda: _load(generated, "--chunk", "20"))
    each_chunk = _golden_values()
    worked_out: list = []
    real_many, real_write = batch.apply_survivorship_many, batch.write_survivorship

    def many(model, golden_ids, **kwargs):
        worked_out.extend(golden_ids)
        return real_many(model, golden_ids, **kwargs)

    def write(model, inputs, outcomes, **kwargs):
        worked_out.extend(golden.pk for golden in inputs.goldens)
        return real_write(model, inputs, outcomes, **kwargs)

    monkeypatch.setattr(batch, "apply_survivorship_many", many)
    monkeypatch.setattr(batch, "write_survivorship", write)
    # The end pass in slices of 7, each worked out in a forked worker.
    settings.MDM_WORKERS = 2
    monkeypatch.setattr(parallel, "MINIMUM_ITEMS", 1)
    monkeypatch.setattr(
        import_records, "finish_survivorship",
        lambda entity, progress: batch.finish_survivorship(entity, progress, slice_size=7),
    )  # fmt: skip
    _reload_keeping_weights(lambda: _load(generated, "--chunk", "20"))
    assert _golden_values() == each_chunk
    assert len(worked_out) > 14 and len(worked_out) == len(set(worked_out))  # once each
    assert not PendingSurvivorship.objects.exists()


@pytest.mark.django_db(transaction=True)  # another connection sees only what is committed
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection on PostgreSQL")
def test_the_end_pass_reads_on_a_connection_of_its_own_and_gives_the_same_values(
    generated, monkeypatch, settings
):

    readers = _threads_calling(monkeypatch, "survivorship_inputs")
    test_a_load_in_chunks_works_out_each_golden_record_once_with_the_values_of_each_chunk(
        generated, monkeypatch, settings
    )
    assert readers.count("concord-beside") >= 2  # every slice after the first


def test_finishing_survivorship_leaves_the_records_another_import_names_meanwhile(
    generated, monkeypatch
):
    from mdm import batch
    from mdm.models import PendingSurvivorship

    _load(generated)
    first, second = Customer.objects.values_list("pk", flat=True)[:2]
    Customer.objects.filter(pk=first).update(last_name="Stale")
    PendingSurvivorship.objects.create(entity="customer", golden_id=first)
    real = batch.write_survivorship

    def meanwhile(*args, **kwargs):
        PendingSurvivorship.objects.create(entity="customer", golden_id=second)
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "write_survivorship", meanwhile)
    done = []
    assert batch.finish_survivorship("customer", lambda *counts: done.append(counts)) == 1
    assert done == [(1, 1)]
    assert Customer.objects.get(pk=first).last_name != "Stale"
    assert list(PendingSurvivorship.objects.values_list("golden_id", flat=True)) == [second]


def test_a_stored_record_without_a_golden_record_or_a_key_left_behind_is_no_candidate(tmp_path):
    """A record detached from its golden record (being re-matched) and the keys of a record
    deleted in SQL still sit in the key index; a later load must match past both."""
    _load(_person_file(tmp_path, "a.csv", ("crm", "1", "ann@crm.example", "0113 496 0000")))
    detached = SourceRecord.objects.get()
    first_golden = detached.customer_id
    SourceRecord.objects.filter(pk=detached.pk).update(customer=None)
    _load(_person_file(tmp_path, "b.csv", ("erp", "7", "ann@erp.example", "0113 496 0000")))
    deleted = SourceRecord.objects.get(system="erp")
    second_golden = deleted.customer_id
    with connection.cursor() as cursor:  # as by hand: the keys stay behind
        cursor.execute("DELETE FROM mdm_sourcerecord WHERE id = %s", [deleted.pk])
    assert deleted.blocking_keys.exists()
    errors = StringIO()
    call_command("import_records", "--entity", "customer",
                 str(_person_file(tmp_path, "c.csv", ("shop", "2", "ann@shop.example", "x"))),
                 stdout=StringIO(), stderr=errors)  # fmt: skip
    assert "failed" not in errors.getvalue()  # the bulk path, not the record-by-record fallback
    found = SourceRecord.objects.get(system="shop").customer_id
    assert found is not None and found not in (first_golden, second_golden)
    deleted.blocking_keys.all().delete()  # SQLite checks its constraint at the end of the test


def test_a_merge_between_stored_golden_records_is_worked_out_once_at_the_end_of_the_load(
    tmp_path,
):
    """A later load's record that matches two stored golden records merges them; the
    survivor's values come from the load's end pass, once, with the merged record's values."""
    from mdm.models import HistoryEntry, Merge
    from mdm.survivorship import apply_survivorship, apply_survivorship_many

    _load(_person_file(tmp_path, "a.csv", ("crm", "1", "ann@crm.example", "0113 496 0000"),
                       ("shop", "2", "ann@crm.example", "0113 496 0001")))  # fmt: skip
    first = Customer.objects.get(status="active")
    second = Customer.objects.create()  # the shop's record on a golden record of its own
    SourceRecord.objects.filter(system="shop").update(customer=second)
    for golden in (first, second):
        apply_survivorship(golden, reason="split by hand")
    assert Customer.objects.filter(status="active").count() == 2
    _load(_person_file(tmp_path, "b.csv", ("erp", "3", "ann@crm.example", "0113 496 0000")))
    merge_row = Merge.objects.get()
    assert merge_row.reason == "automatic match (batch)"
    survivor = Customer.objects.get(status="active")
    assert survivor.sourcerecord_set.count() == 3
    assert sorted(survivor.phones) == ["+441134960000", "+441134960001"]  # the merged one's
    assert not HistoryEntry.objects.filter(reason__startswith="merge of").exists()
    updated = HistoryEntry.objects.filter(golden_id=survivor.pk, action="updated").exclude(
        reason="split by hand"
    )
    assert list(updated.values_list("reason", flat=True)) == ["batch import"]
    assert apply_survivorship_many(Customer, [survivor.pk], reason="recompute") == 0


@pytest.fixture
def estimated(tmp_path):
    """A file long enough that the import estimates the weights from it (and then loads it
    in one chunk)."""
    path = tmp_path / "people.csv"
    with path.open("w", newline="") as handle:
        write_csv(generate("people", 650, seed=7), handle)
    return path


@pytest.mark.parametrize("workers", [1, 2])
def test_a_one_chunk_file_is_matched_while_its_weights_are_estimated(
    estimated, monkeypatch, settings, workers
):
    """The plan's candidates are found before the chunk (in a process of their own beside the
    estimate with two cores, in this one with one) and used: the chunk does not find them
    again. The decisions are those of record-by-record ingest."""
    from mdm import batch
    from mdm.management.commands import import_records

    settings.MDM_WORKERS = workers
    _load(estimated, "--per-record")  # the same decisions, without a plan
    one_by_one = _clusters()
    SourceRecord.objects.all().delete()
    Customer.objects.all().delete()
    _clear_match_state()
    events = []
    real_plan, real_match, real_ingest = (
        import_records.start_plan,
        batch._match_fresh,
        import_records.bulk_ingest,
    )

    def planning(*args, **options):
        events.append("plan")
        return real_plan(*args, **options)

    def matching(*args):
        events.append("candidates here")  # in this process (not seen from a forked one)
        return real_match(*args)

    def ingesting(*args, **options):
        plan = args[5]
        events.append(("chunk", plan is not None and plan.matching is not None))
        return real_ingest(*args, **options)

    monkeypatch.setattr(import_records, "start_plan", planning)
    monkeypatch.setattr(batch, "_match_fresh", matching)
    monkeypatch.setattr(import_records, "bulk_ingest", ingesting)
    _load(estimated)
    found_here = ["candidates here"] if workers == 1 else []
    assert events == ["plan", *found_here, ("chunk", True)]
    assert _clusters() == one_by_one


def _items(path) -> list:
    import csv

    from mdm.batch import BatchItem
    from mdm.management.commands.import_records import customer_from_row
    from mdm.records import customer_attributes

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        BatchItem(
            row["source_system"], row["source_id"], customer_attributes(customer_from_row(row))
        )
        for row in rows
    ]


def test_a_plan_is_matched_again_if_a_record_came_in_after_it(generated):
    from mdm import batch
    from mdm.ingest import ingest_record
    from mdm.keyindex import RunKeys

    items = _items(generated)
    run = RunKeys("customer")
    plan = batch.plan_bulk("customer", items, run)
    first = items[0]
    ingest_record("customer", "elsewhere", "copy", first.attributes, None)  # after the plan
    batch.bulk_ingest("customer", items, None, run, None, plan)
    copy = SourceRecord.objects.get(system="elsewhere")
    original = SourceRecord.objects.get(system=first.system, external_id=first.external_id)
    assert original.customer_id == copy.customer_id  # the plan's candidates missed the copy
    with pytest.raises(ValueError, match="other items"):
        batch.bulk_ingest("customer", items[:1], None, run, None, plan)


def _load_told(path) -> str:
    err = StringIO()
    call_command("import_records", "--entity", "customer", str(path), stdout=StringIO(), stderr=err)
    return err.getvalue()


@pytest.mark.django_db(transaction=True)  # a first load defers the index outside one
def test_a_one_chunk_load_builds_the_key_index_in_its_transaction_on_sqlite(estimated):
    from mdm.keyindex import postings_index_present

    err = _load_told(estimated)
    assert postings_index_present()
    # SQLite builds it beside survivorship; PostgreSQL after the commit, as a load of chunks.
    assert ("Built the blocking-key index" in err) == (connection.vendor != "sqlite")


@pytest.mark.django_db(transaction=True)  # a first load defers the index outside one
def test_a_one_chunk_load_that_fails_after_its_index_still_leaves_the_index(estimated, monkeypatch):
    from mdm import batch
    from mdm.keyindex import postings_index_present

    def failing(*args):
        raise RuntimeError("a review task that will not go in")

    monkeypatch.setattr(batch, "_write_reviews", failing)  # after the index, in the chunk
    err = _load_told(estimated)
    assert "loading them one by one instead" in err  # rolled back, index and all
    assert postings_index_present()
    assert SourceRecord.objects.count() > 1000
