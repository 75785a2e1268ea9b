"""Salesforce sandbox Bulk API 2.0 through simple-salesforce's `bulk2` handler."""

import csv
import io

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceOperationError

from tests.connectors.salesforce.test_sandbox_support import API, connect, raw, unique


@pytest.fixture(scope="module")
def sf(salesforce_sandbox):
    return connect(salesforce_sandbox)


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_bulk_insert_reports_counts_and_result_csvs(sf):
    tag = unique("bulk")
    records = [{"Name": f"Bulk {n} {tag}", "Description": tag} for n in range(5)]
    records.append({"Name": "", "Description": tag})  # Name is required
    [result] = sf.bulk2.Account.insert(records=records, wait=0.1)
    assert result["numberRecordsProcessed"] == 6
    assert result["numberRecordsFailed"] == 1
    assert result["numberRecordsTotal"] == 6
    successful = _rows(sf.bulk2.Account.get_successful_records(result["job_id"]))
    assert len(successful) == 5
    assert all(
        row["sf__Id"].startswith("001") and row["sf__Created"] == "true" for row in successful
    )
    assert {row["Name"] for row in successful} == {f"Bulk {n} {tag}" for n in range(5)}
    failed = _rows(sf.bulk2.Account.get_failed_records(result["job_id"]))
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:Required fields are missing")
    assert _rows(sf.bulk2.Account.get_unprocessed_records(result["job_id"])) == []
    count = sf.query(format_soql("SELECT COUNT() FROM Account WHERE Description = {}", tag))
    assert count["totalSize"] == 5


def test_bulk_upsert_by_external_id_updates_and_creates(sf):
    existing = unique("BULK-EXT")
    account_id = sf.Account.create({"Name": "Old name", "ExternalId__c": existing})["id"]
    fresh = unique("BULK-EXT")
    records = [
        {"ExternalId__c": existing, "Name": "New name"},
        {"ExternalId__c": fresh, "Name": "Brand new"},
    ]
    [result] = sf.bulk2.Account.upsert(records=records, external_id_field="ExternalId__c", wait=0.1)
    assert result["numberRecordsFailed"] == 0
    rows = _rows(sf.bulk2.Account.get_successful_records(result["job_id"]))
    created = {row["ExternalId__c"]: row["sf__Created"] for row in rows}
    assert created == {existing: "false", fresh: "true"}
    assert sf.Account.get(account_id)["Name"] == "New name"


def test_job_with_an_unknown_column_fails_with_an_error_message(sf):
    with pytest.raises(SalesforceOperationError, match="Field name not found"):
        sf.bulk2.Account.insert(records=[{"Name": "X", "Nope__c": "y"}], wait=0.1)


def test_job_lifecycle_states_over_raw_http(salesforce_sandbox):
    session = raw(salesforce_sandbox)
    base = f"{salesforce_sandbox.endpoints['login_url']}{API}/jobs/ingest"
    job = session.post(
        base,
        json={"object": "Contact", "operation": "insert", "contentType": "CSV", "lineEnding": "LF"},
        timeout=30,
    ).json()
    assert job["state"] == "Open" and job["jobType"] == "V2Ingest"
    assert job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    upload = session.put(
        f"{base}/{job['id']}/batches",
        data=b"LastName,Email\nHopper,grace@example.com\n",
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )
    assert upload.status_code == 201
    closed = session.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, timeout=30)
    assert closed.json()["state"] == "UploadComplete"
    info = session.get(f"{base}/{job['id']}", timeout=30).json()
    assert info["state"] == "JobComplete"
    assert info["numberRecordsProcessed"] == 1 and info["numberRecordsFailed"] == 0
    assert session.delete(f"{base}/{job['id']}", timeout=30).status_code == 204
    assert session.get(f"{base}/{job['id']}", timeout=30).status_code == 404


def test_bulk_query_pages_with_locator_headers(sf):
    tag = unique("bq")
    for n in range(3):
        sf.Account.create({"Name": f"BQ {n}", "Description": tag})
    pages = list(
        sf.bulk2.Account.query(
            format_soql("SELECT Id, Name FROM Account WHERE Description = {}", tag),
            max_records=2,
            wait=0.1,
        )
    )
    rows = [row for page in pages for row in _rows(page)]
    assert len(pages) == 2
    assert sorted(row["Name"] for row in rows) == ["BQ 0", "BQ 1", "BQ 2"]
