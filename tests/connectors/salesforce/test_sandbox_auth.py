"""Salesforce sandbox OAuth: client credentials, password and JWT bearer grants; session expiry."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce, SalesforceExpiredSession

from tests.connectors.salesforce.test_sandbox_support import API, connect, raw, token_for


def _token_request(sandbox, **form):
    return sandbox.session().post(
        f"{sandbox.endpoints['login_url']}/services/oauth2/token", data=form, timeout=30
    )


def _assertion(sandbox, key_pem: bytes, **overrides) -> str:
    endpoints = sandbox.endpoints
    claims = {
        "iss": endpoints["client_id"],
        "sub": endpoints["username"],
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
        **overrides,
    }
    return jwt.encode(claims, key_pem, algorithm="RS256")


def test_endpoints_describe_how_to_log_in(salesforce_sandbox):
    endpoints = salesforce_sandbox.endpoints
    assert endpoints["api_version"] == "59.0"
    assert endpoints["login_url"].startswith("https://")
    assert endpoints["control_url"].endswith("/__sandbox__")
    for key in ("client_id", "client_secret", "username", "password", "jwt_private_key_path"):
        assert endpoints[key]


def test_client_credentials_login_returns_a_token_simple_salesforce_can_use(salesforce_sandbox):
    token = token_for(salesforce_sandbox)
    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == salesforce_sandbox.endpoints["login_url"]
    assert token["id"].startswith(token["instance_url"] + "/id/00D")
    assert token["issued_at"].isdigit() and token["signature"]
    sf = Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=salesforce_sandbox.session(),
    )
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] > 0


def test_wrong_client_secret_is_refused_with_the_oauth_error_body(salesforce_sandbox):
    endpoints = salesforce_sandbox.endpoints
    response = salesforce_sandbox.session().post(
        f"{endpoints['login_url']}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(endpoints["client_id"], "not-the-secret"),
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }


def test_password_grant_checks_the_password(salesforce_sandbox):
    endpoints = salesforce_sandbox.endpoints
    form = {
        "grant_type": "password",
        "client_id": endpoints["client_id"],
        "client_secret": endpoints["client_secret"],
        "username": endpoints["username"],
    }
    assert _token_request(salesforce_sandbox, **form, password=endpoints["password"]).ok
    refused = _token_request(salesforce_sandbox, **form, password="wrong")
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": "authentication failure",
    }
    unknown = _token_request(salesforce_sandbox, grant_type="authorization_code")
    assert unknown.json()["error"] == "unsupported_grant_type"


def test_jwt_bearer_grant_accepts_a_token_signed_with_the_registered_key(salesforce_sandbox):
    with open(salesforce_sandbox.endpoints["jwt_private_key_path"], "rb") as handle:
        key_pem = handle.read()
    response = _token_request(
        salesforce_sandbox,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(salesforce_sandbox, key_pem),
    )
    assert response.status_code == 200, response.text
    token = response.json()
    sf = Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=salesforce_sandbox.session(),
    )
    assert "sobjects" in sf.describe()


def test_jwt_bearer_grant_refuses_another_key_and_an_expired_assertion(salesforce_sandbox):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    forged = _token_request(
        salesforce_sandbox, grant_type=grant, assertion=_assertion(salesforce_sandbox, other)
    )
    assert forged.status_code == 400
    assert forged.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}
    with open(salesforce_sandbox.endpoints["jwt_private_key_path"], "rb") as handle:
        key_pem = handle.read()
    stale = _assertion(salesforce_sandbox, key_pem, exp=int(time.time()) - 10)
    expired = _token_request(salesforce_sandbox, grant_type=grant, assertion=stale)
    assert expired.status_code == 400
    assert expired.json()["error"] == "invalid_grant"


def test_expired_session_raises_salesforce_expired_session(salesforce_sandbox):
    sf = connect(salesforce_sandbox)
    assert sf.query("SELECT Id FROM Account LIMIT 1")["done"] is True
    salesforce_sandbox.control("sessions/expire", {"access_token": sf.session_id})
    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert raised.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_idle_sessions_expire_after_the_configured_lifetime(salesforce_sandbox):
    session = raw(salesforce_sandbox)
    url = f"{salesforce_sandbox.endpoints['login_url']}{API}/limits"
    assert session.get(url, timeout=30).status_code == 200
    salesforce_sandbox.control("settings", {"session_lifetime_s": 0.2})
    try:
        time.sleep(0.3)
        response = session.get(url, timeout=30)
    finally:
        salesforce_sandbox.control("settings", {"session_lifetime_s": 7200})
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_requests_without_a_token_get_the_401_list_body(salesforce_sandbox):
    url = f"{salesforce_sandbox.endpoints['login_url']}{API}/sobjects"
    response = salesforce_sandbox.session().get(url, timeout=30)
    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_soap_login_returns_a_session_id_and_server_url(salesforce_sandbox):
    endpoints = salesforce_sandbox.endpoints
    envelope = (
        '<?xml version="1.0" encoding="utf-8" ?><env:Envelope'
        ' xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:urn="urn:partner.soap.sforce.com"><env:Body><n1:login'
        ' xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{user}</n1:username>'
        "<n1:password>{password}</n1:password></n1:login></env:Body></env:Envelope>"
    )
    url = f"{endpoints['login_url']}/services/Soap/u/59.0"
    headers = {"content-type": "text/xml", "SOAPAction": "login"}
    ok = salesforce_sandbox.session().post(
        url,
        data=envelope.format(user=endpoints["username"], password=endpoints["password"]),
        headers=headers,
        timeout=30,
    )
    assert ok.status_code == 200
    session_id = ok.text.split("<sessionId>")[1].split("</sessionId>")[0]
    sf = Salesforce(
        instance_url=endpoints["login_url"],
        session_id=session_id,
        session=salesforce_sandbox.session(),
    )
    assert sf.limits()["DailyApiRequests"]["Max"] > 0
    refused = salesforce_sandbox.session().post(
        url,
        data=envelope.format(user=endpoints["username"], password="wrong"),
        headers=headers,
        timeout=30,
    )
    assert refused.status_code == 500 and "INVALID_LOGIN" in refused.text
