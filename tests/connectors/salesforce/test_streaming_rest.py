"""Change events of real REST, Composite and Bulk 2.0 writes, received by a CometD client.

Drives the full Salesforce sandbox (`salesforce_sandbox`): OAuth login, writes through the REST
API with the hub's `Sforce-Call-Options` client id, and aiosfstream-ng subscribed to the
Streaming API of the same sandbox.
"""

import asyncio
import ssl
import time

import pytest
from aiosfstream_ng import Client

from connectors.salesforce.sandbox.streaming import bayeux_for
from tests.connectors.salesforce.test_streaming import Bayeux, events_of
from tests.connectors.salesforce.test_streaming_client import SandboxAuthenticator


def _rest_emulator_ready() -> bool:
    try:
        from connectors.salesforce.sandbox import SalesforceEmulator  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _rest_emulator_ready(), reason="the Salesforce REST emulator is not there yet"
)

CHANNEL = "/data/AccountChangeEvent"
CALL_OPTIONS = {"Sforce-Call-Options": "client=mdm-hub"}


def log_in(salesforce_sandbox) -> tuple[str, str]:
    """(access_token, instance_url) from the sandbox's OAuth password grant."""
    endpoints = salesforce_sandbox.endpoints
    login = salesforce_sandbox.session().post(
        f"{endpoints['login_url']}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": endpoints["client_id"],
            "client_secret": endpoints["client_secret"],
            "username": endpoints["username"],
            "password": endpoints["password"],
        },
        timeout=30,
    )
    assert login.status_code == 200, login.text
    return login.json()["access_token"], login.json()["instance_url"]


@pytest.fixture(scope="module")
def org(salesforce_sandbox):
    """(api, instance_url, token, ssl context): a logged-in REST session on the sandbox."""
    http = salesforce_sandbox.session()
    token, instance_url = log_in(salesforce_sandbox)
    http.headers.update({"Authorization": f"Bearer {token}", **CALL_OPTIONS})
    settings = bayeux_for(salesforce_sandbox.emulator).settings
    saved = settings.poll_timeout_s
    settings.poll_timeout_s = 2.0
    context = ssl.create_default_context(cafile=salesforce_sandbox.ca_bundle)
    yield RestApi(http, f"{instance_url}/services/data/v59.0"), instance_url, token, context
    settings.poll_timeout_s = saved


class RestApi:
    def __init__(self, http, base):
        self.http = http
        self.base = base

    def create(self, name: str) -> str:
        response = self.http.post(f"{self.base}/sobjects/Account/", json={"Name": name})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def update(self, record_id: str, fields: dict) -> None:
        response = self.http.patch(f"{self.base}/sobjects/Account/{record_id}", json=fields)
        assert response.status_code == 204, response.text

    def composite_insert(self, *names: str) -> list[str]:
        records = [{"attributes": {"type": "Account"}, "Name": name} for name in names]
        response = self.http.post(
            f"{self.base}/composite/sobjects", json={"allOrNone": True, "records": records}
        )
        assert response.status_code == 200, response.text
        assert all(result["success"] for result in response.json()), response.text
        return [result["id"] for result in response.json()]

    def bulk_insert(self, *names: str) -> None:
        job = self.http.post(
            f"{self.base}/jobs/ingest/",
            json={"object": "Account", "operation": "insert", "contentType": "CSV"},
        )
        assert job.status_code == 200, job.text
        job_url = f"{self.base}/jobs/ingest/{job.json()['id']}"
        csv = "Name\n" + "".join(f"{name}\n" for name in names)
        upload = self.http.put(
            f"{job_url}/batches", data=csv.encode(), headers={"Content-Type": "text/csv"}
        )
        assert upload.status_code == 201, upload.text
        closed = self.http.patch(job_url, json={"state": "UploadComplete"})
        assert closed.status_code == 200, closed.text
        deadline = time.monotonic() + 20
        while self.http.get(job_url).json()["state"] != "JobComplete":
            assert time.monotonic() < deadline, "the bulk job did not complete"
            time.sleep(0.1)


def cometd(instance_url, token, context, replay) -> Client:
    client = Client(SandboxAuthenticator(token, instance_url), replay=replay)
    client.ssl = context
    return client


async def receive(client, count):
    return [await asyncio.wait_for(client.receive(), 10) for _ in range(count)]


def summary(messages):
    return [
        (
            message["data"]["payload"]["ChangeEventHeader"]["changeType"],
            message["data"]["payload"]["ChangeEventHeader"]["recordIds"],
            message["data"]["payload"].get("Name"),
        )
        for message in messages
    ]


def test_cometd_client_gets_rest_composite_and_bulk_changes_and_resumes(org):
    api, instance_url, token, context = org
    existing = api.create("Streaming Update Ltd")
    replay = {}

    async def scenario():
        client = cometd(instance_url, token, context, replay)
        await client.open()
        await client.subscribe(CHANNEL)
        await asyncio.to_thread(api.update, existing, {"Phone": "+44 20 7946 0999"})
        composite_ids = await asyncio.to_thread(api.composite_insert, "Composite A", "Composite B")
        await asyncio.to_thread(api.bulk_insert, "Bulk Streaming plc")
        seen = await receive(client, 4)
        await client.close()

        await asyncio.to_thread(api.update, composite_ids[0], {"Phone": "1"})
        await asyncio.to_thread(api.update, composite_ids[1], {"Phone": "2"})

        resumed = cometd(instance_url, token, context, replay)
        await resumed.open()
        await resumed.subscribe(CHANNEL)
        missed = await receive(resumed, 2)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(resumed.receive(), 1.5)
        await resumed.close()
        return seen, missed, composite_ids

    seen, missed, composite_ids = asyncio.run(scenario())
    assert summary(seen)[:3] == [
        ("UPDATE", [existing], None),
        ("CREATE", [composite_ids[0]], "Composite A"),
        ("CREATE", [composite_ids[1]], "Composite B"),
    ]
    assert summary(seen)[3][0::2] == ("CREATE", "Bulk Streaming plc")
    update = seen[0]["data"]["payload"]
    assert update["Phone"] == "+44 20 7946 0999"
    assert "Phone" in update["ChangeEventHeader"]["changedFields"]
    assert update["ChangeEventHeader"]["changeOrigin"].endswith(";client=mdm-hub")
    composite_headers = [message["data"]["payload"]["ChangeEventHeader"] for message in seen[1:3]]
    assert composite_headers[0]["transactionKey"] == composite_headers[1]["transactionKey"]
    assert [header["sequenceNumber"] for header in composite_headers] == [1, 2]
    assert [(kind, ids) for kind, ids, _ in summary(missed)] == [
        ("UPDATE", [composite_ids[0]]),
        ("UPDATE", [composite_ids[1]]),
    ]


def test_redeliver_control_route_repeats_a_rest_change(org, salesforce_sandbox):
    api, instance_url, token, context = org
    record_id = api.create("Redelivered Ltd")

    async def scenario():
        client = cometd(instance_url, token, context, {})
        await client.open()
        await client.subscribe(CHANNEL)
        await asyncio.to_thread(api.update, record_id, {"Phone": "3"})
        first = await receive(client, 1)
        await asyncio.to_thread(
            salesforce_sandbox.control,
            "events/redeliver",
            {"entity": "Account", "record_id": record_id, "times": 2},
        )
        again = await receive(client, 2)
        await client.close()
        return first, again

    first, again = asyncio.run(scenario())
    assert again == [first[0], first[0]]


def test_a_ui_change_has_no_client_in_its_change_origin(org, salesforce_sandbox):
    api, instance_url, token, _context = org
    client = Bayeux(instance_url, salesforce_sandbox.ca_bundle, token=token)
    client.ready("/data/AccountChangeEvent")
    record_id = api.create("UI Change Ltd")
    salesforce_sandbox.control(
        "changes", {"object": "Account", "id": record_id, "fields": {"Phone": "0161 496 0000"}}
    )
    events = [event["data"]["payload"] for event in events_of(client.connect())]
    api_create, ui_update = events
    assert api_create["ChangeEventHeader"]["changeOrigin"].endswith(";client=mdm-hub")
    assert ui_update["ChangeEventHeader"]["changeOrigin"] == ""
    assert ui_update["ChangeEventHeader"]["changeType"] == "UPDATE"
    assert ui_update["Phone"] == "0161 496 0000"


def test_connect_with_an_expired_session_fails_with_authentication_invalid(salesforce_sandbox):
    token, instance_url = log_in(salesforce_sandbox)
    client = Bayeux(instance_url, salesforce_sandbox.ca_bundle, token=token)
    client.ready("/data/AccountChangeEvent")
    salesforce_sandbox.control("sessions/expire", {"access_token": token})
    reply = client.connect()[-1]
    assert reply["successful"] is False
    assert reply["error"] == "401::Authentication invalid"
    assert reply["advice"]["reconnect"] == "none"
    denied = Bayeux(instance_url, salesforce_sandbox.ca_bundle, token=token).post(
        {"channel": "/meta/handshake", "version": "1.0"}
    )[0]
    assert denied["error"] == "403::Handshake denied"
