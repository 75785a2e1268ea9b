"""The bulk path of import_records decides like the record-by-record path."""

import sys
from io import StringIO

import pytest
from django.core.management import call_command

from mdm.models import Customer, SourceRecord
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
