"""`pull` reads changed records from the sandboxes through the mappings into the MDM."""

import io

import pytest
from django.core.management import CommandError, call_command

from hub.models import SyncWatermark
from hub.sync import pull
from mdm.models import Customer, SourceRecord
from tests.conftest import connection_for

pytestmark = pytest.mark.django_db


def test_full_pull_builds_golden_records_and_a_second_pull_changes_nothing(kashflow_sandbox):
    connection = connection_for(kashflow_sandbox)
    expected = kashflow_sandbox.emulator.store.count("customer")

    first = pull(connection, "customer")
    assert first.counts["read"] == expected
    assert first.counts["new"] == expected
    assert SourceRecord.objects.filter(system="kashflow", entity="customer").count() == expected
    assert 0 < Customer.objects.count() <= expected
    assert SourceRecord.objects.exclude(raw={}).count() == expected  # the payload is kept

    second = pull(connection, "customer")
    assert second.mode == "full"  # Kashflow cannot filter by time: a full scan compares
    assert second.counts["unchanged"] == expected
    assert second.counts["new"] == second.counts["changed"] == 0


def test_incremental_pull_reads_only_what_changed(magento_sandbox):
    connection = connection_for(magento_sandbox)
    first = pull(connection, "customer")
    assert first.mode == "full" and first.counts["read"] > 0
    assert SyncWatermark.objects.get(connection_name="magento", entity="customer").high_water_mark

    magento_sandbox.control(
        "orders",
        {
            "customer": {
                "email": "new.shopper@example.org",
                "firstname": "Nadia",
                "lastname": "Shopper",
                "create_account": True,
            },
            "billing_address": {
                "firstname": "Nadia",
                "lastname": "Shopper",
                "street": ["9 Quay Street"],
                "city": "Bristol",
                "postcode": "BS1 4ST",
                "country_id": "GB",
                "telephone": "0117 496 0000",
            },
            "items": [{"sku": magento_sandbox.emulator.store.all("product")[0]["sku"], "qty": 1}],
            "payment": {"method": "checkmo"},
        },
    )
    second = pull(connection, "customer")
    assert second.mode == "incremental"
    assert second.counts["read"] < first.counts["read"]


def test_pull_command_prints_a_summary_and_refuses_unknown_connections(kashflow_sandbox):
    connection_for(kashflow_sandbox)
    out = io.StringIO()
    call_command("pull", connection=["kashflow"], entity=["product"], stdout=out)
    assert "kashflow products (full): read" in out.getvalue()
    with pytest.raises(CommandError, match="no connection named nope"):
        call_command("pull", connection=["nope"])
