"""`hub_status` reports golden records, cross-references, review work and connection health."""

import io
import json

import pytest
from django.core.management import call_command

from connectors.models import BreakerState, ConnectionState
from hub.sync import pull
from tests.conftest import connection_for

pytestmark = pytest.mark.django_db


def test_status_counts_what_a_pull_brought_in(kashflow_sandbox):
    connection = connection_for(kashflow_sandbox)
    summary = pull(connection, "customer")
    ConnectionState.objects.filter(key="kashflow").update(
        breaker_state=BreakerState.OPEN, last_error="boom"
    )
    out = io.StringIO()
    call_command("hub_status", json=True, stdout=out)
    status = json.loads(out.getvalue())
    assert status["cross_references"]["kashflow/customer"] == summary.counts["read"]
    assert status["golden"]["customers"]["active"] > 0
    (kashflow,) = status["connections"]
    assert kashflow["breaker"] == "open" and kashflow["last_error"] == "boom"
    assert kashflow["pulls"]["customer"]["summary"]["read"] == summary.counts["read"]
    assert status["health"] == {"database": True, "broker": True}

    text = io.StringIO()
    call_command("hub_status", stdout=text)
    assert "Golden customers:" in text.getvalue()
    assert "breaker open, last error: boom" in text.getvalue()


def test_status_names_golden_records_whose_survivorship_an_import_left_pending():
    import uuid

    from mdm.models import PendingSurvivorship

    golden = uuid.uuid4()
    for _ in range(2):  # named by two chunks: one record
        PendingSurvivorship.objects.create(entity="customer", golden_id=golden)
    out = io.StringIO()
    call_command("hub_status", json=True, stdout=out)
    golden_counts = json.loads(out.getvalue())["golden"]
    assert golden_counts["customers"]["pending_survivorship"] == 1
    assert golden_counts["products"]["pending_survivorship"] == 0
    text = io.StringIO()
    call_command("hub_status", stdout=text)
    assert "1 of them keep their values" in text.getvalue()
    assert "import_records --entity customer` works them out first" in text.getvalue()
