"""End to end: a fresh hub pulls every record of all three sandboxes exactly once, while each
system answers with 429s, 5xx and a dropped connection along the way."""

import pytest

from connectors.models import BreakerState, ConnectionState
from hub.sync import pull
from mdm.models import SourceRecord
from tests.conftest import connection_for

pytestmark = pytest.mark.django_db

# Per system: the list paths the pull reads, and the store kinds that hold its records.
SYSTEMS = {
    "kashflow": (r"^/v2/(customers|products)$", {"customer": "customer", "product": "product"}),
    "salesforce": (r"/query", {"customer": "Account", "product": "Product2"}),
    "magento": (
        r"/V1/(customers/search|products)$",
        {"customer": "customer", "product": "product"},
    ),
}


def live_records(sandbox, kind: str) -> set[str]:
    documents = sandbox.emulator.store.all(kind)
    if sandbox.system == "salesforce":
        return {doc["Id"] for doc in documents if not doc.get("IsDeleted")}
    if sandbox.system == "kashflow":
        return {doc["Code"] for doc in documents}
    key = "id" if kind == "customer" else "sku"
    return {str(doc[key]) for doc in documents}


def test_every_record_arrives_exactly_once_despite_faults(
    kashflow_sandbox, salesforce_sandbox, magento_sandbox
):
    sandboxes = [kashflow_sandbox, salesforce_sandbox, magento_sandbox]
    connections = {sandbox.system: connection_for(sandbox) for sandbox in sandboxes}
    try:
        for sandbox in sandboxes:
            path_regex = SYSTEMS[sandbox.system][0]
            for fault in (
                {"status": 429, "times": 2, "headers": {"Retry-After": "1"}},
                {"status": 503, "times": 1},
                {"drop": True, "times": 1},
            ):
                sandbox.control("faults", {"path_regex": path_regex, "method": "GET", **fault})

        for sandbox in sandboxes:
            for entity, kind in SYSTEMS[sandbox.system][1].items():
                summary = pull(connections[sandbox.system], entity)
                assert summary.rejected == []
                stored = SourceRecord.objects.filter(system=sandbox.system, entity=entity)
                ids = list(stored.values_list("external_id", flat=True))
                assert len(ids) == len(set(ids)), f"{sandbox.system} {entity}: duplicates"
                assert set(ids) == live_records(sandbox, kind), f"{sandbox.system} {entity}"
                assert summary.counts["read"] == len(ids)
            # The faults really happened: the connection's health remembers the last one.
            state = ConnectionState.objects.get(key=sandbox.system)
            assert state.last_failure_at is not None, sandbox.system
            assert state.breaker_state == BreakerState.CLOSED
    finally:
        for sandbox in sandboxes:
            sandbox.session().delete(f"{sandbox.endpoints['control_url']}/faults", timeout=10)
