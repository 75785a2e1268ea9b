"""Salesforce sandbox sObject REST: CRUD, ids, system fields, validation, upsert by external id."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
    format_soql,
)

from tests.connectors.salesforce.test_sandbox_support import connect, unique

DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


@pytest.fixture(scope="module")
def sf(salesforce_sandbox):
    return connect(salesforce_sandbox, client_id="mdm-hub")


def _standard_pricebook(sf) -> str:
    return sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]


def _error(raised) -> dict:
    return raised.value.content[0]


def test_account_round_trip_with_system_fields_and_compound_address(sf):
    created = sf.Account.create(
        {"Name": unique("Acme"), "BillingStreet": "1 High St", "BillingCity": "Leeds"}
    )
    assert created["success"] is True and created["errors"] == []
    account_id = created["id"]
    assert len(account_id) == 18 and account_id.startswith("001")
    record = sf.Account.get(account_id)
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{account_id}",
    }
    assert record["BillingAddress"]["street"] == "1 High St"
    assert record["BillingAddress"]["city"] == "Leeds"
    assert record["IsDeleted"] is False
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert DATETIME.fullmatch(record[name]), record[name]
    assert sf.Account.update(account_id, {"Phone": "+44 113 496 0000"}) == 204
    updated = sf.Account.get(account_id)
    assert updated["Phone"] == "+44 113 496 0000"
    assert updated["SystemModstamp"] >= record["SystemModstamp"]
    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(account_id)


def test_every_object_gets_its_key_prefix(sf):
    account = sf.Account.create({"Name": unique("Prefix Ltd")})["id"]
    contact = sf.Contact.create({"LastName": "Jones", "FirstName": "Ann", "AccountId": account})
    product = sf.Product2.create({"Name": unique("Widget"), "ProductCode": unique("W")})["id"]
    entry = sf.PricebookEntry.create(
        {
            "Pricebook2Id": _standard_pricebook(sf),
            "Product2Id": product,
            "UnitPrice": 12.5,
            "IsActive": True,
        }
    )["id"]
    pricebook = sf.Pricebook2.create({"Name": unique("Trade"), "IsActive": True})["id"]
    opportunity = sf.Opportunity.create(
        {
            "Name": unique("Deal"),
            "AccountId": account,
            "StageName": "Prospecting",
            "CloseDate": "2030-01-31",
        }
    )["id"]
    line = sf.OpportunityLineItem.create(
        {"OpportunityId": opportunity, "PricebookEntryId": entry, "Quantity": 2, "UnitPrice": 10}
    )["id"]
    payment = sf.Payment__c.create({"Amount__c": 20, "Opportunity__c": opportunity})["id"]
    prefixes = {
        contact["id"]: "003",
        product: "01t",
        entry: "01u",
        pricebook: "01s",
        opportunity: "006",
        line: "00k",
        payment: "a01",
    }
    for record_id, prefix in prefixes.items():
        assert record_id[:3] == prefix and len(record_id) == 18
    assert sf.Contact.get(contact["id"])["Name"] == "Ann Jones"
    assert sf.Payment__c.get(payment)["Name"].startswith("PAY-")


def test_line_items_roll_up_into_the_opportunity_amount_and_stage_sets_won(sf):
    product = sf.Product2.create({"Name": unique("Lamp"), "ProductCode": unique("L")})["id"]
    entry = sf.PricebookEntry.create(
        {"Pricebook2Id": _standard_pricebook(sf), "Product2Id": product, "UnitPrice": 40}
    )["id"]
    opportunity = sf.Opportunity.create(
        {"Name": unique("Lamps"), "StageName": "Qualification", "CloseDate": "2030-02-01"}
    )["id"]
    sf.OpportunityLineItem.create(
        {"OpportunityId": opportunity, "PricebookEntryId": entry, "Quantity": 3, "UnitPrice": 35}
    )
    sf.OpportunityLineItem.create(
        {"OpportunityId": opportunity, "PricebookEntryId": entry, "Quantity": 1, "TotalPrice": 50}
    )
    sf.Opportunity.update(
        opportunity,
        {
            "StageName": "Closed Won",
            "Kashflow_Invoice_Number__c": "INV-1001",
            "Kashflow_Invoice_Status__c": "Sent",
        },
    )
    record = sf.Opportunity.get(opportunity)
    assert record["Amount"] == 155
    assert record["IsWon"] is True and record["IsClosed"] is True
    assert record["Kashflow_Invoice_Number__c"] == "INV-1001"
    lines = sf.query(
        format_soql(
            "SELECT Quantity, UnitPrice, TotalPrice, ListPrice FROM OpportunityLineItem"
            " WHERE OpportunityId = {} ORDER BY TotalPrice",
            opportunity,
        )
    )["records"]
    assert [(line["Quantity"], line["UnitPrice"], line["TotalPrice"]) for line in lines] == [
        (1, 50, 50),
        (3, 35, 105),
    ]
    assert lines[0]["ListPrice"] == 40


@pytest.mark.parametrize(
    ("body", "code", "fields"),
    [
        ({"Name": "X", "Colour__c": "red"}, "INVALID_FIELD", None),
        ({"Phone": "0113"}, "REQUIRED_FIELD_MISSING", ["Name"]),
        ({"Name": "X", "IsDeleted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsDeleted"]),
        ({"Name": "X" * 256}, "STRING_TOO_LONG", ["Name"]),
        ({"Name": "X", "ParentId__c": None}, "INVALID_FIELD", None),
    ],
)
def test_invalid_account_bodies_get_salesforce_error_codes(sf, body, code, fields):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Account.create(body)
    assert raised.value.status == 400
    assert _error(raised)["errorCode"] == code
    assert _error(raised).get("fields") == fields


def test_bad_references_and_restricted_picklists_are_refused(sf):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Contact.create({"LastName": "Smith", "AccountId": "001000000000000AAA"})
    assert _error(raised)["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Contact.create({"LastName": "Smith", "AccountId": "not-an-id"})
    assert _error(raised)["errorCode"] == "MALFORMED_ID"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Opportunity.create({"Name": "D", "StageName": "Won-ish", "CloseDate": "2030-01-01"})
    assert _error(raised)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_unique_external_id_clash_is_duplicate_value(sf):
    payment_key = unique("KF-PAY")
    first = sf.Payment__c.create({"Amount__c": 5, "Kashflow_Payment_Id__c": payment_key})["id"]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Payment__c.create({"Amount__c": 5, "Kashflow_Payment_Id__c": payment_key.upper()})
    assert _error(raised)["errorCode"] == "DUPLICATE_VALUE"
    assert re.fullmatch(
        r"duplicate value found: (\w+) duplicates value on record with id: (\w+)",
        _error(raised)["message"],
    ).groups() == ("Kashflow_Payment_Id__c", first)


def test_upsert_by_external_id_creates_then_updates(sf):
    key = unique("GOLDEN")
    created = sf.Account.upsert(f"ExternalId__c/{key}", {"Name": "Upsert Ltd"}, raw_response=True)
    assert created.status_code == 201
    body = created.json()
    assert body["created"] is True and body["success"] is True
    updated = sf.Account.upsert(f"ExternalId__c/{key}", {"Phone": "0113"}, raw_response=True)
    assert updated.status_code == 200
    assert updated.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    assert sf.Account.get_by_custom_id("ExternalId__c", key)["Phone"] == "0113"
    assert sf.Account.upsert(f"ExternalId__c/{key}", {"Phone": "0114"}) == 200


def test_upsert_matching_several_records_answers_300(sf):
    key = unique("SHARED")
    ids = [sf.Account.create({"Name": f"Twin {n}", "ExternalId__c": key})["id"] for n in (1, 2)]
    with pytest.raises(SalesforceMoreThanOneRecord) as raised:
        sf.Account.upsert(f"ExternalId__c/{key}", {"Name": "Which one?"})
    assert raised.value.status == 300
    assert sorted(raised.value.content) == sorted(
        f"/services/data/v59.0/sobjects/Account/{record_id}" for record_id in ids
    )
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Account.get_by_custom_id("ExternalId__c", key)


def test_upsert_by_a_field_that_is_not_an_external_id_is_404(sf):
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.upsert("Name/Acme", {"Phone": "1"})


def test_get_with_field_list_and_unknown_record(sf):
    account_id = sf.Account.create({"Name": unique("Fields"), "Phone": "1"})["id"]
    response = sf.session.get(
        f"{sf.base_url}sobjects/Account/{account_id}?fields=Name,Phone",
        headers=sf.headers,
    )
    assert set(response.json()) == {"attributes", "Id", "Name", "Phone"}
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001000000000000AAA")


def test_platform_event_publish_answers_created(salesforce_sandbox, sf, monkeypatch):
    from tests.connectors.salesforce.test_sandbox_support import RecordingEvents

    recording = RecordingEvents(salesforce_sandbox.emulator.events)
    monkeypatch.setattr(salesforce_sandbox.emulator, "events", recording)
    result = sf.Order_Paid__e.create({"Order_Number__c": "000000042"})
    assert result["success"] is True and result["id"].startswith("e00")
    assert recording.platform_events == [("Order_Paid__e", {"Order_Number__c": "000000042"})]


def test_deleted_and_updated_windows_list_recent_changes(sf):
    start = datetime.now(UTC) - timedelta(minutes=1)
    kept = sf.Account.create({"Name": unique("Window kept")})["id"]
    gone = sf.Account.create({"Name": unique("Window gone")})["id"]
    sf.Account.delete(gone)
    end = datetime.now(UTC) + timedelta(minutes=1)
    assert kept in sf.Account.updated(start, end)["ids"]
    deleted = sf.Account.deleted(start, end)["deletedRecords"]
    assert gone in [record["id"] for record in deleted]


def test_line_item_with_both_unit_and_total_price_is_refused(sf):
    entry = sf.query("SELECT Id FROM PricebookEntry WHERE IsActive = true LIMIT 1")["records"][0]
    opportunity = sf.Opportunity.create(
        {"Name": unique("Both"), "StageName": "Prospecting", "CloseDate": "2030-05-01"}
    )["id"]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.OpportunityLineItem.create(
            {
                "OpportunityId": opportunity,
                "PricebookEntryId": entry["Id"],
                "Quantity": 1,
                "UnitPrice": 1,
                "TotalPrice": 1,
            }
        )
    assert _error(raised)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
