"""Scripted faults on Magento paths: what a client sees for each kind."""

import json
import time

import pytest
import requests

from tests.connectors.magento.conftest import criteria

ORDERS = "^/rest(/[a-z]+)?/V1/orders$"


def test_rate_limit_answers_429_with_retry_after_then_recovers(api, control):
    control(
        "faults",
        {"path_regex": ORDERS, "status": 429, "times": 2, "headers": {"Retry-After": "2"}},
    )
    for _ in range(2):
        response = api.get("/V1/orders", params=criteria(page_size=1))
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "2"
        assert response.json() == {"message": "Too Many Requests"}
    assert api.get("/V1/orders", params=criteria(page_size=1)).status_code == 200


def test_server_error_is_magentos_masked_report(api, control):
    control("faults", {"path_regex": ORDERS, "status": 500})
    response = api.get("/V1/orders", params=criteria(page_size=1))
    assert response.status_code == 500
    message = response.json()["message"]
    assert message.startswith("Internal Error. Details are available in Magento log file.")
    assert "Report ID: webapi-" in message


def test_gateway_errors_are_html_pages(api, control):
    control("faults", {"path_regex": ORDERS, "status": 503})
    response = api.get("/V1/orders", params=criteria(page_size=1))
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_fatal_error_shape_can_be_scripted(api, control):
    fatal = {"messages": {"error": [{"code": 500, "message": "Server internal error."}]}}
    control("faults", {"path_regex": ORDERS, "status": 500, "body": fatal})
    assert api.get("/V1/orders", params=criteria(page_size=1)).json() == fatal


def test_slow_response_trips_the_client_timeout(api, control):
    control("faults", {"path_regex": ORDERS, "delay_s": 1.0})
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get("/V1/orders", params=criteria(page_size=1), timeout=(5, 0.3))
    assert time.monotonic() - started < 0.9
    time.sleep(0.8)  # let the delayed answer go by before the next test uses the sandbox


def test_dropped_connection_then_normal_service(api, control):
    control("faults", {"path_regex": ORDERS, "drop": True})
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/V1/orders", params=criteria(page_size=1))
    assert api.get("/V1/orders", params=criteria(page_size=1)).status_code == 200


def test_malformed_body(api, control):
    control("faults", {"path_regex": ORDERS, "status": 200, "body": '{"items": [{"entity_id": 1'})
    response = api.get("/V1/orders", params=criteria(page_size=1))
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_faults_match_store_code_paths_too(api, control):
    control("faults", {"path_regex": ORDERS, "status": 502})
    assert api.get("/default/V1/orders", params=criteria(page_size=1)).status_code == 502
