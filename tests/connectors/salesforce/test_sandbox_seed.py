"""Salesforce sandbox seed data, truth rows, restarts and resets."""

import csv

import pytest
from simple_salesforce import format_soql

from connectors.sandbox.runner import SandboxSet
from tests.conftest import RunningSandbox
from tests.connectors.salesforce.test_sandbox_support import connect


@pytest.fixture(scope="module")
def sf(salesforce_sandbox):
    return connect(salesforce_sandbox)


def _truth(salesforce_sandbox) -> list[dict]:
    with open(salesforce_sandbox.sandboxes.state_dir / "truth.csv", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["system"] == "salesforce"]


def test_truth_rows_name_seeded_accounts_and_products(salesforce_sandbox, sf):
    truth = _truth(salesforce_sandbox)
    customers = [row["external_id"] for row in truth if row["entity"] == "customer"]
    products = [row["external_id"] for row in truth if row["entity"] == "product"]
    assert customers and products
    accounts = sf.query_all(
        format_soql("SELECT Id, Name, ExternalId__c FROM Account WHERE Id IN {}", customers)
    )["records"]
    assert len(accounts) == len(customers)
    with_external_id = [record for record in accounts if record["ExternalId__c"]]
    assert 0 < len(with_external_id) < len(accounts) / 2
    contacts = sf.query_all(
        format_soql("SELECT AccountId FROM Contact WHERE AccountId IN {}", customers)
    )["records"]
    assert {record["AccountId"] for record in contacts} == set(customers)
    entries = sf.query_all(
        format_soql(
            "SELECT Product2Id, Product2.ProductCode FROM PricebookEntry"
            " WHERE Product2Id IN {} AND Pricebook2.IsStandard = true",
            products,
        )
    )["records"]
    assert {record["Product2Id"] for record in entries} == set(products)


def test_seed_has_open_opportunities_with_line_items(sf):
    opportunities = sf.query(
        "SELECT Id, Amount, (SELECT Id FROM OpportunityLineItems) FROM Opportunity"
        " WHERE IsClosed = false AND Amount > 0"
    )["records"]
    assert opportunities
    assert all(record["OpportunityLineItems"]["totalSize"] >= 1 for record in opportunities)


def test_state_survives_a_restart_and_reset_reseeds(tmp_path):
    def start() -> RunningSandbox:
        sandboxes = SandboxSet(
            tmp_path, systems=["salesforce"], base_port=0, seed=3, customers=8, products=4
        )
        document = sandboxes.start()
        return RunningSandbox(
            "salesforce", document["salesforce"], document["ca_bundle"], sandboxes
        )

    running = start()
    sf = connect(running)
    account_id = sf.Account.create({"Name": "Survivor"})["id"]
    seeded = sf.query("SELECT COUNT() FROM Account")["totalSize"]
    running.sandboxes.stop()
    running = start()
    try:
        sf = connect(running)
        assert sf.Account.get(account_id)["Name"] == "Survivor"
        running.control("reset", {"reseed": True})
        sf = connect(running)
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == seeded - 1
        assert sf.query("SELECT COUNT() FROM Pricebook2 WHERE IsStandard = true")["totalSize"] == 1
    finally:
        running.sandboxes.stop()
