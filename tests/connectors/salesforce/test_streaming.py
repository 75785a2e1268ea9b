"""The Salesforce sandbox's Streaming API over real HTTPS: the Bayeux wire protocol with requests.

Runs against a minimal emulator that mounts only the streaming routes, so the protocol is
tested on its own; changes are published through the event bus the way REST writes do.
test_streaming_rest.py drives the full Salesforce sandbox with real REST, Composite and Bulk
writes.
"""

import threading
import time
from contextlib import contextmanager

import pytest

from connectors.salesforce.sandbox.events import EventBus
from connectors.salesforce.sandbox.streaming import (
    bayeux_for,
    streaming_control_routes,
    streaming_routes,
)
from connectors.sandbox.server import Emulator, Response, SandboxServer
from connectors.sandbox.state import StateStore
from connectors.sandbox.tls import ensure_tls
from tests.conftest import https_session

TOKEN = "00DSANDBOX!streaming.test.token"
POLL_TIMEOUT_S = 1.5


class StreamingEmulator(Emulator):
    """Just the Streaming API, with one valid OAuth token."""

    system = "salesforce"

    def __init__(self, store, state_dir):
        super().__init__(store, state_dir)
        self.events = EventBus(store)
        self.valid_tokens = {TOKEN}

    def authenticate(self, request):
        header = request.header("Authorization") or ""
        token = header.removeprefix("Bearer ")
        return {"user_id": "005Dn000000SbxAIAS"} if token in self.valid_tokens else None

    def routes(self):
        return streaming_routes(self)

    def control_routes(self):
        return streaming_control_routes(self)

    def error_response(self, status, message):
        return Response(status, [{"message": message, "errorCode": "NOT_FOUND"}])

    def endpoints(self):
        return {"control_url": self.control_url}

    def seed(self, world):
        return []


@contextmanager
def running_streaming_sandbox(state_dir):
    """(emulator, origin, ca path): the streaming-only sandbox on a free HTTPS port."""
    tls = ensure_tls(state_dir)
    emulator = StreamingEmulator(StateStore(state_dir / "salesforce.sqlite3"), state_dir)
    server = SandboxServer(emulator, tls.server_context(), "127.0.0.1", 0)
    emulator.bind(server.origin)
    server.start()
    bayeux_for(emulator).settings.poll_timeout_s = POLL_TIMEOUT_S
    try:
        yield emulator, server.origin, tls.ca_cert
    finally:
        server.stop()


@pytest.fixture(scope="module")
def streaming(tmp_path_factory):
    with running_streaming_sandbox(tmp_path_factory.mktemp("salesforce-streaming")) as running:
        yield running


class Bayeux:
    """A hand-driven Bayeux client: each call is one POST of a message array."""

    def __init__(self, origin, ca_cert, token=TOKEN, path="/cometd/59.0/"):
        self.url = origin + path
        self.session = https_session(ca_cert)
        self.token = token
        self.client_id = None
        self.last_response = None

    def post(self, *messages, scheme="Bearer"):
        headers = {"Authorization": f"{scheme} {self.token}"} if self.token else {}
        self.last_response = self.session.post(
            self.url, json=list(messages), headers=headers, timeout=POLL_TIMEOUT_S + 10
        )
        assert self.last_response.status_code == 200, self.last_response.text
        return self.last_response.json()

    def handshake(self):
        reply = self.post(
            {
                "channel": "/meta/handshake",
                "version": "1.0",
                "supportedConnectionTypes": ["long-polling"],
                "ext": {"replay": True},
                "id": "1",
            }
        )[0]
        assert reply["successful"], reply
        self.client_id = reply["clientId"]
        return reply

    def subscribe(self, channel, replay=None):
        message = {
            "channel": "/meta/subscribe",
            "clientId": self.client_id,
            "subscription": channel,
        }
        if replay is not None:
            message["ext"] = {"replay": {channel: replay}}
        return self.post(message)[0]

    def connect(self):
        return self.post(
            {
                "channel": "/meta/connect",
                "clientId": self.client_id,
                "connectionType": "long-polling",
            }
        )

    def ready(self, *channels, replay=None):
        """Handshake, subscribe and spend the first (never held) connect."""
        self.handshake()
        for channel in channels:
            assert self.subscribe(channel, replay)["successful"]
        self.connect()
        return self


def events_of(replies):
    return [reply for reply in replies if not reply["channel"].startswith("/meta/")]


def replay_ids(replies):
    return [event["data"]["event"]["replayId"] for event in events_of(replies)]


def update_account(emulator, record_id="001Dn00000AcmeAAA", phone="+44 20 7946 0000", **kw):
    return emulator.events.publish_change(
        "Account",
        "UPDATE",
        [record_id],
        {"Phone": phone, "LastModifiedDate": "2023-11-14T22:13:20.000Z"},
        ["Phone", "LastModifiedDate"],
        **kw,
    )


@contextmanager
def setting(emulator, **values):
    settings = bayeux_for(emulator).settings
    saved = {name: getattr(settings, name) for name in values}
    for name, value in values.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)


def test_handshake_offers_long_polling_replay_and_advice(streaming):
    _emulator, origin, ca = streaming
    client = Bayeux(origin, ca)
    reply = client.handshake()
    assert reply["channel"] == "/meta/handshake" and reply["id"] == "1"
    assert reply["version"] == "1.0"
    assert reply["supportedConnectionTypes"] == ["long-polling"]
    assert reply["advice"] == {"reconnect": "retry", "interval": 0, "timeout": 1500}
    assert reply["ext"] == {"replay": True, "payload.format": True}
    assert "BAYEUX_BROWSER=" in client.last_response.headers["Set-Cookie"]


def test_connect_delivers_a_change_event_in_the_documented_shape(streaming):
    emulator, origin, ca = streaming
    client = Bayeux(origin, ca).ready("/data/AccountChangeEvent")
    update_account(emulator, client_id="mdm-hub", transaction_key="0002343d-9d90-e395")
    replies = client.connect()
    assert [reply["channel"] for reply in replies] == ["/data/AccountChangeEvent", "/meta/connect"]
    event, connect = replies
    assert set(event) == {"channel", "data"}
    assert set(event["data"]) == {"schema", "payload", "event"}
    assert isinstance(event["data"]["schema"], str) and event["data"]["schema"]
    payload = event["data"]["payload"]
    header = payload.pop("ChangeEventHeader")
    assert payload == {"Phone": "+44 20 7946 0000", "LastModifiedDate": "2023-11-14T22:13:20.000Z"}
    assert header["entityName"] == "Account"
    assert header["recordIds"] == ["001Dn00000AcmeAAA"]
    assert header["changeType"] == "UPDATE"
    assert header["changeOrigin"] == "com/salesforce/api/rest/59.0;client=mdm-hub"
    assert header["transactionKey"] == "0002343d-9d90-e395"
    assert header["sequenceNumber"] == 1
    assert abs(header["commitTimestamp"] - time.time() * 1000) < 60_000
    assert isinstance(header["commitNumber"], int) and header["commitUser"].startswith("005")
    assert header["changedFields"] == ["Phone", "LastModifiedDate"]
    assert event["data"]["event"]["replayId"] == emulator.events.latest_replay_id()
    assert connect["successful"] is True and connect["clientId"] == client.client_id
    assert connect["advice"]["reconnect"] == "retry"


def test_held_connect_returns_as_soon_as_an_event_is_published(streaming):
    emulator, origin, ca = streaming
    client = Bayeux(origin, ca).ready("/data/AccountChangeEvent")
    timer = threading.Timer(0.3, update_account, (emulator,))
    started = time.monotonic()
    timer.start()
    replies = client.connect()
    elapsed = time.monotonic() - started
    assert len(events_of(replies)) == 1
    assert 0.25 < elapsed < POLL_TIMEOUT_S


def test_connect_without_events_is_held_for_the_advised_timeout(streaming):
    _emulator, origin, ca = streaming
    client = Bayeux(origin, ca).ready("/data/ContactChangeEvent")
    started = time.monotonic()
    replies = client.connect()
    elapsed = time.monotonic() - started
    assert [reply["channel"] for reply in replies] == ["/meta/connect"]
    assert replies[0]["successful"]
    assert POLL_TIMEOUT_S - 0.1 < elapsed < POLL_TIMEOUT_S + 2


def test_held_connect_does_not_block_other_clients_or_publishers(streaming):
    emulator, origin, ca = streaming
    waiting = Bayeux(origin, ca).ready("/data/OpportunityChangeEvent")
    held = threading.Thread(target=waiting.connect)
    held.start()
    time.sleep(0.1)
    started = time.monotonic()
    other = Bayeux(origin, ca).ready("/data/AccountChangeEvent")
    update_account(emulator)
    assert len(events_of(other.connect())) == 1
    assert time.monotonic() - started < POLL_TIMEOUT_S
    held.join()


def test_replay_minus_two_and_replay_after_a_replay_id(streaming):
    emulator, origin, ca = streaming
    published = [
        update_account(emulator, phone=str(n))[0]["data"]["event"]["replayId"] for n in range(3)
    ]
    everything = Bayeux(origin, ca)
    everything.handshake()
    everything.subscribe("/data/AccountChangeEvent", -2)
    all_retained = replay_ids(everything.connect())
    assert all_retained[-3:] == published
    assert all_retained == sorted(all_retained)

    resumed = Bayeux(origin, ca)
    resumed.handshake()
    assert resumed.subscribe("/data/AccountChangeEvent", published[0])["successful"]
    assert replay_ids(resumed.connect()) == published[1:]

    fresh = Bayeux(origin, ca)
    fresh.handshake()
    fresh.subscribe("/data/AccountChangeEvent", -1)
    assert replay_ids(fresh.connect()) == []


def test_all_change_events_channel_and_custom_object_channel(streaming):
    emulator, origin, ca = streaming
    client = Bayeux(origin, ca).ready("/data/ChangeEvents", "/data/Payment__ChangeEvent")
    emulator.events.publish_change("Payment__c", "CREATE", ["a01A"], {"Amount__c": 10}, [])
    update_account(emulator)
    replies = events_of(client.connect())
    assert [
        (reply["channel"], reply["data"]["payload"]["ChangeEventHeader"]["entityName"])
        for reply in replies
    ] == [
        ("/data/ChangeEvents", "Payment__c"),
        ("/data/Payment__ChangeEvent", "Payment__c"),
        ("/data/ChangeEvents", "Account"),
    ]


def test_platform_events_arrive_on_their_event_channel(streaming):
    emulator, origin, ca = streaming
    client = Bayeux(origin, ca).ready("/event/Order_Paid__e")
    emulator.events.publish_platform_event("Order_Paid__e", {"Order_Number__c": "000000042"})
    (event,) = events_of(client.connect())
    assert event["channel"] == "/event/Order_Paid__e"
    assert event["data"]["payload"]["Order_Number__c"] == "000000042"
    assert "CreatedDate" in event["data"]["payload"]
    assert event["data"]["event"]["replayId"] == emulator.events.latest_replay_id()


def test_batched_subscribe_and_connect_are_answered_in_one_response(streaming):
    emulator, origin, ca = streaming
    client = Bayeux(origin, ca)
    client.handshake()
    client.connect()
    update_account(emulator)
    last = emulator.events.latest_replay_id()
    replies = client.post(
        {"channel": "/meta/connect", "clientId": client.client_id, "id": "7"},
        {
            "channel": "/meta/subscribe",
            "clientId": client.client_id,
            "subscription": "/data/AccountChangeEvent",
            "ext": {"replay": {"/data/AccountChangeEvent": last - 1}},
            "id": "8",
        },
    )
    assert [(reply["channel"], reply.get("id")) for reply in replies] == [
        ("/meta/subscribe", "8"),
        ("/data/AccountChangeEvent", None),
        ("/meta/connect", "7"),
    ]
    assert replay_ids(replies) == [last]


def test_unsubscribe_stops_delivery_and_disconnect_forgets_the_client(streaming):
    emulator, origin, ca = streaming
    client = Bayeux(origin, ca).ready("/data/AccountChangeEvent")
    reply = client.post(
        {
            "channel": "/meta/unsubscribe",
            "clientId": client.client_id,
            "subscription": "/data/AccountChangeEvent",
        }
    )[0]
    assert reply["successful"] and reply["subscription"] == "/data/AccountChangeEvent"
    update_account(emulator)
    assert replay_ids(client.connect()) == []
    assert client.post({"channel": "/meta/disconnect", "clientId": client.client_id})[0][
        "successful"
    ]
    assert client.connect()[0]["error"] == "403::Unknown client"


def test_oauth_authorization_scheme_is_accepted(streaming):
    _emulator, origin, ca = streaming
    reply = Bayeux(origin, ca).post({"channel": "/meta/handshake"}, scheme="OAuth")[0]
    assert reply["successful"] is True


def test_redeliver_sends_the_records_last_change_event_again(streaming):
    emulator, origin, ca = streaming
    client = Bayeux(origin, ca).ready("/data/AccountChangeEvent")
    update_account(emulator, record_id="001Dn00000RedeAAA", phone="1")
    update_account(emulator, record_id="001Dn00000RedeAAA", phone="2")
    first = events_of(client.connect())
    assert len(first) == 2
    control = https_session(ca).post(
        f"{origin}/__sandbox__/events/redeliver",
        json={"entity": "Account", "record_id": "001Dn00000RedeAAA", "times": 2},
    )
    assert control.status_code == 200
    assert control.json()["replayId"] == first[-1]["data"]["event"]["replayId"]
    again = events_of(client.connect())
    assert again == [first[-1], first[-1]]
    missing = https_session(ca).post(
        f"{origin}/__sandbox__/events/redeliver",
        json={"entity": "Account", "record_id": "001Dn00000NoneAAA", "times": 1},
    )
    assert missing.status_code == 404


def test_gap_event_carries_only_the_header(streaming):
    _emulator, origin, ca = streaming
    client = Bayeux(origin, ca).ready("/data/ContactChangeEvent")
    control = https_session(ca).post(
        f"{origin}/__sandbox__/events/gap",
        json={"entity": "Contact", "record_ids": ["003A", "003B"], "change_type": "GAP_UPDATE"},
    )
    assert control.status_code == 201
    (event,) = events_of(client.connect())
    assert set(event["data"]["payload"]) == {"ChangeEventHeader"}
    header = event["data"]["payload"]["ChangeEventHeader"]
    assert (header["changeType"], header["recordIds"]) == ("GAP_UPDATE", ["003A", "003B"])
    bad = https_session(ca).post(
        f"{origin}/__sandbox__/events/gap",
        json={"entity": "Contact", "record_ids": ["003A"], "change_type": "UPDATE"},
    )
    assert bad.status_code == 400


def test_dropped_clients_are_unknown_and_a_held_connect_is_released(streaming):
    _emulator, origin, ca = streaming
    client = Bayeux(origin, ca).ready("/data/AccountChangeEvent")
    replies = []
    held = threading.Thread(target=lambda: replies.extend(client.connect()))
    held.start()
    time.sleep(0.2)
    started = time.monotonic()
    dropped = https_session(ca).post(f"{origin}/__sandbox__/streaming/drop_clients")
    held.join()
    assert dropped.json()["dropped"] >= 1
    assert time.monotonic() - started < POLL_TIMEOUT_S - 0.5
    assert replies[-1]["error"] == "403::Unknown client"
    assert replies[-1]["advice"]["reconnect"] == "handshake"
