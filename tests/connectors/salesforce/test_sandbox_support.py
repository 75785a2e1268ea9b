"""Helpers for the Salesforce sandbox contract tests: OAuth login and simple-salesforce clients.

No tests live here; the contract tests import these functions.
"""

import uuid

import requests
from simple_salesforce import Salesforce

from tests.conftest import RunningSandbox

API = "/services/data/v59.0"


def token_for(sandbox: RunningSandbox) -> dict:
    """An OAuth client-credentials login, as the hub does it."""
    endpoints = sandbox.endpoints
    response = sandbox.session().post(
        f"{endpoints['login_url']}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(endpoints["client_id"], endpoints["client_secret"]),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def connect(sandbox: RunningSandbox, client_id: str | None = None) -> Salesforce:
    """simple-salesforce, unmodified, on a fresh session (direct mode: instance + token)."""
    token = token_for(sandbox)
    sf = Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=sandbox.session(),
        version="59.0",
    )
    if client_id:  # on the session too, so the Bulk 2.0 handler's requests carry it
        sf.headers["Sforce-Call-Options"] = f"client={client_id}"
        sf.session.headers["Sforce-Call-Options"] = f"client={client_id}"
    return sf


def raw(sandbox: RunningSandbox, token: dict | None = None) -> requests.Session:
    """A plain requests session carrying a bearer token (for calls simple-salesforce lacks)."""
    session = sandbox.session()
    token = token or token_for(sandbox)
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    return session


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class RecordingEvents:
    """Stands in for emulator.events: keeps every publish_change call."""

    def __init__(self, real):
        self.real = real
        self.changes: list[dict] = []
        self.platform_events: list[tuple[str, dict]] = []

    def publish_change(self, entity_name, change_type, record_ids, fields, changed_fields,
                       client_id=None, transaction_key=None):  # fmt: skip
        self.changes.append(
            {
                "entity": entity_name,
                "type": change_type,
                "ids": list(record_ids),
                "fields": fields,
                "changed": changed_fields,
                "client_id": client_id,
                "transaction_key": transaction_key,
            }
        )
        return []

    def publish_platform_event(self, event_name, payload):
        self.platform_events.append((event_name, payload))
        return {}

    def __getattr__(self, name):
        return getattr(self.real, name)

    def of(self, entity: str, change_type: str | None = None) -> list[dict]:
        return [
            change
            for change in self.changes
            if change["entity"] == entity and change_type in (None, change["type"])
        ]
