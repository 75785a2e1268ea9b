"""Helpers for the Salesforce client and connector tests: connectors on the sandbox, settings
that restore themselves, scripted faults. No tests live here."""

import uuid
from contextlib import contextmanager

from connectors.salesforce import auth
from connectors.salesforce.connector import SalesforceConnector
from tests.conftest import RunningSandbox, connection_for

# Tests run hundreds of calls; the client-side rate limit is not what they exercise.
FAST = {"rate_per_second": 0, "max_attempts": 3, "backoff_base": 0.05}


def make_connector(sandbox: RunningSandbox, **options) -> SalesforceConnector:
    """A connector on a saved connection to the sandbox, with a fresh login."""
    connection = connection_for(sandbox)
    connection.options = {**connection.options, **FAST, **options}
    connection.save()
    auth.forget_token(connection)
    return SalesforceConnector(connection)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def settings_of(sandbox: RunningSandbox) -> dict:
    response = sandbox.session().get(f"{sandbox.endpoints['control_url']}/settings", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@contextmanager
def sandbox_settings(sandbox: RunningSandbox, **values):
    """Change emulator settings for a block; put the old values back after it."""
    before = settings_of(sandbox)
    sandbox.control("settings", values)
    try:
        yield
    finally:
        sandbox.control("settings", {key: before[key] for key in values})


def change(sandbox: RunningSandbox, object_name: str, record_id: str | None = None, **fields):
    """A salesperson's change in the UI (no client id on its change event)."""
    payload = {"object": object_name, "fields": fields}
    if record_id:
        payload["id"] = record_id
    return sandbox.control("changes", payload).json()


def last_change_header(sandbox: RunningSandbox, entity: str, record_id: str) -> dict:
    event = sandbox.emulator.events.last_change(entity, record_id)
    assert event is not None, f"no change event for {entity} {record_id}"
    return event["data"]["payload"]["ChangeEventHeader"]
