"""The Salesforce sandbox's event store: replay ids, headers, retention, restarts, wake-ups."""

import threading
import time

import pytest

from connectors.salesforce.sandbox.events import EventBus, change_channel
from connectors.sandbox.state import StateStore


@pytest.fixture
def bus(tmp_path):
    return EventBus(StateStore(tmp_path / "salesforce.sqlite3"))


def header_of(message: dict) -> dict:
    return message["data"]["payload"]["ChangeEventHeader"]


def test_custom_objects_get_the_double_underscore_change_channel():
    assert change_channel("Account") == "/data/AccountChangeEvent"
    assert change_channel("Payment__c") == "/data/Payment__ChangeEvent"


def test_a_change_is_published_on_its_object_channel_and_on_all_change_events(bus):
    messages = bus.publish_change("Account", "UPDATE", ["001A"], {"Phone": "1"}, ["Phone"])
    assert [message["channel"] for message in messages] == [
        "/data/AccountChangeEvent",
        "/data/ChangeEvents",
    ]
    assert messages[0]["data"] == messages[1]["data"]
    assert messages[0]["data"]["event"] == {"replayId": 1}


def test_replay_ids_keep_increasing_across_a_restart(tmp_path):
    first = EventBus(StateStore(tmp_path / "s.sqlite3"))
    first.publish_change("Account", "CREATE", ["001A"], {"Name": "Acme"}, [])
    first.publish_change("Account", "CREATE", ["001B"], {"Name": "Beta"}, [])
    first.store.close()
    restarted = EventBus(StateStore(tmp_path / "s.sqlite3"))
    message = restarted.publish_change("Account", "DELETE", ["001A"], {}, [])[0]
    assert message["data"]["event"]["replayId"] == 3
    replayed = restarted.events_after(0, "/data/AccountChangeEvent")
    assert [event["replayId"] for event in replayed] == [1, 2, 3]


def test_payload_follows_the_change_type_body_rules(bus):
    created = bus.publish_change(
        "Contact", "CREATE", ["003A"], {"LastName": "Ng", "Email": None}, ["LastName"]
    )[0]
    payload = created["data"]["payload"]
    assert payload["LastName"] == "Ng" and "Email" not in payload
    assert header_of(created)["changedFields"] == []

    updated = bus.publish_change(
        "Contact", "UPDATE", ["003A"], {"Email": None, "LastModifiedDate": "x"}, ["Email"]
    )[0]
    assert updated["data"]["payload"]["Email"] is None
    assert header_of(updated)["changedFields"] == ["Email"]

    deleted = bus.publish_change("Contact", "DELETE", ["003A"], {"LastName": "Ng"}, [])[0]
    assert set(deleted["data"]["payload"]) == {"ChangeEventHeader"}


def test_events_of_one_transaction_share_key_and_commit_and_count_sequence(bus):
    first = header_of(bus.publish_change("Account", "CREATE", ["001A"], {}, [], "hub", "tx-1")[0])
    second = header_of(bus.publish_change("Contact", "CREATE", ["003A"], {}, [], "hub", "tx-1")[0])
    other = header_of(bus.publish_change("Account", "CREATE", ["001B"], {}, [], "hub", "tx-2")[0])
    assert (first["transactionKey"], first["sequenceNumber"]) == ("tx-1", 1)
    assert (second["transactionKey"], second["sequenceNumber"]) == ("tx-1", 2)
    assert first["commitNumber"] == second["commitNumber"] < other["commitNumber"]
    assert other["sequenceNumber"] == 1


def test_change_origin_carries_the_client_id_and_is_empty_for_ui_changes(bus):
    api = header_of(bus.publish_change("Account", "UPDATE", ["001A"], {}, [], "mdm-hub")[0])
    assert api["changeOrigin"] == "com/salesforce/api/rest/59.0;client=mdm-hub"
    ui = header_of(bus.publish_change("Account", "UPDATE", ["001A"], {}, [], None)[0])
    assert ui["changeOrigin"] == ""
    assert ui["transactionKey"]  # one is made up when the caller gives none


def test_events_older_than_the_retention_window_are_pruned(bus):
    now = [1_700_000_000.0]
    bus.clock = lambda: now[0]
    bus.publish_change("Account", "CREATE", ["001A"], {}, [])
    now[0] += 72 * 3600 + 1
    assert not bus.is_retained(1)
    assert bus.events_after(0, "/data/ChangeEvents") == []
    bus.publish_change("Account", "CREATE", ["001B"], {}, [])
    assert bus.store.get("stream_event", "1") is None
    assert bus.is_retained(2)


def test_platform_events_get_their_own_channel_and_created_fields(bus):
    message = bus.publish_platform_event("Order_Paid__e", {"Order_Number__c": "100001"})
    assert message["channel"] == "/event/Order_Paid__e"
    payload = message["data"]["payload"]
    assert payload["Order_Number__c"] == "100001"
    assert payload["CreatedDate"].endswith("Z") and payload["CreatedById"].startswith("005")
    assert message["data"]["event"]["replayId"] == 1


def test_concurrent_publishers_get_unique_ids_in_log_order(bus):
    def publish(prefix):
        for number in range(25):
            bus.publish_change("Account", "CREATE", [f"{prefix}{number}"], {}, [])

    threads = [threading.Thread(target=publish, args=(name,)) for name in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    replay_ids = [event["replayId"] for event in bus.events_after(0, "/data/ChangeEvents")]
    assert replay_ids == list(range(1, 101))


def test_a_waiter_wakes_when_an_event_is_published(bus):
    seen = bus.version
    timer = threading.Timer(0.2, bus.publish_change, ("Account", "CREATE", ["001A"], {}, []))
    started = time.monotonic()
    timer.start()
    assert bus.wait_for_news(seen, 5)
    assert time.monotonic() - started < 2
    assert not bus.wait_for_news(bus.version, 0.1)
