"""A maintained CometD client (aiosfstream-ng) against the sandbox's Streaming API over HTTPS.

The client builds its URL from the instance_url its authenticator returns (`/cometd/45.0`),
speaks Bayeux with the replay extension, and stores the last replayId per channel; the sandbox
must satisfy it unmodified.
"""

import asyncio
import ssl

import pytest
from aiosfstream_ng import Client
from aiosfstream_ng.auth import AuthenticatorBase
from aiosfstream_ng.exceptions import ServerError
from aiosfstream_ng.replay import ReplayMarker, ReplayOption

from connectors.salesforce.sandbox.streaming import bayeux_for
from connectors.sandbox.server import SandboxServer
from connectors.sandbox.state import StateStore
from connectors.sandbox.tls import ensure_tls
from tests.connectors.salesforce.test_streaming import TOKEN, StreamingEmulator

CHANNEL = "/data/AccountChangeEvent"
RECEIVE_TIMEOUT_S = 5


class SandboxAuthenticator(AuthenticatorBase):
    """Hands the client a token and instance URL we already have (no login round trip)."""

    def __init__(self, token: str, instance_url: str):
        super().__init__()
        self._token = token
        self._instance_url = instance_url

    async def _authenticate(self):
        return 200, {
            "access_token": self._token,
            "instance_url": self._instance_url,
            "token_type": "Bearer",
        }


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("salesforce-cometd-client")
    tls = ensure_tls(state_dir)
    emulator = StreamingEmulator(StateStore(state_dir / "salesforce.sqlite3"), state_dir)
    server = SandboxServer(emulator, tls.server_context(), "127.0.0.1", 0)
    emulator.bind(server.origin)
    server.start()
    bayeux_for(emulator).settings.poll_timeout_s = 2.0
    yield emulator, server.origin, ssl.create_default_context(cafile=str(tls.ca_cert))
    server.stop()


def streaming_client(origin, ssl_context, replay, token=TOKEN) -> Client:
    client = Client(SandboxAuthenticator(token, origin), replay=replay)
    client.ssl = ssl_context  # aiocometd passes it to every aiohttp request
    return client


async def receive(client, count):
    return [await asyncio.wait_for(client.receive(), RECEIVE_TIMEOUT_S) for _ in range(count)]


async def nothing_more(client, wait_s=1.0):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.receive(), wait_s)


def change(emulator, change_type, record_id, fields, changed=()):
    """What the REST emulator does for each write (publish through the event bus)."""
    emulator.events.publish_change(
        "Account", change_type, [record_id], fields, list(changed), client_id="mdm-hub"
    )


def test_cometd_client_receives_changes_and_resumes_from_its_last_replay_id(sandbox):
    emulator, origin, ssl_context = sandbox
    replay = {}  # the client's replay-marker storage: channel -> ReplayMarker

    async def scenario():
        client = streaming_client(origin, ssl_context, replay)
        await client.open()
        await client.subscribe(CHANNEL)
        change(emulator, "UPDATE", "001A", {"Phone": "020 7946 0001"}, ["Phone"])  # REST update
        change(emulator, "CREATE", "001B", {"Name": "Composite Ltd"})  # composite insert
        change(emulator, "CREATE", "001C", {"Name": "Bulk plc"})  # Bulk insert
        seen = await receive(client, 3)
        await client.close()

        change(emulator, "UPDATE", "001B", {"Phone": "1"}, ["Phone"])  # missed while away
        change(emulator, "DELETE", "001C", {})  # missed while away

        resumed = streaming_client(origin, ssl_context, replay)
        await resumed.open()
        await resumed.subscribe(CHANNEL)
        missed = await receive(resumed, 2)
        await nothing_more(resumed)
        await resumed.close()
        return seen, missed

    seen, missed = asyncio.run(scenario())
    headers = [message["data"]["payload"]["ChangeEventHeader"] for message in seen + missed]
    assert [(h["changeType"], h["recordIds"]) for h in headers] == [
        ("UPDATE", ["001A"]),
        ("CREATE", ["001B"]),
        ("CREATE", ["001C"]),
        ("UPDATE", ["001B"]),
        ("DELETE", ["001C"]),
    ]
    ids = [message["data"]["event"]["replayId"] for message in seen + missed]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert replay[CHANNEL].replay_id == ids[-1]
    assert seen[1]["data"]["payload"]["Name"] == "Composite Ltd"


def test_cometd_subscription_from_a_replay_id_out_of_retention_fails_or_falls_back(sandbox):
    emulator, origin, ssl_context = sandbox
    change(emulator, "UPDATE", "001D", {"Phone": "1"}, ["Phone"])
    change(emulator, "UPDATE", "001D", {"Phone": "2"}, ["Phone"])
    old = emulator.events.latest_replay_id()
    emulator.events.store.delete("stream_event", str(old))  # pruned: out of the window

    async def scenario():
        client = streaming_client(origin, ssl_context, {CHANNEL: ReplayMarker("0", old)})
        await client.open()
        try:
            with pytest.raises(ServerError) as failure:
                await client.subscribe(CHANNEL)
        finally:
            await client.close()

        tolerant = streaming_client(origin, ssl_context, {CHANNEL: ReplayMarker("0", old)})
        tolerant.replay_fallback = ReplayOption.ALL_EVENTS
        await tolerant.open()
        await tolerant.subscribe(CHANNEL)
        replayed = await receive(tolerant, 1)
        await tolerant.close()
        return failure.value, replayed

    error, replayed = asyncio.run(scenario())
    assert error.error_code == 400
    assert replayed[0]["data"]["event"]["replayId"] < old  # -2: every retained event
    assert f"The replayId {{{old}}} you provided was invalid" in error.error_message


def test_cometd_client_with_a_rejected_token_cannot_open(sandbox):
    _emulator, origin, ssl_context = sandbox

    async def scenario():
        client = streaming_client(origin, ssl_context, {}, token="00DSANDBOX!revoked")
        with pytest.raises(ServerError) as failure:
            await client.open()
        return failure.value

    error = asyncio.run(scenario())
    assert error.error_code == 403
    assert error.response["ext"]["sfdc"]["failureReason"] == "401::Authentication invalid"


def test_cometd_client_rehandshakes_after_the_server_forgot_it_and_misses_nothing(sandbox):
    emulator, origin, ssl_context = sandbox

    async def scenario():
        client = streaming_client(origin, ssl_context, {})
        await client.open()
        await client.subscribe(CHANNEL)
        change(emulator, "UPDATE", "001E", {"Phone": "1"}, ["Phone"])
        before = await receive(client, 1)
        bayeux_for(emulator).drop_clients()  # e.g. the session timed out server-side
        change(emulator, "UPDATE", "001E", {"Phone": "2"}, ["Phone"])
        after = await receive(client, 1)
        await nothing_more(client, 0.5)
        await client.close()
        return before + after

    messages = asyncio.run(scenario())
    phones = [message["data"]["payload"]["Phone"] for message in messages]
    assert phones == ["1", "2"]
