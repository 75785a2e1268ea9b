"""Kashflow sandbox: each scripted fault kind against a real Kashflow path."""

import json
import time

import pytest
import requests

CUSTOMERS = r"^/v2/customers$"


@pytest.fixture
def fault(kashflow_sandbox):
    """Schedules faults; clears whatever is left afterwards so other tests are not hit."""

    def schedule(**spec):
        kashflow_sandbox.control("faults", {"path_regex": CUSTOMERS, **spec})

    yield schedule
    kashflow_sandbox.session().delete(
        f"{kashflow_sandbox.endpoints['control_url']}/faults", timeout=10
    )


def test_rate_limit_answers_429_with_retry_after_then_recovers(api, fault):
    fault(status=429, times=2, headers={"Retry-After": "2"})
    for _ in range(2):
        response = api.get("/customers")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "2"
        assert response.json()["Error"] == "TooManyRequests"
    assert api.get("/customers").status_code == 200


def test_service_unavailable_uses_kashflows_error_shape(api, fault):
    fault(status=503)
    response = api.get("/customers")
    assert response.status_code == 503
    assert set(response.json()) == {"Error", "Message"}
    assert api.get("/customers").status_code == 200


def test_faults_hit_only_the_scripted_method(api, fault):
    fault(status=500, method="POST")
    assert api.get("/customers").status_code == 200
    assert api.post("/customers", {"Name": "Faulted Ltd"}).status_code == 500


def test_slow_answer_trips_a_client_timeout(api, fault):
    fault(delay_s=1.0)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get("/customers", timeout=(5, 0.3))
    assert time.monotonic() - started < 0.9


def test_dropped_connection(api, fault):
    fault(drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/customers")
    assert api.get("/customers").status_code == 200


def test_truncated_json_body(api, fault):
    fault(status=200, body='{"Data": [{"Code": "ACM01", "Na')
    response = api.get("/customers")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
