"""SalesforceClient against the Salesforce sandbox over HTTPS: logins, re-authentication,
paging, upserts, batches, errors and the daily allowance."""

import pytest

from connectors.errors import AuthError, DuplicateError, RateLimitedError, ValidationError
from connectors.salesforce import auth
from tests.connectors.salesforce.test_connector_support import (
    make_connector,
    sandbox_settings,
    settings_of,
    unique,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fault(salesforce_sandbox):
    """fault(path_regex, **spec) scripts a failure; every fault is cleared after the test."""

    def schedule(path_regex: str, **spec) -> None:
        salesforce_sandbox.control("faults", {"path_regex": path_regex, **spec})

    yield schedule
    salesforce_sandbox.session().delete(
        f"{salesforce_sandbox.endpoints['control_url']}/faults", timeout=30
    )


def accounts_named(sandbox, name: str) -> list[dict]:
    return [doc for doc in sandbox.emulator.records.live("Account") if doc.get("Name") == name]


# Logins -------------------------------------------------------------------------------------
def test_client_credentials_login_reads_accounts(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    page = client.query_page("SELECT Id, Name FROM Account LIMIT 3")
    assert len(page["records"]) == 3
    assert auth.cached_token(client.connection) is not None


def test_jwt_bearer_login_reads_accounts(salesforce_sandbox):
    client = make_connector(salesforce_sandbox, auth_flow="jwt_bearer").client
    page = client.query_page("SELECT Id FROM Account LIMIT 1")
    assert page["records"][0]["Id"].startswith("001")


def test_jwt_signed_with_another_key_is_an_auth_error(salesforce_sandbox):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    connector = make_connector(salesforce_sandbox, auth_flow="jwt_bearer")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    connector.connection.set_secret(
        "private_key",
        other_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    )
    with pytest.raises(AuthError) as raised:
        connector.client.query_page("SELECT Id FROM Account LIMIT 1")
    assert raised.value.code == "invalid_grant"


def test_wrong_client_secret_is_an_auth_error_without_the_secret_in_it(salesforce_sandbox):
    connector = make_connector(salesforce_sandbox)
    connector.connection.set_secret("client_secret", "not-the-secret-0123456789")
    with pytest.raises(AuthError) as raised:
        connector.client.query_page("SELECT Id FROM Account LIMIT 1")
    assert "not-the-secret" not in str(raised.value)
    assert raised.value.code == "invalid_client"


def test_token_is_reused_by_the_next_client_of_the_connection(salesforce_sandbox):
    first = make_connector(salesforce_sandbox).client
    first.query_page("SELECT Id FROM Account LIMIT 1")
    token = auth.cached_token(first.connection)
    from connectors.salesforce.connector import SalesforceConnector

    second = SalesforceConnector(first.connection).client
    second.query_page("SELECT Id FROM Account LIMIT 1")
    assert auth.cached_token(first.connection) == token


# Expired sessions ---------------------------------------------------------------------------
def test_expired_session_mid_listing_logs_in_again_and_the_listing_completes(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    with sandbox_settings(salesforce_sandbox, query_batch_size=7):
        records = client.query_iter("SELECT Id FROM Account ORDER BY Id")
        first_page = [next(records) for _ in range(7)]
        token = auth.cached_token(client.connection)
        salesforce_sandbox.control("sessions/expire", {})
        rest = list(records)
    ids = [record["Id"] for record in first_page + rest]
    assert len(ids) == len(set(ids)) == len(salesforce_sandbox.emulator.records.live("Account"))
    assert auth.cached_token(client.connection) != token


def test_session_refused_again_after_a_new_login_is_an_auth_error(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    with (
        sandbox_settings(salesforce_sandbox, session_lifetime_s=0),
        pytest.raises(AuthError) as raised,
    ):
        client.query_page("SELECT Id FROM Account LIMIT 1")
    assert raised.value.code == "INVALID_SESSION_ID"


# Paging -------------------------------------------------------------------------------------
def test_query_over_many_pages_yields_every_record_once(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    with sandbox_settings(salesforce_sandbox, query_batch_size=4):
        products = list(client.query_iter("SELECT Id, Name FROM Product2"))
    ids = [product["Id"] for product in products]
    assert len(ids) == len(set(ids)) == len(salesforce_sandbox.emulator.records.live("Product2"))


# Single writes ------------------------------------------------------------------------------
def test_upsert_by_external_id_creates_then_updates_the_same_account(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    key = unique("UPS")
    created = client.upsert_by_external_id(
        "Account", "ExternalId__c", key, {"Name": "Upsert Ltd", "ExternalId__c": key}
    )
    updated = client.upsert_by_external_id(
        "Account", "ExternalId__c", key, {"Name": "Upsert Renamed Ltd"}
    )
    assert created.created is True and updated.created is False
    assert created.id == updated.id
    found = client.find_by_external_id("Account", "ExternalId__c", key)
    assert found["Name"] == "Upsert Renamed Ltd"


def test_create_whose_answer_is_lost_is_found_by_external_id_not_created_twice(
    salesforce_sandbox, fault
):
    client = make_connector(salesforce_sandbox, read_timeout=0.5).client
    client.api()  # log in before the faults
    key = unique("LOST")
    name = f"Lost Answer {key}"
    # The create commits after the client gave up; the lookup meets a short outage, so by the
    # time it is answered the lost create is in Salesforce.
    fault(r"/sobjects/Account/?$", method="POST", delay_s=1.0)
    fault(rf"/sobjects/Account/ExternalId__c/{key}$", method="GET", status=503,
          headers={"Retry-After": "1.5"})  # fmt: skip
    record_id = client.create(
        "Account", {"Name": name, "ExternalId__c": key}, external_id_field="ExternalId__c"
    )
    assert [doc["Id"] for doc in accounts_named(salesforce_sandbox, name)] == [record_id]


def test_duplicate_value_is_a_duplicate_error(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    key = unique("PAY")
    payment = {"Kashflow_Payment_Id__c": key, "Amount__c": "10.00"}
    client.create("Payment__c", payment)
    with pytest.raises(DuplicateError) as raised:
        client.create("Payment__c", payment)
    assert raised.value.code == "DUPLICATE_VALUE"
    assert "duplicate value found" in raised.value.system_message


def test_several_matches_for_an_external_id_are_a_duplicate_error(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    key = unique("TWIN")
    for name in ("Twin One Ltd", "Twin Two Ltd"):
        client.create("Account", {"Name": name, "ExternalId__c": key})
    with pytest.raises(DuplicateError):
        client.upsert_by_external_id("Account", "ExternalId__c", key, {"Phone": "0100"})


def test_missing_required_field_is_a_validation_error_with_salesforces_message(
    salesforce_sandbox,
):
    client = make_connector(salesforce_sandbox).client
    with pytest.raises(ValidationError) as raised:
        client.create("Account", {"Phone": "01632 960000"})
    assert raised.value.code == "REQUIRED_FIELD_MISSING"
    assert "Name" in raised.value.system_message


# Batches ------------------------------------------------------------------------------------
def test_250_records_are_upserted_through_collections_in_two_requests(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    batch = unique("COL")
    records = [{"Name": f"{batch} {n}", "ExternalId__c": f"{batch}-{n}"} for n in range(250)]
    client.api()
    used_before = salesforce_sandbox.emulator.api_usage()[0]
    results = client.upsert_many("Account", records, "ExternalId__c")
    used = salesforce_sandbox.emulator.api_usage()[0] - used_before
    assert used == 2
    assert [result.key for result in results] == [record["ExternalId__c"] for record in records]
    assert all(result.success and result.created and result.id for result in results)
    again = client.upsert_many("Account", records[:3], "ExternalId__c")
    assert [result.created for result in again] == [False, False, False]
    assert [result.id for result in again] == [result.id for result in results[:3]]


def test_collection_reports_a_failed_record_and_writes_the_others(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    batch = unique("MIX")
    records = [
        {"Name": f"{batch} good", "ExternalId__c": f"{batch}-1"},
        {"Phone": "0100", "ExternalId__c": f"{batch}-2"},  # no Name on create
        {"Name": f"{batch} also good", "ExternalId__c": f"{batch}-3"},
    ]
    results = client.upsert_many("Account", records, "ExternalId__c")
    assert [result.success for result in results] == [True, False, True]
    assert results[1].errors[0].code == "REQUIRED_FIELD_MISSING"
    assert results[1].error_class() is ValidationError


def test_batch_at_the_bulk_threshold_goes_through_bulk_api_with_per_record_failures(
    salesforce_sandbox,
):
    client = make_connector(salesforce_sandbox, bulk_threshold=5, bulk_poll_seconds=0.1).client
    batch = unique("BLK")
    records = [{"Name": f"{batch} {n}", "ExternalId__c": f"{batch}-{n}"} for n in range(6)]
    records[4] = {"Phone": "0100", "ExternalId__c": f"{batch}-4"}  # no Name: fails alone
    jobs_before = len(salesforce_sandbox.emulator.store.all("_bulk_job"))
    results = client.upsert_many("Account", records, "ExternalId__c")
    assert len(salesforce_sandbox.emulator.store.all("_bulk_job")) == jobs_before + 1
    assert [result.key for result in results] == [record["ExternalId__c"] for record in records]
    assert [result.success for result in results] == [True, True, True, True, False, True]
    assert results[4].errors[0].code == "REQUIRED_FIELD_MISSING"
    assert all(result.id.startswith("001") for result in results if result.success)
    assert len(accounts_named(salesforce_sandbox, f"{batch} 5")) == 1


def test_bulk_threshold_defaults_to_2000_records(salesforce_sandbox):
    assert make_connector(salesforce_sandbox).client.bulk_threshold == 2000


# The daily allowance ------------------------------------------------------------------------
def test_nearly_spent_daily_allowance_stops_calls_before_they_are_sent(salesforce_sandbox):
    client = make_connector(salesforce_sandbox).client
    client.api()
    with sandbox_settings(salesforce_sandbox, daily_api_limit=1000, api_usage=960):
        client.query_page("SELECT Id FROM Account LIMIT 1")  # reports 961 of 1000 used
        with pytest.raises(RateLimitedError):
            client.query_page("SELECT Id FROM Account LIMIT 1")
        assert settings_of(salesforce_sandbox)["api_usage"] == 961


def test_request_limit_exceeded_from_salesforce_is_rate_limited(salesforce_sandbox):
    client = make_connector(salesforce_sandbox, allowance_reserve=0).client
    client.api()
    with (
        sandbox_settings(salesforce_sandbox, daily_api_limit=1000, api_usage=1000),
        pytest.raises(RateLimitedError) as raised,
    ):
        client.query_page("SELECT Id FROM Account LIMIT 1")
    assert raised.value.code == "REQUEST_LIMIT_EXCEEDED"
