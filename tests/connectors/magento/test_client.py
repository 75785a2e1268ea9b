"""MagentoClient against the Magento sandbox over HTTPS: tokens, paging, faults, errors."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from connectors.errors import AuthError, DuplicateError, NotFoundError, ValidationError
from connectors.magento.client import forget_tokens
from connectors.magento.connector import MagentoConnector
from connectors.magento.sandbox.common import SIGN_IN_INCORRECT
from connectors.transforms import parse_datetime
from tests.conftest import connection_for

FAST_RETRIES = {
    "rate_per_second": 1000,
    "burst": 1000,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
    "page_size": 10,
}


def email() -> str:
    return f"client-{uuid.uuid4().hex[:10]}@example.com"


def new_customer(address: bool = True) -> dict:
    payload = {"email": email(), "firstname": "Ada", "lastname": "Lovelace", "website_id": 1}
    if address:
        payload["addresses"] = [
            {
                "firstname": "Ada",
                "lastname": "Lovelace",
                "street": ["12 St James's Square"],
                "city": "London",
                "region": "London",
                "postcode": "SW1Y 4JH",
                "country_id": "GB",
                "telephone": "020 7946 0000",
            }
        ]
    return payload


@pytest.fixture
def sandbox(magento_sandbox):
    """The Magento sandbox, left without faults and with its normal token lifetime."""
    forget_tokens()
    yield magento_sandbox
    session = magento_sandbox.session()
    session.delete(f"{magento_sandbox.endpoints['control_url']}/faults", timeout=10)
    magento_sandbox.control("config", {"admin_token_lifetime_s": 4 * 3600, "input_limits": True})
    forget_tokens()


@pytest.fixture
def make_connector(sandbox, db):
    def make(**options) -> MagentoConnector:
        connection = connection_for(sandbox, name=f"magento-{uuid.uuid4().hex[:6]}")
        connection.options.update(FAST_RETRIES, **options)
        connection.save()
        return MagentoConnector(connection)

    return make


@pytest.fixture
def client(make_connector):
    return make_connector().client


def fault(sandbox, **spec) -> None:
    sandbox.control("faults", spec)


def tokens_issued(sandbox) -> int:
    return sandbox.emulator.store.count("admin_token")


def stored_customer_ids(sandbox) -> list[int]:
    return [customer["id"] for customer in sandbox.emulator.store.all("customer")]


# Tokens -----------------------------------------------------------------------------------
def test_admin_token_is_fetched_once_and_reused_by_every_client_of_the_connection(
    sandbox, make_connector
):
    connector = make_connector()
    before = tokens_issued(sandbox)
    connector.client.get_customer(stored_customer_ids(sandbox)[0])
    list(connector.client.iter_products())
    MagentoConnector(connector.connection).client.get_product(
        sandbox.emulator.store.all("product")[0]["sku"]
    )
    assert tokens_issued(sandbox) == before + 1


def test_expired_token_mid_listing_reauthenticates_once_and_the_listing_completes(sandbox, client):
    listing = client.iter_customers()
    first_page = [next(listing) for _ in range(10)]
    before = tokens_issued(sandbox)
    time.sleep(1.2)  # older than the lifetime set next, so the current token has expired
    sandbox.control("config", {"admin_token_lifetime_s": 1})
    rest = list(listing)
    ids = [customer["id"] for customer in first_page + rest]
    assert sorted(ids) == sorted(stored_customer_ids(sandbox))
    assert len(ids) == len(set(ids))
    assert tokens_issued(sandbox) == before + 1


def test_a_second_401_after_reauthenticating_is_an_auth_error(sandbox, client):
    fault(sandbox, path_regex="/V1/customers/search", status=401, times=2)
    with pytest.raises(AuthError) as raised:
        list(client.iter_customers())
    assert "isn't authorized to access Magento_Backend::admin" in str(raised.value)


def test_wrong_password_is_an_auth_error_with_magentos_message(sandbox, make_connector):
    connector = make_connector()
    connector.connection.set_secret("password", "not-the-password")
    connector.connection.save()
    with pytest.raises(AuthError) as raised:
        connector.client.get_customer(1)
    assert "sign-in was incorrect" in raised.value.system_message


def test_refused_credentials_are_not_retried(sandbox, client):
    # One refusal is scripted; a client that retried would get a token on its second try.
    fault(
        sandbox,
        path_regex="/integration/admin/token",
        status=401,
        times=1,
        body={"message": SIGN_IN_INCORRECT},
    )
    with pytest.raises(AuthError):
        client.get_customer(1)
    assert client.get_customer(stored_customer_ids(sandbox)[0])["id"]


# Paging -----------------------------------------------------------------------------------
def test_listing_yields_every_customer_exactly_once_despite_the_last_page_repeat(sandbox, client):
    ids = [customer["id"] for customer in client.iter_customers()]
    assert len(ids) == sandbox.emulator.store.count("customer")
    assert sorted(ids) == sorted(stored_customer_ids(sandbox))
    assert len(ids) == len(set(ids))


def test_numbered_paging_stops_at_total_count_although_past_pages_repeat(sandbox, client):
    # Source items have no id to page by, so they use page numbers and the total_count guard.
    items = list(client.iter_source_items())
    keys = [(item["sku"], item["source_code"]) for item in items]
    assert len(keys) == len(set(keys)) == sandbox.emulator.store.count("source_item")


def test_customer_created_during_the_listing_is_neither_skipped_nor_repeated(sandbox, client):
    existing = stored_customer_ids(sandbox)
    listing = client.iter_customers()
    seen = [next(listing)["id"] for _ in range(15)]
    created = client.create_customer(new_customer())
    seen += [customer["id"] for customer in listing]
    assert len(seen) == len(set(seen))
    assert set(existing) <= set(seen)
    assert created["id"] in seen


def test_changed_since_returns_only_records_updated_at_or_after_it(sandbox, client):
    stamps = sorted(
        parse_datetime(customer["updated_at"])
        for customer in sandbox.emulator.store.all("customer")
    )
    since = stamps[len(stamps) // 2]
    expected = {
        customer["id"]
        for customer in sandbox.emulator.store.all("customer")
        if parse_datetime(customer["updated_at"]) >= since
    }
    found = [customer["id"] for customer in client.iter_customers(since)]
    assert sorted(found) == sorted(expected)
    assert 0 < len(found) < len(stamps)


def test_nothing_changed_since_now_means_an_empty_listing(client):
    assert list(client.iter_customers(datetime.now(UTC) + timedelta(minutes=1))) == []


# Faults -----------------------------------------------------------------------------------
def test_reads_are_retried_through_429_and_503(sandbox, client):
    fault(
        sandbox,
        path_regex="/V1/customers/search",
        status=429,
        times=2,
        headers={"Retry-After": "0"},
    )
    fault(sandbox, path_regex="/V1/products", status=503, times=1)
    customers = list(client.iter_customers())
    products = list(client.iter_products())
    assert len(customers) == sandbox.emulator.store.count("customer")
    assert len(products) == sandbox.emulator.store.count("product")


def test_a_create_whose_response_is_lost_does_not_duplicate_the_customer(sandbox, make_connector):
    client = make_connector(read_timeout=0.4).client
    payload = new_customer()
    fault(sandbox, path_regex="/V1/customers$", method="POST", delay_s=1.0, times=1)
    created = client.create_customer(payload)
    time.sleep(1.0)  # let the delayed request finish on the server, too
    same_email = [
        customer
        for customer in sandbox.emulator.store.all("customer")
        if customer["email"] == payload["email"]
    ]
    assert [customer["id"] for customer in same_email] == [created["id"]]


# Errors -----------------------------------------------------------------------------------
def test_duplicate_email_is_a_duplicate_error_with_magentos_message(client):
    payload = new_customer()
    client.create_customer(payload)
    with pytest.raises(DuplicateError) as raised:
        client.create_customer(payload)
    assert raised.value.system_message == (
        "A customer with the same email address already exists in an associated website."
    )


def test_unknown_customer_is_not_found_with_the_placeholders_filled(client):
    with pytest.raises(NotFoundError) as raised:
        client.get_customer(987654)
    assert raised.value.system_message == "No such entity with customerId = 987654"


def test_unknown_product_and_order_are_not_found(client):
    with pytest.raises(NotFoundError):
        client.get_product("NO-SUCH-SKU")
    with pytest.raises(NotFoundError):
        client.get_order(987654)
    assert client.find_order_by_increment_id("999999999") is None


def test_missing_required_field_is_a_validation_error_that_is_not_retried(client):
    payload = new_customer()
    del payload["firstname"]
    with pytest.raises(ValidationError) as raised:
        client.create_customer(payload)
    assert raised.value.system_message == '"firstname" is required. Enter and try again.'
    assert client.find_customer_by_email(payload["email"]) is None


def test_store_code_comes_from_the_connection_options(make_connector):
    assert make_connector(store_code="all").client.get_customer(1)["id"] == 1
    with pytest.raises(ValidationError) as raised:
        make_connector(store_code="nowhere").client.get_customer(1)
    assert "store that was requested wasn't found" in raised.value.system_message


# Writes -----------------------------------------------------------------------------------
def test_find_customer_by_email_ignores_case(client):
    created = client.create_customer(new_customer())
    found = client.find_customer_by_email(created["email"].upper())
    assert found is not None and found["id"] == created["id"]


def test_update_customer_changes_the_stored_record(sandbox, client):
    created = client.create_customer(new_customer())
    client.update_customer(created["id"], {"email": created["email"], "lastname": "Byron"})
    assert sandbox.emulator.store.get("customer", str(created["id"]))["lastname"] == "Byron"


def test_upsert_product_creates_then_updates_by_sku(client):
    sku = f"UPS-{uuid.uuid4().hex[:6]}"
    client.upsert_product(sku, {"name": f"Widget {sku}", "price": 12.5})
    client.upsert_product(sku, {"name": f"Widget {sku}", "price": 13.75})
    assert str(client.get_product(sku)["price"]) == "13.75"


def test_more_source_items_than_the_input_limit_are_sent_in_chunks(sandbox, client):
    skus = [product["sku"] for product in sandbox.emulator.store.all("product")][:20]
    for number in range(25 - len(skus)):  # 25 items: more than the 20-item input limit
        sku = f"CHUNK-{uuid.uuid4().hex[:6]}-{number}"
        client.upsert_product(sku, {"name": f"Chunk {sku}", "price": 1})
        skus.append(sku)
    items = [
        {"sku": sku, "source_code": "default", "quantity": 100 + n, "status": 1}
        for n, sku in enumerate(skus)
    ]
    assert client.set_source_items(items) == 2
    stored = {item["sku"]: item["quantity"] for item in client.iter_source_items(skus)}
    assert stored == {sku: 100 + n for n, sku in enumerate(skus)}
