"""The shared HTTP layer against a real HTTPS server with scripted faults."""

import email.utils
import time

import pytest

from connectors.errors import (
    AuthError,
    CircuitOpenError,
    DuplicateError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from connectors.http import (
    HttpPolicy,
    ResilientSession,
    create_once,
    parse_json,
    raise_for_error,
    retry_after_seconds,
)
from connectors.models import BreakerState, ConnectionState

pytestmark = pytest.mark.django_db


class RecordedSleep:
    """Sleeps for real, but at most a few milliseconds, and remembers what was asked."""

    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(min(seconds, 0.005))


def make_session(server, key="notes", sleep=None, **policy) -> ResilientSession:
    defaults = {"rate_per_second": 0, "read_timeout": 2, "total_budget": 30}
    return ResilientSession(
        key,
        verify=server.emulator.state_dir.joinpath("tls", "ca.pem").as_posix(),
        policy=HttpPolicy(**{**defaults, **policy}),
        sleep=sleep or RecordedSleep(),
    )


def fault(session, server, **spec):
    response = session.post(f"{server.origin}/__sandbox__/faults", json=spec)
    assert response.status_code == 201, response.text


def test_server_errors_are_retried_with_full_jitter_backoff(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", method="GET", status=503, times=2)
    sleep = RecordedSleep()
    session = make_session(server, sleep=sleep, backoff_base=0.5)
    response = session.get(f"{server.origin}/notes")
    assert response.status_code == 200
    assert session.attempts_made == 3
    assert len(sleep.calls) == 2
    assert 0 <= sleep.calls[0] <= 0.5 and 0 <= sleep.calls[1] <= 1.0


def test_retry_after_seconds_is_honoured(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", status=429, headers={"Retry-After": "2"})
    sleep = RecordedSleep()
    assert make_session(server, sleep=sleep).get(f"{server.origin}/notes").status_code == 200
    assert sleep.calls == [2.0]


def test_retry_after_http_date_is_honoured(notes):
    server, control = notes
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    fault(control, server, path_regex="^/notes$", status=429, headers={"Retry-After": when})
    sleep = RecordedSleep()
    assert make_session(server, sleep=sleep).get(f"{server.origin}/notes").status_code == 200
    assert 1.0 <= sleep.calls[0] <= 3.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("-3", 0.0), ("soon", None), (None, None), ("", None)],
)
def test_retry_after_parsing(header, expected):
    assert retry_after_seconds(header) == expected


def test_a_retry_after_beyond_the_budget_gives_up_at_once(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", status=429, headers={"Retry-After": "120"})
    session = make_session(server, total_budget=10)
    with pytest.raises(RateLimitedError) as caught:
        session.get(f"{server.origin}/notes")
    assert caught.value.retry_after == 120.0
    assert session.attempts_made == 1


def test_a_create_is_not_blindly_retried_after_a_server_error(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", method="POST", status=502)
    session = make_session(server)
    with pytest.raises(TransientError):
        session.post(f"{server.origin}/notes", json={"text": "once"})
    assert session.attempts_made == 1


def test_a_create_is_retried_after_429_because_nothing_was_stored(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", method="POST", status=429)
    session = make_session(server)
    assert session.post(f"{server.origin}/notes", json={"text": "x"}).status_code == 201
    assert session.attempts_made == 2


def test_read_timeout_and_dropped_connection_are_retried_for_reads(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", delay_s=1.0)
    fault(control, server, path_regex="^/notes$", drop=True)
    session = make_session(server, read_timeout=0.3)
    assert session.get(f"{server.origin}/notes").status_code == 200
    assert session.attempts_made == 3


def test_create_once_finds_the_record_a_timed_out_create_stored(notes):
    server, control = notes
    # The server stores the note but answers after the client has given up.
    fault(control, server, path_regex="^/notes$", method="POST", delay_s=0.6)
    session = make_session(server, read_timeout=0.3)

    def create():
        return session.post(f"{server.origin}/notes", json={"text": "exactly-once"}).json()

    def find_existing():
        time.sleep(0.5)  # let the slow request finish on the server
        items = session.get(f"{server.origin}/notes").json()["items"]
        return next((item for item in items if item["text"] == "exactly-once"), None)

    note = create_once(create, find_existing)
    assert note["text"] == "exactly-once"
    items = session.get(f"{server.origin}/notes").json()["items"]
    assert [item["text"] for item in items].count("exactly-once") == 1


def test_circuit_breaker_opens_refuses_then_recovers(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", status=500, times=3)
    session = make_session(server, max_attempts=1, breaker_threshold=3, breaker_cooldown=0.3)
    for _ in range(3):
        with pytest.raises(TransientError):
            session.get(f"{server.origin}/notes")
    state = ConnectionState.objects.get(key="notes")
    assert state.breaker_state == BreakerState.OPEN
    assert "answered 500" in state.last_error

    with pytest.raises(CircuitOpenError):
        session.get(f"{server.origin}/notes")
    time.sleep(0.35)
    assert session.get(f"{server.origin}/notes").status_code == 200  # the half-open trial
    state.refresh_from_db()
    assert state.breaker_state == BreakerState.CLOSED
    assert state.consecutive_failures == 0


def test_a_failed_trial_call_reopens_the_breaker(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", status=500, times=2)
    session = make_session(server, max_attempts=1, breaker_threshold=1, breaker_cooldown=0.2)
    with pytest.raises(TransientError):
        session.get(f"{server.origin}/notes")
    time.sleep(0.25)
    with pytest.raises(TransientError):
        session.get(f"{server.origin}/notes")  # the trial fails
    with pytest.raises(CircuitOpenError):
        session.get(f"{server.origin}/notes")


def test_rate_limit_is_shared_between_sessions_through_the_database(notes):
    server, _ = notes
    first_sleep, second_sleep = RecordedSleep(), RecordedSleep()
    first = make_session(server, key="shared", sleep=first_sleep, rate_per_second=5, burst=3)
    second = make_session(server, key="shared", sleep=second_sleep, rate_per_second=5, burst=3)
    for _ in range(3):
        first.get(f"{server.origin}/notes")
    assert first_sleep.calls == []
    second.get(f"{server.origin}/notes")  # the bucket the first session drained
    assert second_sleep.calls and second_sleep.calls[0] > 0.05


def test_reported_allowance_stops_calls_before_it_is_spent(notes):
    server, control = notes
    fault(
        control,
        server,
        path_regex="^/notes$",
        status=200,
        headers={"Sforce-Limit-Info": "api-usage=96/100"},
        body={"items": []},
    )

    def read_allowance(response):
        header = response.headers.get("Sforce-Limit-Info", "")
        if not header.startswith("api-usage="):
            return None
        used, limit = header.split("=")[1].split("/")
        return int(used), int(limit)

    session = make_session(server)
    session.read_allowance = read_allowance
    session.get(f"{server.origin}/notes")
    with pytest.raises(RateLimitedError, match="96 of its 100"):
        session.get(f"{server.origin}/notes")


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, ValidationError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (409, DuplicateError),
        (422, ValidationError),
    ],
)
def test_status_maps_to_error_class(notes, status, error_class):
    server, control = notes
    fault(control, server, path_regex="^/notes$", status=status, body={"error": "nope"})
    session = make_session(server)
    response = session.get(f"{server.origin}/notes")
    with pytest.raises(error_class) as caught:
        raise_for_error(
            response,
            connection="notes",
            describe=lambda r: (r.json()["error"], "E1", None),
        )
    assert caught.value.status == status
    assert caught.value.system_message == "nope"
    assert not caught.value.retryable


def test_system_parser_can_refine_the_class(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", status=400, body={"error": "Code exists"})
    response = make_session(server).get(f"{server.origin}/notes")
    with pytest.raises(DuplicateError, match="Code exists"):
        raise_for_error(
            response, connection="notes", describe=lambda r: ("Code exists", "", DuplicateError)
        )


def test_malformed_body_is_a_transient_error(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", status=200, body='{"items": [')
    response = make_session(server).get(f"{server.origin}/notes")
    with pytest.raises(TransientError, match="not JSON"):
        parse_json(response, connection="notes")


def test_policy_reads_connection_options():
    policy = HttpPolicy.from_options({"read_timeout": "12", "max_attempts": 2, "unrelated": 1})
    assert policy.read_timeout == 12.0 and policy.max_attempts == 2


def test_429_several_times_with_retry_after_then_success(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", status=429, times=3, headers={"Retry-After": "1"})
    sleep = RecordedSleep()
    session = make_session(server, sleep=sleep)
    assert session.get(f"{server.origin}/notes").status_code == 200
    assert session.attempts_made == 4
    assert sleep.calls == [1.0, 1.0, 1.0]


def test_a_validation_error_is_not_retried(notes):
    server, control = notes
    fault(control, server, path_regex="^/notes$", status=400, times=1, body={"error": "bad"})
    session = make_session(server)
    response = session.put(f"{server.origin}/notes", json={})
    assert response.status_code == 400
    assert session.attempts_made == 1
    with pytest.raises(ValidationError):
        raise_for_error(response, connection="notes")
