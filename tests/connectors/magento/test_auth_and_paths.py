"""Admin tokens, Bearer auth, the 401 bodies, store-code paths and unknown routes."""

import time

import pytest

from tests.connectors.magento.conftest import MagentoApi


def token_response(sandbox, username, password):
    return sandbox.session().post(
        f"{sandbox.endpoints['base_url']}/V1/integration/admin/token",
        json={"username": username, "password": password},
        timeout=10,
    )


def test_endpoints_describe_the_sandbox_exactly(magento_sandbox):
    endpoints = magento_sandbox.endpoints
    assert set(endpoints) == {
        "base_url",
        "username",
        "password",
        "webhook_public_key",
        "control_url",
    }
    assert endpoints["base_url"].startswith("https://") and endpoints["base_url"].endswith("/rest")
    assert endpoints["webhook_public_key"].startswith("-----BEGIN PUBLIC KEY-----")


def test_admin_token_is_a_json_string_literal_usable_as_bearer(magento_sandbox):
    endpoints = magento_sandbox.endpoints
    response = token_response(magento_sandbox, endpoints["username"], endpoints["password"])
    assert response.status_code == 200
    assert response.text.startswith('"') and response.text.endswith('"')
    token = response.json()
    assert len(token) == 32 and token.isalnum()
    orders = magento_sandbox.session().get(
        f"{endpoints['base_url']}/V1/orders",
        params={"searchCriteria[pageSize]": "1"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert orders.status_code == 200


def test_wrong_password_gets_the_sign_in_incorrect_401(magento_sandbox):
    response = token_response(magento_sandbox, "admin", "not-the-password")
    assert response.status_code == 401
    assert response.json() == {
        "message": "The account sign-in was incorrect or your account is disabled temporarily. "
        "Please wait and try again later."
    }


@pytest.mark.parametrize("authorization", [None, "Bearer nosuchtoken", "Basic YWRtaW46eA=="])
def test_missing_or_unknown_token_gets_the_consumer_not_authorized_401(
    magento_sandbox, authorization
):
    headers = {"Authorization": authorization} if authorization else {}
    response = magento_sandbox.session().get(
        f"{magento_sandbox.endpoints['base_url']}/V1/orders",
        params={"searchCriteria[pageSize]": "1"},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json() == {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": "Magento_Sales::actions_view"},
    }


def test_token_expires_after_the_configured_lifetime(magento_sandbox, control):
    assert control("config", {"admin_token_lifetime_s": 1}).status_code == 200
    try:
        api = MagentoApi(magento_sandbox)
        assert api.get("/V1/customers/search", params={"searchCriteria": ""}).status_code == 200
        time.sleep(1.2)
        expired = api.get("/V1/customers/search", params={"searchCriteria": ""})
        assert expired.status_code == 401
        assert expired.json()["message"] == "The consumer isn't authorized to access %resources."
        assert (
            MagentoApi(magento_sandbox)
            .get("/V1/customers/search", params={"searchCriteria": ""})
            .ok
        ), "a fresh token works again"
    finally:
        control("config", {"admin_token_lifetime_s": 4 * 3600})


def test_two_factor_mode_refuses_the_plain_token_call(magento_sandbox, control):
    control("config", {"two_factor_auth": True})
    try:
        endpoints = magento_sandbox.endpoints
        response = token_response(magento_sandbox, endpoints["username"], endpoints["password"])
        assert response.status_code == 401
        assert "2fa provider-specific endpoints" in response.json()["message"]
    finally:
        control("config", {"two_factor_auth": False})


@pytest.mark.parametrize("store_path", ["/V1", "/default/V1", "/all/V1"])
def test_store_code_paths_reach_the_same_store(api, store_path):
    product = api.create_product()
    response = api.get(f"{store_path}/products/{product['sku']}")
    assert response.status_code == 200
    assert response.json()["id"] == product["id"]


def test_unknown_store_code_is_a_400(api):
    response = api.get("/nostore/V1/products", params={"searchCriteria": ""})
    assert response.status_code == 400
    assert response.json()["message"].startswith("The store that was requested wasn't found")


def test_unknown_route_answers_magentos_no_route_message(api):
    response = api.get("/V1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"message": "Request does not match any route."}


def test_a_body_that_is_not_json_is_a_decoding_error(api):
    response = api.request(
        "POST",
        "/V1/customers",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Decoding error."}
