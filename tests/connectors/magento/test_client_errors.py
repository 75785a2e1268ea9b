"""Magento error bodies → the exception tree, one case per status and shape (HTTP stubbed)."""

from __future__ import annotations

import json

import pytest
import responses

from connectors.errors import (
    AuthError,
    DuplicateError,
    NotFoundError,
    TransientError,
    ValidationError,
)
from connectors.http import HttpPolicy, ResilientSession
from connectors.magento.client import MagentoClient, forget_tokens
from connectors.magento.errors import fill_placeholders
from connectors.models import Connection

ROOT = "https://shop.example/rest/default/V1"


@pytest.fixture
def client(db):
    forget_tokens()
    connection = Connection(
        name="magento-stub", kind="magento", base_url="https://shop.example/rest", username="hub"
    )
    connection.set_secret("password", "s3cret")
    session = ResilientSession(
        connection.name, policy=HttpPolicy(max_attempts=3), sleep=lambda seconds: None
    )
    with responses.RequestsMock() as mocked:
        mocked.post(f"{ROOT}/integration/admin/token", json="token-1")
        yield MagentoClient(connection, session), mocked
    forget_tokens()


def answer(mocked, status: int, body, path: str = "/customers/7") -> None:
    if isinstance(body, str):
        mocked.get(f"{ROOT}{path}", status=status, body=body, content_type="text/html")
    else:
        mocked.get(f"{ROOT}{path}", status=status, json=body)


def test_named_placeholders_are_filled_from_parameters():
    message = "No such entity with %fieldName = %fieldValue"
    filled = fill_placeholders(message, {"fieldName": "email", "fieldValue": "a@b.c"})
    assert filled == "No such entity with email = a@b.c"


def test_positional_placeholders_are_filled_in_order_even_past_nine():
    message = " ".join(f"%{n}" for n in range(1, 12))
    assert fill_placeholders(message, [str(n) for n in range(1, 12)]).endswith("10 11")


def test_400_duplicate_email_is_a_duplicate_error(client):
    api, mocked = client
    answer(mocked, 400, {"message": "A customer with the same email address already exists."})
    with pytest.raises(DuplicateError):
        api.get_customer(7)


def test_400_duplicate_url_key_is_a_duplicate_error(client):
    api, mocked = client
    answer(mocked, 400, {"message": "URL key for specified store already exists."})
    with pytest.raises(DuplicateError):
        api.get_customer(7)


def test_400_required_field_is_a_validation_error_with_the_message_filled(client):
    api, mocked = client
    body = {"message": '"%fieldName" is required.', "parameters": {"fieldName": "lastname"}}
    answer(mocked, 400, body)
    with pytest.raises(ValidationError) as raised:
        api.get_customer(7)
    assert raised.value.system_message == '"lastname" is required.'


def test_400_aggregate_errors_list_every_message(client):
    api, mocked = client
    body = {
        "message": "Validation Failed",
        "errors": [{"message": '"%field" can not be empty.', "parameters": ["sku"]}],
    }
    answer(mocked, 400, body)
    with pytest.raises(ValidationError) as raised:
        api.get_customer(7)
    assert raised.value.system_message == 'Validation Failed\n"sku" can not be empty.'


def test_404_is_not_found(client):
    api, mocked = client
    answer(mocked, 404, {"message": "Request does not match any route."})
    with pytest.raises(NotFoundError):
        api.get_customer(7)


def test_fatal_messages_shape_is_read_and_500_is_transient(client):
    api, mocked = client
    body = {"messages": {"error": [{"code": 500, "message": "Server internal error."}]}}
    for _ in range(3):
        answer(mocked, 500, body)
    with pytest.raises(TransientError) as raised:
        api.get_customer(7)
    assert "500" in str(raised.value)


def test_html_gateway_page_is_retried_then_succeeds(client):
    api, mocked = client
    answer(mocked, 502, "<html><body>Bad Gateway</body></html>")
    answer(mocked, 200, {"id": 7, "email": "x@example.com"})
    assert api.get_customer(7)["id"] == 7


def test_401_reauthenticates_once_and_repeats_the_call(client):
    api, mocked = client
    answer(mocked, 401, {"message": "The consumer isn't authorized to access %resources."})
    answer(mocked, 200, {"id": 7})
    assert api.get_customer(7) == {"id": 7}
    token_calls = [call for call in mocked.calls if call.request.url.endswith("/admin/token")]
    assert len(token_calls) == 2
    assert mocked.calls[-1].request.headers["Authorization"] == "Bearer token-1"


def test_token_call_sends_the_credentials_as_json(client):
    api, mocked = client
    answer(mocked, 200, {"id": 7})
    api.get_customer(7)
    sent = json.loads(mocked.calls[0].request.body)
    assert sent == {"username": "hub", "password": "s3cret"}


def test_bad_credentials_are_an_auth_error(db):
    forget_tokens()
    connection = Connection(
        name="magento-bad", kind="magento", base_url="https://shop.example/rest", username="hub"
    )
    session = ResilientSession(connection.name, sleep=lambda seconds: None)
    with responses.RequestsMock() as mocked:
        mocked.post(
            f"{ROOT}/integration/admin/token",
            status=401,
            json={"message": "The account sign-in was incorrect."},
        )
        with pytest.raises(AuthError):
            MagentoClient(connection, session).get_customer(7)
        assert len(mocked.calls) == 1
