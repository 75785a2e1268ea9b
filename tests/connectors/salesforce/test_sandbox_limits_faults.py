"""Salesforce sandbox API allowance, versions, describe and scripted faults on its paths."""

import pytest
import requests
from simple_salesforce import SalesforceGeneralError, SalesforceRefusedRequest

from tests.connectors.salesforce.test_sandbox_support import API, connect


@pytest.fixture(scope="module")
def sf(salesforce_sandbox):
    return connect(salesforce_sandbox)


@pytest.fixture
def faults(salesforce_sandbox):
    yield lambda spec: salesforce_sandbox.control("faults", spec)
    salesforce_sandbox.session().delete(
        f"{salesforce_sandbox.endpoints['control_url']}/faults", timeout=30
    )


def test_every_response_carries_api_usage_that_simple_salesforce_parses(sf):
    sf.query("SELECT Id FROM Account LIMIT 1")
    first = sf.api_usage["api-usage"]
    sf.query("SELECT Id FROM Account LIMIT 1")
    second = sf.api_usage["api-usage"]
    assert second.used == first.used + 1
    assert second.total == 15000
    assert sf.limits()["DailyApiRequests"]["Max"] == 15000


def test_spent_daily_allowance_fails_with_request_limit_exceeded(salesforce_sandbox, sf):
    used = salesforce_sandbox.control("settings").json()["api_usage"]
    salesforce_sandbox.control("settings", {"daily_api_limit": used + 1})
    try:
        sf.query("SELECT Id FROM Account LIMIT 1")
        with pytest.raises(SalesforceRefusedRequest) as raised:
            sf.query("SELECT Id FROM Account LIMIT 1")
    finally:
        salesforce_sandbox.control("settings", {"daily_api_limit": 15000})
    assert raised.value.status == 403
    assert raised.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]


def test_versions_and_resources(salesforce_sandbox, sf):
    versions = salesforce_sandbox.session().get(
        f"{salesforce_sandbox.endpoints['login_url']}/services/data/", timeout=30
    )
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in (
        versions.json()
    )
    resources = sf.restful("")
    assert resources["query"] == f"{API}/query"
    newer = sf.session.get(
        f"{salesforce_sandbox.endpoints['login_url']}/services/data/v99.0/limits",
        headers=sf.headers,
    )
    assert newer.status_code == 404
    assert newer.json()[0]["errorCode"] == "NOT_FOUND"


def test_describe_lists_custom_fields_for_a_mapping_screen(sf):
    names = {item["name"]: item for item in sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Opportunity", "OpportunityLineItem", "Product2"} <= set(names)
    assert names["Payment__c"]["custom"] is True and names["Payment__c"]["keyPrefix"] == "a01"
    fields = {field["name"]: field for field in sf.Account.describe()["fields"]}
    external = fields["ExternalId__c"]
    assert external["custom"] is True and external["externalId"] is True
    assert external["type"] == "string" and external["nillable"] is True
    assert fields["Name"]["nillable"] is False and fields["Name"]["custom"] is False
    assert fields["BillingAddress"]["type"] == "address"
    assert fields["BillingAddress"]["updateable"] is False
    assert fields["BillingCity"]["compoundFieldName"] == "BillingAddress"
    opportunity = {field["name"]: field for field in sf.Opportunity.describe()["fields"]}
    assert opportunity["Kashflow_Invoice_Number__c"]["custom"] is True
    assert opportunity["IsWon"]["updateable"] is False
    assert "Closed Won" in [value["value"] for value in opportunity["StageName"]["picklistValues"]]


def test_status_fault_with_retry_after(sf, faults):
    faults({"path_regex": "/query", "status": 429, "headers": {"Retry-After": "2"}, "times": 1})
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert raised.value.status == 429
    assert sf.query("SELECT Id FROM Account LIMIT 1")["done"] is True


def test_server_error_fault_uses_the_salesforce_error_list(sf, faults):
    faults({"path_regex": "/sobjects/Account", "method": "POST", "status": 500})
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.Account.create({"Name": "never"})
    assert raised.value.status == 500
    assert raised.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"


def test_delay_fault_makes_a_client_time_out(salesforce_sandbox, sf, faults):
    faults({"path_regex": "/limits", "delay_s": 0.6})
    with pytest.raises(requests.exceptions.Timeout):
        sf.limits(timeout=0.2)


def test_dropped_connection_fault(sf, faults):
    faults({"path_regex": "/limits", "drop": True})
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.limits()


def test_malformed_body_fault_reaches_the_client_as_text(sf, faults):
    faults(
        {
            "path_regex": "/query",
            "status": 503,
            "body": "<html><body>Service Unavailable</body></html>",
            "headers": {"Content-Type": "text/html"},
        }
    )
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert raised.value.status == 503
    assert raised.value.content.startswith("<html>")
