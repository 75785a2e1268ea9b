"""Salesforce sandbox sObject Collections through simple-salesforce's `restful()`."""

import pytest
from simple_salesforce import SalesforceMalformedRequest, format_soql

from tests.connectors.salesforce.test_sandbox_support import connect, unique


@pytest.fixture(scope="module")
def sf(salesforce_sandbox):
    return connect(salesforce_sandbox)


def _accounts(*names: str) -> list[dict]:
    return [{"attributes": {"type": "Account"}, "Name": name} for name in names]


def test_create_mixed_types_returns_results_in_request_order(sf):
    records = [
        *_accounts(unique("Coll A")),
        {"attributes": {"type": "Contact"}, "LastName": "Lovelace"},
        {"attributes": {"type": "Account"}, "Phone": "no name"},
    ]
    results = sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert [result["success"] for result in results] == [True, True, False]
    assert results[0]["id"].startswith("001") and results[1]["id"].startswith("003")
    assert results[2]["errors"] == [
        {
            "statusCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [Name]",
            "fields": ["Name"],
        }
    ]
    assert sf.Account.get(results[0]["id"])["Name"].startswith("Coll A")


def test_all_or_none_rolls_back_every_record(sf):
    name = unique("Rolled")
    records = [*_accounts(name), {"attributes": {"type": "Account"}, "Bogus__c": 1}]
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )
    assert results[0] == {
        "success": False,
        "errors": [
            {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the"
                " request was using AllOrNone header",
                "fields": [],
            }
        ],
    }
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    count = sf.query(format_soql("SELECT COUNT() FROM Account WHERE Name = {}", name))
    assert count["totalSize"] == 0


def test_update_and_delete_collections(sf):
    created = sf.restful(
        "composite/sobjects", method="POST", json={"records": _accounts(unique("U1"), unique("U2"))}
    )
    ids = [result["id"] for result in created]
    updates = [
        {"attributes": {"type": "Account"}, "id": ids[0], "Phone": "111"},
        {"attributes": {"type": "Account"}, "id": "001000000000000AAA", "Phone": "222"},
    ]
    results = sf.restful("composite/sobjects", method="PATCH", json={"records": updates})
    assert results[0] == {"id": ids[0], "success": True, "errors": []}
    assert results[1]["success"] is False
    assert sf.Account.get(ids[0])["Phone"] == "111"
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": "false"}
    )
    assert [result["success"] for result in deleted] == [True, True]
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[0]})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_upsert_collection_by_external_id_reports_created_flags(sf):
    existing = unique("EXT")
    sf.Account.create({"Name": "Before", "ExternalId__c": existing})
    fresh = unique("EXT")
    records = [
        {"attributes": {"type": "Account"}, "ExternalId__c": existing, "Name": "After"},
        {"attributes": {"type": "Account"}, "ExternalId__c": fresh, "Name": "New"},
    ]
    results = sf.restful(
        "composite/sobjects/Account/ExternalId__c", method="PATCH", json={"records": records}
    )
    assert [result["created"] for result in results] == [False, True]
    assert sf.Account.get_by_custom_id("ExternalId__c", existing)["Name"] == "After"


def test_more_than_200_records_is_refused(sf):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.restful("composite/sobjects", method="POST", json={"records": _accounts(*["x"] * 201)})
    assert raised.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_records_without_a_type_are_a_malformed_request(sf):
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite/sobjects", method="POST", json={"records": [{"Name": "typeless"}]})
