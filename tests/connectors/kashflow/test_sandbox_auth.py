"""Kashflow sandbox: the two-step session token, KfToken checks, expiry and lockout."""

import time

import pytest

from tests.connectors.kashflow.conftest import (
    KashflowApi,
    answer_positions,
    log_in,
    start_login,
)

INVALID_SESSION = {"Error": "InvalidSessionToken", "Message": "Session token provided is invalid."}


def finish_login(sandbox, temporary_token, answers):
    return sandbox.session().put(
        f"{sandbox.endpoints['base_url']}/sessiontoken",
        json={"TemporaryToken": temporary_token, "MemorableWordList": answers},
        timeout=10,
    )


def test_first_step_asks_for_three_distinct_positions_of_the_memorable_word(kashflow_sandbox):
    response = start_login(kashflow_sandbox)
    assert response.status_code == 200
    body = response.json()
    assert body["TemporaryToken"]
    positions = [item["Position"] for item in body["MemorableWordList"]]
    assert len(set(positions)) == 3
    word = kashflow_sandbox.endpoints["memorable_word"]
    assert all(1 <= position <= len(word) for position in positions)
    assert all(item["Value"] == "" for item in body["MemorableWordList"])
    assert body["SubscriptionExpired"] is False


def test_second_step_with_the_right_characters_returns_a_working_session_token(
    kashflow_sandbox,
):
    first = start_login(kashflow_sandbox).json()
    word = kashflow_sandbox.endpoints["memorable_word"].upper()  # matching ignores case
    second = finish_login(
        kashflow_sandbox,
        first["TemporaryToken"],
        answer_positions(word, first["MemorableWordList"]),
    )
    assert second.status_code == 200
    body = second.json()
    assert {"SessionToken", "CompanyName", "IsAdmin", "SubscriptionExpiryDate"} <= set(body)
    api = KashflowApi(kashflow_sandbox, body["SessionToken"])
    assert api.get("/customers").status_code == 200


def test_lowercase_credential_keys_are_accepted(kashflow_sandbox):
    endpoints = kashflow_sandbox.endpoints
    response = start_login(
        kashflow_sandbox, username=endpoints["username"], password=endpoints["password"]
    )
    assert response.status_code == 200
    assert response.json()["TemporaryToken"]


def test_wrong_password_is_refused(kashflow_sandbox):
    response = start_login(
        kashflow_sandbox, UserName=kashflow_sandbox.endpoints["username"], Password="wrong"
    )
    assert response.status_code == 401
    assert response.json()["Error"] == "InvalidCredentials"
    assert "TemporaryToken" not in response.json()
    log_in(kashflow_sandbox)  # a success clears the failure count for the next tests


def test_wrong_memorable_word_characters_are_refused_and_spend_the_temporary_token(
    kashflow_sandbox,
):
    first = start_login(kashflow_sandbox).json()
    wrong = [{"Position": item["Position"], "Value": "#"} for item in first["MemorableWordList"]]
    refused = finish_login(kashflow_sandbox, first["TemporaryToken"], wrong)
    assert refused.status_code == 401
    assert refused.json()["Error"] == "InvalidCredentials"
    assert "SessionToken" not in refused.json()
    word = kashflow_sandbox.endpoints["memorable_word"]
    retry = finish_login(
        kashflow_sandbox,
        first["TemporaryToken"],
        answer_positions(word, first["MemorableWordList"]),
    )
    assert retry.status_code == 401
    log_in(kashflow_sandbox)


def test_answering_other_positions_than_asked_is_refused(kashflow_sandbox):
    first = start_login(kashflow_sandbox).json()
    word = kashflow_sandbox.endpoints["memorable_word"]
    asked = {item["Position"] for item in first["MemorableWordList"]}
    others = [p for p in range(1, len(word) + 1) if p not in asked][:3]
    answers = [{"Position": p, "Value": word[p - 1]} for p in others]
    assert finish_login(kashflow_sandbox, first["TemporaryToken"], answers).status_code == 401
    log_in(kashflow_sandbox)


def test_an_expired_temporary_token_is_refused(kashflow_sandbox, sandbox_settings):
    sandbox_settings(temporary_token_ttl_s=0.05)
    first = start_login(kashflow_sandbox).json()
    time.sleep(0.1)
    word = kashflow_sandbox.endpoints["memorable_word"]
    response = finish_login(
        kashflow_sandbox,
        first["TemporaryToken"],
        answer_positions(word, first["MemorableWordList"]),
    )
    assert response.status_code == 401
    assert response.json()["Error"] == "InvalidCredentials"


@pytest.mark.parametrize(
    "authorization",
    [None, "KfToken not-a-real-token", "Bearer {token}", "{token}"],
    ids=["missing", "unknown-token", "bearer-scheme", "no-scheme"],
)
def test_calls_without_a_valid_kftoken_get_the_documented_401_body(kashflow_sandbox, authorization):
    token = log_in(kashflow_sandbox)
    session = kashflow_sandbox.session()
    headers = {"Authorization": authorization.format(token=token)} if authorization else {}
    for path in ("/customers", "/invoices/1001", "/products", "/bankaccounts"):
        response = session.get(
            kashflow_sandbox.endpoints["base_url"] + path, headers=headers, timeout=10
        )
        assert response.status_code == 401
        assert response.json() == INVALID_SESSION


def test_an_idle_session_token_expires_with_the_documented_401_body(
    kashflow_sandbox, sandbox_settings
):
    sandbox_settings(session_idle_timeout_s=0.3)
    api = KashflowApi(kashflow_sandbox, log_in(kashflow_sandbox))
    for _ in range(3):  # each call counts as activity and keeps the session alive
        time.sleep(0.15)
        assert api.get("/customers?perpage=1").status_code == 200
    time.sleep(0.4)
    expired = api.get("/customers?perpage=1")
    assert expired.status_code == 401
    assert expired.json() == INVALID_SESSION
    assert api.get("/customers?perpage=1").status_code == 401  # it does not come back


def test_a_session_expiring_mid_listing_fails_the_next_page(kashflow_sandbox, api):
    first_page = api.get("/customers?perpage=5").json()
    kashflow_sandbox.control("sessions/expire")
    second_page = api.get(first_page["MetaData"]["NextPageUrl"])
    assert second_page.status_code == 401
    assert second_page.json() == INVALID_SESSION
    fresh = KashflowApi(kashflow_sandbox, log_in(kashflow_sandbox))
    assert fresh.get(first_page["MetaData"]["NextPageUrl"]).status_code == 200


def test_delete_sessiontoken_ends_the_session_at_once(kashflow_sandbox, api):
    assert api.delete("/sessiontoken").status_code == 204
    response = api.get("/customers")
    assert response.status_code == 401
    assert response.json() == INVALID_SESSION


def test_repeated_failed_logins_lock_the_account(kashflow_sandbox, sandbox_settings):
    sandbox_settings(lockout_after=2)
    username = kashflow_sandbox.endpoints["username"]
    for _ in range(2):
        assert start_login(kashflow_sandbox, UserName=username, Password="nope").status_code == 401
    locked = start_login(kashflow_sandbox)  # even the right password is refused now
    assert locked.status_code == 401
    assert locked.json()["Error"] == "AccountLocked"
    assert locked.json()["Message"].startswith("User ")
    kashflow_sandbox.control("account/unlock")
    assert start_login(kashflow_sandbox).status_code == 200


def test_missing_credentials_are_a_validation_error(kashflow_sandbox):
    response = start_login(kashflow_sandbox, UserName=kashflow_sandbox.endpoints["username"])
    assert response.status_code == 400
    assert response.json()["Error"] == "ValidationError"
