"""KashflowClient over real HTTPS against the Kashflow sandbox: login, paging, faults, errors."""

import time
from decimal import Decimal

import pytest
import requests

from connectors.errors import (
    AuthError,
    DuplicateError,
    NotFoundError,
    TransientError,
    ValidationError,
)
from connectors.kashflow.client import KashflowClient, describe_error, dumps_json
from connectors.kashflow.connector import KashflowConnector
from tests.conftest import connection_for
from tests.connectors.kashflow.conftest import unique

pytestmark = pytest.mark.django_db


def make_client(sandbox, **options) -> KashflowClient:
    """A client of a connection of its own (so its token cache starts empty)."""
    connection = connection_for(sandbox, name=unique("kf-client-"))
    connection.options.update(options)
    connection.save()
    return KashflowConnector(connection).client


def stored(sandbox, kind: str) -> list[dict]:
    return sandbox.emulator.store.all(kind)


def a_seeded_code(sandbox) -> str:
    return min(customer["Code"] for customer in stored(sandbox, "customer"))


@pytest.fixture
def fault(kashflow_sandbox):
    """Schedules sandbox faults; clears what is left afterwards."""

    def schedule(path_regex: str, **spec) -> None:
        kashflow_sandbox.control("faults", {"path_regex": path_regex, **spec})

    yield schedule
    kashflow_sandbox.session().delete(
        f"{kashflow_sandbox.endpoints['control_url']}/faults", timeout=10
    )


# Session token ------------------------------------------------------------------------------
def test_one_login_serves_every_client_of_the_connection(kashflow_sandbox):
    sessions = kashflow_sandbox.emulator.auth.sessions
    connection = connection_for(kashflow_sandbox, name=unique("kf-reuse-"))
    before = len(sessions)
    first = KashflowConnector(connection).client
    code = next(first.iter_customers())["Code"]
    second = KashflowConnector(connection).client
    assert second.get_customer(code)["Code"] == code
    assert first.get_customer(code)["Code"] == code
    assert len(sessions) == before + 1


def test_expired_token_mid_listing_logs_in_once_and_lists_every_customer_once(
    kashflow_sandbox,
):
    client = make_client(kashflow_sandbox, kashflow_per_page=10)
    expected = sorted(customer["Code"] for customer in stored(kashflow_sandbox, "customer"))
    codes = []
    for customer in client.iter_customers():
        codes.append(customer["Code"])
        if len(codes) == 15:  # page 2 of 10-record pages is being read
            kashflow_sandbox.control("sessions/expire")
    assert codes == expected
    assert len(kashflow_sandbox.emulator.auth.sessions) == 1  # exactly one new login


def test_a_second_401_after_logging_in_again_is_an_auth_error(kashflow_sandbox, fault):
    client = make_client(kashflow_sandbox)
    code = a_seeded_code(kashflow_sandbox)
    fault(rf"^/v2/customers/{code}$", status=401, times=2)
    with pytest.raises(AuthError) as raised:
        client.get_customer(code)
    assert raised.value.status == 401
    assert raised.value.code == "InvalidSessionToken"
    assert client.get_customer(code)["Code"] == code  # nothing stuck: the next call works


def test_one_401_is_answered_by_logging_in_again(kashflow_sandbox, fault):
    client = make_client(kashflow_sandbox)
    code = a_seeded_code(kashflow_sandbox)
    fault(rf"^/v2/customers/{code}$", status=401, times=1)
    assert client.get_customer(code)["Code"] == code


def test_wrong_memorable_word_is_an_auth_error_tried_only_once(kashflow_sandbox):
    connection = connection_for(kashflow_sandbox, name=unique("kf-badword-"))
    connection.set_secret("memorable_word", "x" * 12)
    connection.save()
    auth = kashflow_sandbox.emulator.auth
    failures_before = auth.failures
    try:
        with pytest.raises(AuthError) as raised:
            KashflowConnector(connection).client.get_customer("ACM01")
        assert raised.value.code == "InvalidCredentials"
        assert "memorable word" in raised.value.system_message
        assert "x" * 12 not in str(raised.value)
        assert auth.failures == failures_before + 1  # no blind retry towards AccountLocked
    finally:
        kashflow_sandbox.control("account/unlock")


# Resilience ---------------------------------------------------------------------------------
def test_rate_limited_read_waits_for_retry_after_then_succeeds(kashflow_sandbox, fault):
    client = make_client(kashflow_sandbox)
    code = a_seeded_code(kashflow_sandbox)
    client.token()
    fault(rf"^/v2/customers/{code}$", status=429, times=2, headers={"Retry-After": "1"})
    started = time.monotonic()
    assert client.get_customer(code)["Code"] == code
    assert time.monotonic() - started >= 2.0


def test_unavailable_read_is_retried(kashflow_sandbox, fault):
    client = make_client(kashflow_sandbox)
    code = a_seeded_code(kashflow_sandbox)
    fault(rf"^/v2/customers/{code}$", status=503, times=2)
    assert client.get_customer(code)["Code"] == code


def test_dropped_connection_mid_listing_is_retried_without_repeats(kashflow_sandbox, fault):
    client = make_client(kashflow_sandbox, kashflow_per_page=25)
    fault(r"^/v2/customers$", drop=True)
    codes = [customer["Code"] for customer in client.iter_customers()]
    assert len(codes) == len(set(codes)) == len(stored(kashflow_sandbox, "customer"))


def test_truncated_body_is_a_transient_error(kashflow_sandbox, fault):
    client = make_client(kashflow_sandbox)
    code = a_seeded_code(kashflow_sandbox)
    fault(rf"^/v2/customers/{code}$", status=200, body='{"Code": "AC')
    with pytest.raises(TransientError):
        client.get_customer(code)


def test_create_whose_answer_is_lost_is_found_by_code_not_created_twice(kashflow_sandbox, fault):
    client = make_client(kashflow_sandbox, read_timeout=0.5)
    client.token()
    code = unique("LOST")
    # The create commits after the client gave up; the first lookup meets a short outage,
    # so by the time it is answered the lost create is in Kashflow.
    fault(r"^/v2/customers$", method="POST", delay_s=1.0)
    fault(rf"^/v2/customers/{code}$", method="GET", status=503, headers={"Retry-After": "1.5"})
    created = client.create_customer({"Code": code, "Name": "Lost Answer Ltd"})
    assert created["Code"] == code
    assert [c["Name"] for c in stored(kashflow_sandbox, "customer") if c["Code"] == code] == [
        "Lost Answer Ltd"
    ]


# Errors -------------------------------------------------------------------------------------
def test_duplicate_code_is_a_duplicate_error_with_kashflows_message(kashflow_sandbox):
    client = make_client(kashflow_sandbox)
    code = a_seeded_code(kashflow_sandbox)
    with pytest.raises(DuplicateError) as raised:
        client.create_customer({"Code": code, "Name": "Second Of Its Code Ltd"})
    assert raised.value.code == "DuplicateCustomerCode"
    assert raised.value.system_message == "Customer code already exists."


def test_unknown_code_or_number_is_not_found(kashflow_sandbox):
    client = make_client(kashflow_sandbox)
    with pytest.raises(NotFoundError):
        client.get_customer("NOSUCH999")
    with pytest.raises(NotFoundError):
        client.get_product("NO-SUCH-SKU")
    assert client.find_customer("NOSUCH999") is None
    assert client.find_invoice(999_999_999) is None


def test_rejected_customer_is_a_validation_error_with_kashflows_message(kashflow_sandbox):
    client = make_client(kashflow_sandbox)
    code = unique("VAL")
    with pytest.raises(ValidationError) as raised:
        client.create_customer({"Code": code, "Name": ""})
    assert raised.value.system_message == "Name is required."
    assert client.find_customer(code) is None


@pytest.mark.parametrize(
    ("resource", "natural_key"),
    [("customers", "Code"), ("products", "Code"), ("invoices", "Number")],
)
def test_every_list_yields_each_record_once_in_natural_key_order(
    kashflow_sandbox, resource, natural_key
):
    client = make_client(kashflow_sandbox, kashflow_per_page=7)
    kind = resource.removesuffix("s")
    expected = sorted(record[natural_key] for record in stored(kashflow_sandbox, kind))
    listed = [record[natural_key] for record in getattr(client, f"iter_{resource}")()]
    assert listed == expected


# Without HTTP -------------------------------------------------------------------------------
def test_decimals_are_sent_as_exact_json_numbers():
    body = dumps_json({"Amount": Decimal("0.1"), "Rate": Decimal("46.1000"), "Q": [Decimal("2")]})
    assert body == b'{"Amount":0.1,"Rate":46.1000,"Q":[2]}'


def _response(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    return response


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("DuplicateCustomerCode", DuplicateError),
        ("DuplicateInvoiceNumber", DuplicateError),
        ("DuplicateSomethingNew", DuplicateError),
        ("NotFound", NotFoundError),
        ("ValidationError", ValidationError),
        ("InvalidSessionToken", AuthError),
        ("AccountLocked", AuthError),
        ("SomethingElse", None),
    ],
)
def test_kashflow_error_codes_map_to_the_exception_tree(error, expected):
    response = _response(400, f'{{"Error": "{error}", "Message": "Because."}}'.encode())
    assert describe_error(response) == ("Because.", error, expected)


def test_error_body_that_is_not_kashflows_shape_leaves_the_status_to_decide():
    assert describe_error(_response(502, b"<html>Bad gateway</html>")) == ("", "", None)
    assert describe_error(_response(200, b'[{"Code": "X"}]')) == ("", "", None)
