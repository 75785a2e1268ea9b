"""`reindex_records`: stored profiles and blocking keys brought up to date with the code."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from connectors.canonical import Address
from mdm.ingest import ingest_customer
from mdm.matching import blocking
from mdm.matching.matcher import profile_and_keys
from mdm.models import BlockingKey, Customer, HistoryEntry, SourceRecord
from mdm.records import customer_attributes
from mdm.reindex import reindex, sample_staleness
from tests.mdm.factories import person

pytestmark = pytest.mark.django_db


def _webb(system: str, external_id: str, last: str, line1: str, line2: str, postcode: str):
    """FEBRL 4's rec-1765 (the two versions share only the surname-prefix key `lp`)."""
    address = Address([line1, line2], "eastwood", "", postcode, "AU")
    return person(system, external_id, first="", last=last, address=address)


def _stored_state():
    """Everything reindexing must leave alone: golden records, their links and history."""
    return (
        sorted(Customer.objects.values_list("id", "status", "last_name", "merged_into_id")),
        sorted(SourceRecord.objects.values_list("id", "customer_id")),
        HistoryEntry.objects.count(),
    )


def _age(record: SourceRecord) -> None:
    """Make a record look stored by an older version: no `lp` key and another profile."""
    BlockingKey.objects.filter(source_record=record, key__startswith="lp:").delete()
    record.profile = {**record.profile, "city": "somewhere else"}
    record.save(update_fields=["profile"])


def test_an_older_record_is_found_through_a_new_pass_only_after_reindexing():
    ingest_customer(_webb("crm", "1", "webb", "mclachlan street", "anukana", "2112"))
    stored = SourceRecord.objects.get()
    _age(stored)
    newcomer = _webb("shop", "9", "webxb", "3 anukana", "mclachla nstreet", "2121")
    _, keys = profile_and_keys("customer", customer_attributes(newcomer))

    def candidates():
        counts = blocking.key_counts("customer", keys)
        return [row["id"] for row in blocking.candidate_records("customer", keys, counts)]

    assert candidates() == []
    before = _stored_state()

    summary = reindex("customer")

    assert (summary.records, summary.stale, summary.profiles_changed) == (1, 1, 1)
    assert (summary.keys_changed, summary.keys_added, summary.keys_removed) == (1, 1, 0)
    assert summary.examples == ["lp:web:eastwood"]
    assert candidates() == [stored.id]
    stored.refresh_from_db()
    expected_profile, expected_keys = profile_and_keys("customer", stored.attributes)
    assert stored.profile == expected_profile
    assert sorted(stored.blocking_keys.values_list("key", flat=True)) == sorted(expected_keys)
    assert _stored_state() == before  # no golden record, link or history changed


def test_check_writes_nothing_and_a_second_run_finds_nothing():
    for number in range(3):
        ingest_customer(person("crm", str(number), first=f"Ann{number}", last="Lee"))
    records = list(SourceRecord.objects.order_by("id"))
    _age(records[1])
    BlockingKey.objects.create(entity="customer", key="zz:left-over", source_record=records[2])
    keys_before = sorted(BlockingKey.objects.values_list("source_record_id", "key"))

    checked = reindex("customer", write=False)

    assert (checked.records, checked.stale, checked.keys_changed) == (3, 2, 2)
    assert (checked.keys_added, checked.keys_removed) == (1, 1)
    assert sorted(BlockingKey.objects.values_list("source_record_id", "key")) == keys_before
    records[1].refresh_from_db()
    assert records[1].profile["city"] == "somewhere else"

    written = reindex("customer", chunk=2)  # two transactions
    assert (written.stale, written.keys_added, written.keys_removed) == (2, 1, 1)
    assert not BlockingKey.objects.filter(key="zz:left-over").exists()
    assert reindex("customer", write=False).stale == 0


def test_the_command_reports_and_exits_non_zero_on_check(capsys):
    ingest_customer(person("crm", "1"))
    ingest_customer(person("crm", "2", first="Mary", last="Jones"))
    _age(SourceRecord.objects.get(external_id="2"))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("reindex_records", "--entity", "customer", "--check", stdout=out)
    assert exit_info.value.code == 1
    assert "2 customer record(s)" in out.getvalue() and "1 out of date" in out.getvalue()
    assert "Run `manage.py reindex_records --entity customer`" in out.getvalue()

    out = io.StringIO()
    call_command("reindex_records", "--entity", "customer", stdout=out)
    assert "changed 1 profile(s) and the keys of 1 record(s) (+1 -0 keys)" in out.getvalue()
    call_command("reindex_records", "--entity", "customer", "--check", stdout=io.StringIO())


def test_hub_status_samples_records_and_says_what_to_run():
    for number in range(4):
        ingest_customer(person("crm", str(number), first=f"Ann{number}", last="Lee"))
    assert sample_staleness("customer") == (4, 0)
    assert sample_staleness("product") == (0, 0)
    for record in SourceRecord.objects.all()[:3]:
        _age(record)
    assert sample_staleness("customer") == (4, 3)
    assert sample_staleness("customer", size=2)[0] == 2

    out = io.StringIO()
    call_command("hub_status", json=True, stdout=out)
    status = json.loads(out.getvalue())["blocking_keys"]
    assert status["customer"] == {"sampled": 4, "out_of_date": 3}
    text = io.StringIO()
    call_command("hub_status", stdout=text)
    assert "Matching keys of customers out of date: 3 of 4 sampled records" in text.getvalue()
    assert "reindex_records --entity customer" in text.getvalue()


def _delete_in_sql(record) -> int:
    """Ingest a record, then delete its row in SQL as a database user might: its key rows stay
    (PostgreSQL has no constraint on them; SQLite checks its own only when a test ends)."""
    result = ingest_customer(record)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM mdm_sourcerecord WHERE id = %s", [result.source_record_id])
    return result.source_record_id


def test_reindex_removes_the_keys_of_records_deleted_in_sql():
    ingest_customer(person("crm", "1"))
    gone = _delete_in_sql(person("crm", "2"))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("reindex_records", "--entity", "customer", "--check", stdout=out)
    assert exit_info.value.code == 1
    orphans = BlockingKey.objects.filter(source_record_id=gone).count()
    assert orphans > 5
    assert f"Would remove {orphans} key row(s)" in out.getvalue()
    out = io.StringIO()
    call_command("reindex_records", "--entity", "customer", stdout=out)
    assert f"Removed {orphans} key row(s)" in out.getvalue()
    assert not BlockingKey.objects.filter(source_record_id=gone).exists()
    assert BlockingKey.objects.filter(source_record__external_id="1").exists()


def test_a_bulk_load_is_not_thrown_by_the_keys_of_a_deleted_record(tmp_path):
    gone = _delete_in_sql(person("crm", "2"))
    ingest_customer(person("crm", "1"))  # stored before the load, after the deleted one
    path = tmp_path / "one.csv"
    path.write_text(
        "source_system,source_id,first_name,last_name,address_line1,city,postcode,country\n"
        "crm,2,William,Smith,12 High St,London,SW1A 1AA,GB\n"
    )
    err = io.StringIO()
    call_command("import_records", "--entity", "customer", str(path),
                 stdout=io.StringIO(), stderr=err)  # fmt: skip
    assert "one by one" not in err.getvalue()
    assert SourceRecord.objects.get(external_id="2").customer_id == (
        SourceRecord.objects.get(external_id="1").customer_id
    )
    # SQLite keeps the constraint (checked when a test ends): only PostgreSQL can hold these.
    BlockingKey.objects.filter(source_record_id=gone).delete()
