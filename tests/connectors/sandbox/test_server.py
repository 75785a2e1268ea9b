"""The shared sandbox server: TLS against the local CA, routing, faults and the control API."""

import json
import ssl
import time

import pytest
import requests

from connectors.sandbox.state import StateStore
from connectors.sandbox.tls import ensure_tls
from tests.conftest import https_session


def test_clients_verify_tls_against_the_local_ca(notes):
    server, session = notes
    assert session.get(f"{server.origin}/notes").status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        https_session("/etc/ssl/certs/ca-certificates.crt").get(f"{server.origin}/notes", timeout=5)


def test_tls_files_are_generated_once(tmp_path):
    first = ensure_tls(tmp_path)
    pem = first.ca_cert.read_bytes()
    assert ensure_tls(tmp_path).ca_cert.read_bytes() == pem
    assert oct(first.server_key.stat().st_mode & 0o777) == "0o600"
    context = ssl.create_default_context(cafile=str(first.ca_cert))
    assert context.get_ca_certs()[0]["subject"]


def test_routing_errors_and_bad_json_use_the_emulators_error_body(notes):
    server, session = notes
    assert session.get(f"{server.origin}/nothing").json() == {
        "error": "No resource at /nothing",
        "status": 404,
    }
    assert session.delete(f"{server.origin}/notes").status_code == 405
    response = session.post(f"{server.origin}/notes", data=b"{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_state_survives_a_restart(tmp_path):
    store = StateStore(tmp_path / "s.sqlite3")
    store.put("note", "1", {"id": 1, "text": "kept"})
    store.next_id("note")
    store.close()
    reopened = StateStore(tmp_path / "s.sqlite3")
    assert reopened.get("note", "1") == {"id": 1, "text": "kept"}
    assert reopened.next_id("note") == 2


def test_status_fault_with_retry_after_hits_only_matching_requests(notes):
    server, session = notes
    control = f"{server.origin}/__sandbox__/faults"
    scheduled = session.post(
        control,
        json={
            "path_regex": "^/notes$",
            "method": "GET",
            "status": 429,
            "times": 2,
            "headers": {"Retry-After": "3"},
            "body": {"error": "slow down"},
        },
    )
    assert scheduled.status_code == 201
    assert session.post(f"{server.origin}/notes", json={"text": "a"}).status_code == 201
    for _ in range(2):
        response = session.get(f"{server.origin}/notes")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        assert response.json() == {"error": "slow down"}
    assert session.get(f"{server.origin}/notes").status_code == 200


def test_fault_without_body_uses_the_system_error_shape(notes):
    server, session = notes
    session.post(
        f"{server.origin}/__sandbox__/faults", json={"path_regex": "/notes", "status": 503}
    )
    response = session.get(f"{server.origin}/notes")
    assert response.status_code == 503
    assert response.json()["status"] == 503


def test_malformed_body_fault(notes):
    server, session = notes
    session.post(
        f"{server.origin}/__sandbox__/faults",
        json={"path_regex": "/notes", "status": 200, "body": '{"items": [tru'},
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(session.get(f"{server.origin}/notes").text)


def test_dropped_connection_fault(notes):
    server, session = notes
    session.post(f"{server.origin}/__sandbox__/faults", json={"path_regex": "/notes", "drop": True})
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(f"{server.origin}/notes", timeout=5)
    assert session.get(f"{server.origin}/notes", timeout=5).status_code == 200


def test_slow_fault_trips_a_client_timeout(notes):
    server, session = notes
    session.post(
        f"{server.origin}/__sandbox__/faults", json={"path_regex": "/notes", "delay_s": 1.5}
    )
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(f"{server.origin}/notes", timeout=(5, 0.5))
    assert time.monotonic() - started < 1.4


def test_bad_fault_specs_are_rejected_with_a_reason(notes):
    server, session = notes
    control = f"{server.origin}/__sandbox__/faults"
    assert "path_regex" in session.post(control, json={"status": 500}).json()["error"]
    assert (
        "unknown fault fields"
        in session.post(control, json={"path_regex": "x", "stauts": 1}).json()["error"]
    )
    assert "does not compile" in session.post(control, json={"path_regex": "("}).json()["error"]


def test_reset_forgets_records_and_faults(notes):
    server, session = notes
    session.post(f"{server.origin}/notes", json={"text": "gone soon"})
    session.post(
        f"{server.origin}/__sandbox__/faults", json={"path_regex": "/notes", "status": 500}
    )
    assert session.post(f"{server.origin}/__sandbox__/reset").status_code == 200
    assert session.get(f"{server.origin}/notes").json() == {"items": []}
