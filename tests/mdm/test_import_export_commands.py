"""import_records and export_golden: idempotent loads, bad rows reported, cross-references."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from mdm.keyindex import postings_index_present
from mdm.models import Customer, Product, SourceRecord

pytestmark = pytest.mark.django_db

HEADER = ("source_system,source_id,company_name,first_name,last_name,email,phone,"
          "address_line1,address_line2,city,region,postcode,country\n")  # fmt: skip
ROWS = (
    "crm,1,,William,Smith,bill@example.com,020 7946 0000,12 High St,,London,,SW1A 1AA,GB\n"
    "shop,9,,Bill,Smith,bill@example.com,,12 High Street,,London,,SW1A1AA,GB\n"
    ",3,,No,System,,,,,,,,\n"
    "crm,4,Acme Ltd,,,,,1 Mill Lane,,Leeds,,LS1 4AB,GB\n"
)


def _import(tmp_path, text, entity="customer"):
    path = tmp_path / "records.csv"
    path.write_text(text)
    out, err = StringIO(), StringIO()
    call_command("import_records", "--entity", entity, str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _load_people(tmp_path, count: int, chunk: int) -> None:
    """Import `count` distinct people in chunks of `chunk` rows."""
    rows = "".join(f"crm,{number},,Ann{number},Lee{number},,,,,,,,\n" for number in range(count))
    path = str(_write(tmp_path, HEADER + rows))
    call_command("import_records", "--entity", "customer", "--chunk", str(chunk), path,
                 stdout=StringIO(), stderr=StringIO())  # fmt: skip


def test_import_builds_golden_records_and_reports_bad_rows_with_line_numbers(tmp_path):
    out, err = _import(tmp_path, HEADER + ROWS)
    assert Customer.objects.count() == 2
    assert SourceRecord.objects.count() == 3
    assert "line 4: source_system and source_id are required" in err
    assert "Imported 3/4 rows" in out
    assert "1 error(s)" in out


def test_a_file_of_several_chunks_read_ahead_reports_bad_rows_the_same(tmp_path, settings):
    settings.MDM_WORKERS = 2  # the next chunk is read and prepared in a process of its own
    path = tmp_path / "records.csv"
    path.write_text(HEADER + ROWS)
    out, err = StringIO(), StringIO()
    call_command("import_records", "--entity", "customer", str(path), "--chunk", "2",
                 stdout=out, stderr=err)  # fmt: skip
    assert "line 4: source_system and source_id are required" in err.getvalue()
    assert "Imported 3/4 rows" in out.getvalue() and "1 error(s)" in out.getvalue()
    assert Customer.objects.count() == 2 and SourceRecord.objects.count() == 3
    with pytest.raises(CommandError, match="missing column"):  # raised in that process
        call_command("import_records", "--entity", "customer", "--chunk", "1",
                     str(_write(tmp_path, "first_name,last_name\nAnn,Lee\nBo,Ng\n")),
                     stdout=StringIO(), stderr=StringIO())  # fmt: skip


def test_a_file_estimated_whole_in_one_chunk_is_read_once_into_the_same_items(
    tmp_path, monkeypatch
):
    """The pass that estimates the weights on the whole file hands its parsed rows, attributes
    and profiles on when the file is one chunk: the items are those a second read makes, and
    a bad row is reported once."""
    from mdm.batch import BatchItem
    from mdm.management.commands import import_records
    from mdm.management.commands.import_records import Command

    monkeypatch.setattr(import_records, "ESTIMATE_FROM_FILE_ROWS", 2)
    reads, loaded = [], []
    rows, bulk = Command._rows, Command._bulk

    def counted(self, file):
        reads.append(file)
        yield from rows(self, file)

    def captured(self, items, *args):
        loaded.extend(items)
        return bulk(self, items, *args)

    monkeypatch.setattr(Command, "_rows", counted)
    monkeypatch.setattr(Command, "_bulk", captured)
    out, err = _import(tmp_path, HEADER + ROWS)
    assert len(reads) == 1
    assert "Estimated match weights from 3 rows" in out and "Imported 3/4 rows" in out
    assert err.count("line 4: source_system and source_id are required") == 1
    command = Command()
    command.entity, command.prepared = "customer", {}
    command.parse, command.flatten = (
        import_records.customer_from_row,
        import_records.customer_attributes,
    )
    again = [
        (line, BatchItem(*fields))
        for _, items, _ in command._item_chunks(
            str(tmp_path / "records.csv"), prepare=True, size=10
        )
        for line, fields in items
    ]
    assert [line for line, _ in loaded] == [2, 3, 5] and loaded == again


def test_the_sample_s_profiles_are_let_go_before_the_chunks_of_a_larger_file(
    tmp_path, monkeypatch, settings
):
    """Held to the end of the load, the profiles the weights were estimated on (a sample of
    100,000 rows) kept 250 MB through it."""
    import weakref

    from mdm import batch
    from mdm.management.commands import import_records

    class Profile(dict):  # a dict that can be watched
        pass

    real_profile, real_estimate, real_bulk = (
        import_records.profile_and_keys,
        import_records.estimate_weights,
        batch.bulk_ingest,
    )
    watched, alive = [], []

    def profile_and_keys(entity, attributes):
        profile, keys = real_profile(entity, attributes)
        return Profile(profile), keys

    def estimate(entity, profiles, **kwargs):
        watched.extend(weakref.ref(profile) for profile in profiles)
        return real_estimate(entity, profiles, **kwargs)

    def bulk(*args, **kwargs):
        alive.append(sum(ref() is not None for ref in watched))
        return real_bulk(*args, **kwargs)

    settings.MDM_WORKERS = 1  # the chunks are read ahead in this process
    monkeypatch.setattr(import_records, "ESTIMATE_FROM_FILE_ROWS", 2)
    monkeypatch.setattr(import_records, "profile_and_keys", profile_and_keys)
    monkeypatch.setattr(import_records, "estimate_weights", estimate)
    monkeypatch.setattr(import_records, "bulk_ingest", bulk)
    _load_people(tmp_path, 6, 2)
    assert len(watched) == 6 and alive == [0, 0, 0]


def test_the_read_ahead_process_is_forked_at_once_while_the_heap_is_small(tmp_path, settings):
    import multiprocessing

    from mdm.management.commands.import_records import Command, customer_from_row
    from mdm.records import customer_attributes

    settings.MDM_WORKERS = 2
    command = Command()  # with what handle() sets before a load
    command.entity, command.chunk, command.prepared = "customer", 2, {}
    command.parse, command.flatten = customer_from_row, customer_attributes
    before = set(multiprocessing.active_children())  # another test's may still be ending
    chunks = command._prefetched(str(_write(tmp_path, HEADER + ROWS)))
    assert len(set(multiprocessing.active_children()) - before) == 1  # before anything is asked
    assert [count for count, _, _ in chunks] == [2, 2]


def _write(tmp_path, text):
    path = tmp_path / "other.csv"
    path.write_text(text)
    return path


def test_importing_the_same_file_twice_changes_nothing(tmp_path):
    _import(tmp_path, HEADER + ROWS)
    before = list(Customer.objects.order_by("id").values())
    out, _ = _import(tmp_path, HEADER + ROWS)
    assert list(Customer.objects.order_by("id").values()) == before
    assert "3 unchanged" in out


def test_import_refuses_a_file_without_the_identity_columns(tmp_path):
    with pytest.raises(CommandError, match="source_system"):
        _import(tmp_path, "first_name,last_name\nAnn,Lee\n")


def test_product_import_uses_sku_identity_and_reports_bad_numbers(tmp_path):
    text = (
        "source_system,source_id,sku,name,description,unit_price,currency,tax_code,stock,active\n"
        "shop,p1,ABC-1,Blue Widget,,9.99,GBP,T1,5,true\n"
        "accounts,77,abc1,Widget blue,,9.99,GBP,T1,5,true\n"
        "shop,p2,XYZ,Thing,,lots,GBP,,,true\n"
    )
    _, err = _import(tmp_path, text, entity="product")
    assert Product.objects.count() == 1
    assert "line 4: unit_price 'lots' is not a number" in err


def test_export_writes_golden_records_and_cross_references(tmp_path):
    _import(tmp_path, HEADER + ROWS)
    golden_csv, crossrefs_csv = tmp_path / "golden.csv", tmp_path / "xref.csv"
    call_command(
        "export_golden",
        "--entity",
        "customer",
        "--crossrefs",
        str(crossrefs_csv),
        str(golden_csv),
        stdout=StringIO(),
    )
    golden_rows = list(csv.DictReader(golden_csv.open()))
    crossrefs = list(csv.DictReader(crossrefs_csv.open()))
    assert len(golden_rows) == 2
    assert set(crossrefs[0]) == {"source_system", "source_id", "golden_id"}
    by_source = {(row["source_system"], row["source_id"]): row["golden_id"] for row in crossrefs}
    assert by_source[("crm", "1")] == by_source[("shop", "9")]
    assert {row["golden_id"] for row in golden_rows} == set(by_source.values())


def _index_seen_by(monkeypatch, name: str) -> list[bool]:
    """Whether the postings index existed at each call of `mdm.batch.<name>`."""
    from mdm import batch

    seen, original = [], getattr(batch, name)

    def watched(*args, **kwargs):
        seen.append(postings_index_present())
        return original(*args, **kwargs)

    monkeypatch.setattr(batch, name, watched)
    return seen


@pytest.mark.django_db(transaction=True)  # the index is dropped outside any transaction
def test_a_first_load_builds_the_key_index_at_the_end_and_matches_as_with_it(tmp_path, monkeypatch):
    from mdm.models import BlockingKey

    seen = _index_seen_by(monkeypatch, "_ingest_fresh")
    _, err = _import(tmp_path, HEADER + ROWS)
    assert seen == [False]  # loaded without it
    assert "Built the blocking-key index" in err and postings_index_present()
    assert Customer.objects.filter(status="active").count() == 2
    assert BlockingKey.objects.filter(key__startswith="pc:").count() == 3

    # Keys are stored now: a later load keeps the index up as it goes.
    _import(tmp_path, HEADER + "crm,5,,Jane,Doe,,,3 Elm Rd,,York,,YO1 7HH,GB\n")
    assert seen == [False, True]


@pytest.mark.django_db(transaction=True)
def test_an_update_in_a_first_load_gets_the_key_index_back_before_the_real_time_path(
    tmp_path, monkeypatch
):
    seen = _index_seen_by(monkeypatch, "ingest_record")
    moved = "crm,1,,William,Smith,bill@example.com,020 7946 0000,14 High St,,London,,SW1A 1AA,GB\n"
    _import(tmp_path, HEADER + ROWS + moved)  # the second "crm,1" row is an update
    assert seen == [True]
    assert SourceRecord.objects.get(external_id="1").attributes["billing_line1"] == "14 High St"
    assert postings_index_present()


def test_an_import_rebuilds_the_key_index_a_killed_load_left_unbuilt(tmp_path):
    from django.db import connection

    from mdm.keyindex import POSTINGS_INDEX

    _import(tmp_path, HEADER + ROWS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(POSTINGS_INDEX)}")
    out, _ = _import(tmp_path, HEADER + ROWS)
    assert "Rebuilt the blocking-key index" in out
    assert postings_index_present()
    assert "3 unchanged" in out


@pytest.mark.django_db(transaction=True)
def test_the_key_index_is_sorted_on_all_cores_and_the_setting_put_back(tmp_path, monkeypatch):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("PRAGMA threads is SQLite's")
    from django.db.backends.utils import CursorWrapper

    statements = []
    original = CursorWrapper.execute

    def watched(self, sql, params=None):
        statements.append(str(sql))
        return original(self, sql, params)

    monkeypatch.setattr("mdm.keyindex.worker_count", lambda: 2)
    monkeypatch.setattr(CursorWrapper, "execute", watched)
    _import(tmp_path, HEADER + ROWS)
    create = next(at for at, sql in enumerate(statements) if "CREATE INDEX" in sql)
    assert statements[create - 1] == "PRAGMA threads=2"
    assert statements[create + 1] == "PRAGMA threads=0"
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA threads")
        assert cursor.fetchone()[0] == 0


def test_an_import_leaves_its_statements_out_of_the_debug_query_log(tmp_path, settings):
    from django.db import connection

    settings.DEBUG = True
    connection.queries_log.clear()
    _import(tmp_path, HEADER + ROWS)
    assert len(connection.queries_log) == 0
    assert settings.DEBUG is True  # put back for whatever runs next
    Customer.objects.count()
    assert len(connection.queries_log) == 1


@pytest.mark.parametrize("typo_row", [0, 2])
def test_without_modification_times_the_value_most_sources_agree_on_survives(tmp_path, typo_row):
    rows = [
        "crm,1,,Ann,Lee,,,4 Bay Road,,Rose Bay,,2029,AU\n",
        "shop,2,,Ann,Lee,,,4 Bay Road,,Rose Bay,,2029,AU\n",
    ]
    rows.insert(typo_row, "erp,3,,Ann,Lee,,,4 Bay Road,,Roseb Ay,,2029,AU\n")
    _import(tmp_path, HEADER + "".join(rows))
    assert Customer.objects.get().billing_city == "Rose Bay"


def test_a_load_in_chunks_refreshes_planner_statistics_each_time_the_records_double(
    tmp_path, monkeypatch
):
    from mdm import batch
    from mdm.management.commands import import_records

    populations = []

    def refresh(entity, vacuum=False):
        populations.append((SourceRecord.objects.count(), vacuum))

    # Both names: the command's (bound when it is first imported) does the final one.
    monkeypatch.setattr(batch, "refresh_statistics", refresh)
    monkeypatch.setattr(import_records, "refresh_statistics", refresh)
    _load_people(tmp_path, 9, 1)
    assert SourceRecord.objects.count() == 9
    # After the chunks that doubled the records, and (with VACUUM on PostgreSQL) at the end.
    assert populations == [(1, False), (2, False), (4, False), (8, False), (9, True)]


@pytest.mark.django_db(transaction=True)  # another connection sees only what is committed
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second connection on PostgreSQL")
def test_on_postgresql_the_statistics_are_refreshed_beside_the_next_chunk_and_waited_for(
    tmp_path, monkeypatch
):
    import threading
    import time

    from mdm import batch
    from mdm.management.commands import import_records

    seen = []

    def refresh(entity, vacuum=False):  # on its own connection: it counts committed rows
        began, before = time.monotonic(), SourceRecord.objects.count()
        time.sleep(0.3)  # long enough for the next chunks to commit meanwhile
        name, after = threading.current_thread().name, SourceRecord.objects.count()
        seen.append((name, began, time.monotonic(), before, after))

    monkeypatch.setattr(batch, "refresh_statistics", refresh)
    monkeypatch.setattr(import_records, "refresh_statistics", lambda entity, vacuum: None)
    _load_people(tmp_path, 9, 1)
    assert len(seen) == 4  # after the chunks that doubled the records, over before the end
    assert {name for name, *_ in seen} == {"concord-beside"}
    assert all(seen[at + 1][1] >= seen[at][2] for at in range(3))  # one after the other
    # Each began once the chunk that asked for it had committed; chunks went on meanwhile.
    assert all(before >= due for (*_, before, _), due in zip(seen, (1, 2, 4, 8), strict=True))
    assert any(after > before for *_, before, after in seen)


def test_an_import_finishes_the_golden_records_a_cut_off_load_left_pending(tmp_path):
    from mdm.models import PendingSurvivorship

    _import(tmp_path, HEADER + ROWS)
    golden = Customer.objects.get(company_name="")
    # A load cut off after a chunk gave this record new source records, before the end.
    Customer.objects.filter(pk=golden.pk).update(billing_city="Stale")
    PendingSurvivorship.objects.create(entity="customer", golden_id=golden.pk)
    out, err = _import(tmp_path, HEADER + ROWS)  # the same file: no row changes
    golden.refresh_from_db()
    assert golden.billing_city == "London"
    assert not PendingSurvivorship.objects.exists()
    assert "Updated 1 golden record(s) that gained records" in out
    assert "1/1 golden records" in err
