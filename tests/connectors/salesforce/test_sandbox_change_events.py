"""Every write through any Salesforce sandbox API publishes change events on the EventBus.

A recording EventBus stands in for the Streaming API's, so these tests check the REST side of
the contract: entity, change type, record ids, fields, the caller's client id, one
transactionKey per request.
"""

import pytest

from tests.connectors.salesforce.test_sandbox_support import RecordingEvents, connect, unique


@pytest.fixture
def events(salesforce_sandbox, monkeypatch) -> RecordingEvents:
    recording = RecordingEvents(salesforce_sandbox.emulator.events)
    monkeypatch.setattr(salesforce_sandbox.emulator, "events", recording)
    return recording


@pytest.fixture(scope="module")
def sf(salesforce_sandbox):
    return connect(salesforce_sandbox, client_id="mdm-hub")


def test_rest_create_update_delete_publish_events_with_the_client_id(sf, events):
    account_id = sf.Account.create({"Name": unique("Evented"), "Phone": "1"})["id"]
    sf.Account.update(account_id, {"Phone": "2"})
    sf.Account.delete(account_id)
    kinds = [(change["type"], change["ids"]) for change in events.of("Account")]
    assert kinds == [
        ("CREATE", [account_id]),
        ("UPDATE", [account_id]),
        ("DELETE", [account_id]),
    ]
    create, update, delete = events.of("Account")
    assert create["fields"]["Phone"] == "1" and create["fields"]["Id"] == account_id
    assert update["changed"] == ["Phone", "LastModifiedDate"]
    assert update["fields"]["Phone"] == "2"
    assert delete["fields"] == {}
    assert {change["client_id"] for change in events.changes} == {"mdm-hub"}
    assert len({change["transaction_key"] for change in events.changes}) == 3


def test_upsert_publishes_create_then_update(sf, events):
    key = unique("EVT")
    sf.Account.upsert(f"ExternalId__c/{key}", {"Name": "First"})
    sf.Account.upsert(f"ExternalId__c/{key}", {"Name": "Second"})
    assert [change["type"] for change in events.of("Account")] == ["CREATE", "UPDATE"]


def test_composite_create_shares_one_transaction_key_and_all_or_none_publishes_nothing(sf, events):
    records = [{"attributes": {"type": "Account"}, "Name": unique("C")} for _ in range(3)]
    sf.restful("composite/sobjects", method="POST", json={"records": records})
    creates = events.of("Account", "CREATE")
    assert len(creates) == 3
    assert len({change["transaction_key"] for change in creates}) == 1
    events.changes.clear()
    failing = [*records, {"attributes": {"type": "Account"}}]
    sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": failing})
    assert events.changes == []


def test_bulk_insert_publishes_a_create_per_record(sf, events):
    tag = unique("bulk-evt")
    [result] = sf.bulk2.Contact.insert(
        records=[{"LastName": f"Bulk {n}", "Title": tag} for n in range(3)],
        wait=0.1,
    )
    assert result["numberRecordsFailed"] == 0
    creates = events.of("Contact", "CREATE")
    assert len(creates) == 3
    assert {change["client_id"] for change in creates} == {"mdm-hub"}


def test_ui_change_carries_no_client_id_and_undelete_is_published(salesforce_sandbox, sf, events):
    opportunity_id = sf.Opportunity.create(
        {"Name": unique("UI deal"), "StageName": "Prospecting", "CloseDate": "2030-03-01"}
    )["id"]
    events.changes.clear()
    salesforce_sandbox.control(
        "changes",
        {"object": "Opportunity", "id": opportunity_id, "fields": {"StageName": "Closed Won"}},
    )
    [update] = events.of("Opportunity", "UPDATE")
    assert update["client_id"] is None
    assert "StageName" in update["changed"] and update["fields"]["IsWon"] is True
    salesforce_sandbox.control(
        "changes", {"object": "Opportunity", "id": opportunity_id, "delete": True}
    )
    salesforce_sandbox.control(
        "changes", {"object": "Opportunity", "id": opportunity_id, "undelete": True}
    )
    assert [change["type"] for change in events.of("Opportunity")][-2:] == ["DELETE", "UNDELETE"]
    assert sf.Opportunity.get(opportunity_id)["IsDeleted"] is False


def test_ui_can_create_a_won_opportunity_with_line_items(salesforce_sandbox, sf, events):
    product_code = sf.query("SELECT ProductCode FROM PricebookEntry WHERE IsActive = true LIMIT 1")[
        "records"
    ][0]["ProductCode"]
    account_id = sf.Account.create({"Name": unique("UI buyer")})["id"]
    events.changes.clear()
    response = salesforce_sandbox.control(
        "changes",
        {
            "object": "Opportunity",
            "fields": {
                "Name": unique("Won in UI"),
                "AccountId": account_id,
                "StageName": "Closed Won",
                "CloseDate": "2030-04-01",
            },
            "line_items": [{"ProductCode": product_code, "Quantity": 2, "UnitPrice": 9.5}],
        },
    )
    body = response.json()
    assert body["IsWon"] is True and body["Amount"] == 19
    assert body["line_items"][0]["TotalPrice"] == 19
    assert [change["entity"] for change in events.changes][:2] == [
        "Opportunity",
        "OpportunityLineItem",
    ]
    assert {change["client_id"] for change in events.changes} == {None}
    assert len({change["transaction_key"] for change in events.changes}) == 1
