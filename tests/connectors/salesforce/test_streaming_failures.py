"""The Streaming API's documented failures over HTTPS: unknown client, bad auth, replay, channels.

Uses the streaming-only sandbox of test_streaming.py and a hand-driven Bayeux client.
"""

import time

import pytest

from tests.conftest import https_session
from tests.connectors.salesforce.test_streaming import (
    TOKEN,
    Bayeux,
    replay_ids,
    running_streaming_sandbox,
    setting,
    update_account,
)


@pytest.fixture(scope="module")
def streaming(tmp_path_factory):
    with running_streaming_sandbox(tmp_path_factory.mktemp("salesforce-streaming")) as running:
        yield running


def test_unknown_client_is_told_to_handshake_again(streaming):
    _emulator, origin, ca = streaming
    client = Bayeux(origin, ca)
    client.client_id = "not-a-client"
    reply = client.connect()[0]
    assert reply["successful"] is False
    assert reply["error"] == "403::Unknown client"
    assert reply["advice"]["reconnect"] == "handshake"
    assert client.subscribe("/data/AccountChangeEvent")["error"] == "403::Unknown client"


def test_client_that_stops_connecting_expires(streaming):
    emulator, origin, ca = streaming
    with setting(emulator, client_expiry_s=0.3):
        client = Bayeux(origin, ca).ready("/data/AccountChangeEvent")
        time.sleep(0.5)
        reply = client.connect()[0]
    assert reply["error"] == "403::Unknown client"
    assert reply["advice"]["reconnect"] == "handshake"


def test_handshake_with_a_bad_token_is_denied_for_invalid_authentication(streaming):
    _emulator, origin, ca = streaming
    reply = Bayeux(origin, ca, token="00DSANDBOX!expired").post(
        {
            "channel": "/meta/handshake",
            "version": "1.0",
            "supportedConnectionTypes": ["long-polling"],
        }
    )[0]
    assert reply["successful"] is False
    assert reply["error"] == "403::Handshake denied"
    assert reply["ext"]["sfdc"]["failureReason"] == "401::Authentication invalid"
    assert reply["advice"]["reconnect"] == "none"
    assert "clientId" not in reply

    anonymous = Bayeux(origin, ca, token=None).post({"channel": "/meta/handshake"})[0]
    reason = anonymous["ext"]["sfdc"]["failureReason"]
    assert reason == "401::Request requires authentication"


def test_connect_after_the_token_expired_fails_with_authentication_invalid(streaming):
    emulator, origin, ca = streaming
    emulator.valid_tokens.add("00DSANDBOX!short-lived")
    client = Bayeux(origin, ca, token="00DSANDBOX!short-lived").ready("/data/AccountChangeEvent")
    emulator.valid_tokens.discard("00DSANDBOX!short-lived")
    reply = client.connect()[0]
    assert reply["successful"] is False
    assert reply["error"] == "401::Authentication invalid"
    assert reply["advice"]["reconnect"] == "none"


def test_replay_id_outside_retention_fails_the_subscription(streaming):
    emulator, origin, ca = streaming
    old = update_account(emulator)[0]["data"]["event"]["replayId"]
    client = Bayeux(origin, ca)
    client.handshake()
    bus = emulator.events
    bus.clock = lambda: time.time() + 72 * 3600 + 60
    try:
        reply = client.subscribe("/data/AccountChangeEvent", old)
        assert client.subscribe("/data/ChangeEvents", -2)["successful"]
        replayed_after_expiry = replay_ids(client.connect())  # the first connect is not held
    finally:
        bus.clock = time.time
    assert reply["successful"] is False
    assert reply["error"] == (
        f"400::The replayId {{{old}}} you provided was invalid.  Please provide a valid ID, "
        "-2 to replay all events, or -1 to replay only new events."
    )
    assert reply["subscription"] == "/data/AccountChangeEvent"
    assert replayed_after_expiry == []
    never = client.subscribe("/data/AccountChangeEvent", 10**9)
    assert never["successful"] is False and never["error"].startswith("400::The replayId")


def test_subscribe_to_an_unknown_channel_fails(streaming):
    _emulator, origin, ca = streaming
    client = Bayeux(origin, ca)
    client.handshake()
    reply = client.subscribe("/data/NoSuchThingChangeEvent")
    assert reply["successful"] is False
    assert reply["error"] == (
        "400::The channel you requested to subscribe to does not exist"
        " {/data/NoSuchThingChangeEvent}"
    )
    assert client.subscribe("/topic/AllAccounts")["successful"] is False
    assert client.subscribe("/event/NotAPlatformEvent")["successful"] is False
    assert client.subscribe("/event/Stock_Changed__e")["successful"] is True
    assert client.subscribe("data/ChangeEvents")["error"].startswith("400::Channel subscriptions")


def test_cometd_path_forms_and_api_versions(streaming):
    _emulator, origin, ca = streaming
    for path in ("/cometd/59.0", "/cometd/45.0/", "/cometd/59.0/handshake"):
        assert Bayeux(origin, ca, path=path).handshake()["successful"]
    session = https_session(ca)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    missing = session.post(
        f"{origin}/cometd/", json=[{"channel": "/meta/handshake"}], headers=headers
    )
    assert missing.status_code == 400
    assert "API version in the URI is mandatory" in missing.json()[0]["error"]
    old = session.post(
        f"{origin}/cometd/30.0", json=[{"channel": "/meta/handshake"}], headers=headers
    )
    assert "Unsupported API version" in old.json()[0]["error"]


def test_after_a_sandbox_reset_clients_must_handshake_and_replay_ids_start_again(tmp_path):
    with running_streaming_sandbox(tmp_path) as (emulator, origin, ca):
        client = Bayeux(origin, ca).ready("/data/AccountChangeEvent")
        update_account(emulator)
        update_account(emulator)
        assert https_session(ca).post(f"{origin}/__sandbox__/reset").status_code == 200
        reply = client.connect()[-1]
        assert (reply["error"], reply["advice"]["reconnect"]) == (
            "403::Unknown client",
            "handshake",
        )
        again = Bayeux(origin, ca).ready("/data/AccountChangeEvent")
        assert again.subscribe("/data/AccountChangeEvent", 2)["successful"] is False
        update_account(emulator)
        assert replay_ids(again.connect()) == [1]
