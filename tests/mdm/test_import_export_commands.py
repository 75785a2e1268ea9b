"""import_records and export_golden: idempotent loads, bad rows reported, cross-references."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

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


def test_import_builds_golden_records_and_reports_bad_rows_with_line_numbers(tmp_path):
    out, err = _import(tmp_path, HEADER + ROWS)
    assert Customer.objects.count() == 2
    assert SourceRecord.objects.count() == 3
    assert "line 4: source_system and source_id are required" in err
    assert "Imported 3/4 rows" in out
    assert "1 error(s)" in out


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
