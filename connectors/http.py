"""The one HTTP path of every connector: timeouts, retries, backoff, breaker, limits, errors.

`ResilientSession` is a `requests.Session` whose `request()` runs every call through the same
policy, so Kashflow and Magento clients and simple-salesforce (which takes a session) share it:

- connect/read timeouts and a total time budget per call;
- retries with exponential backoff and full jitter for 429, 5xx, timeouts and dropped
  connections, honouring `Retry-After` (seconds or HTTP-date);
- a POST (a create) is retried only when the system cannot have acted on it (429, or the
  connection was never made). Anything else raises TransientError and the caller looks the
  record up by its natural key before trying again (`create_once`);
- a circuit breaker, a client-side rate limit and the system's reported allowance, all kept in
  the database so every worker process shares them.

Responses below 400 and permanent errors (4xx) are returned to the caller, who turns them into
the exception tree with `raise_for_error` and its system's own error-body parser.
"""

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TypeVar

import requests

from connectors.errors import (
    ConcordError,
    RateLimitedError,
    TransientError,
    error_class_for_status,
)
from connectors.resilience import Allowance, CircuitBreaker, RateLimiter, connection_state

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
RETRY_SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"}


@dataclass
class HttpPolicy:
    """How hard to try. Every field can be overridden per connection in Connection.options."""

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_budget: float = 90.0
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    rate_per_second: float = 10.0
    burst: int = 20
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    allowance_reserve: float = 0.05

    @classmethod
    def from_options(cls, options: dict | None) -> "HttpPolicy":
        known = {field.name: field.type for field in fields(cls)}
        values = {}
        for name, value in (options or {}).items():
            if name in known:
                values[name] = int(value) if known[name] in (int, "int") else float(value)
        return cls(**values)


def retry_after_seconds(value: str | None) -> float | None:
    """Parse Retry-After: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class ResilientSession(requests.Session):
    """A requests session for one connection that applies the policy to every request."""

    def __init__(
        self,
        key: str,
        *,
        verify: str | bool = True,
        policy: HttpPolicy | None = None,
        read_allowance: Callable[[requests.Response], tuple[int, int] | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__()
        # requests lets REQUESTS_CA_BUNDLE override `verify`; the connection's CA must win.
        self.trust_env = False
        self.verify = verify
        self.key = key
        self.policy = policy or HttpPolicy()
        self.read_allowance = read_allowance
        self.sleep = sleep
        self.breaker = CircuitBreaker(
            key, self.policy.breaker_threshold, self.policy.breaker_cooldown
        )
        self.limiter = RateLimiter(key, self.policy.rate_per_second, self.policy.burst, sleep)
        self.allowance = Allowance(key, self.policy.allowance_reserve)
        self.attempts_made = 0  # of the last request, for tests and logs

    def request(self, method: str, url: str, *args, **kwargs) -> requests.Response:
        method = method.upper()
        policy = self.policy
        deadline = time.monotonic() + policy.total_budget
        retry_safe = method in RETRY_SAFE_METHODS
        kwargs.pop("timeout", None)  # the policy decides, whatever a library passes
        self.attempts_made = 0
        while True:
            self.attempts_made += 1
            attempt = self.attempts_made
            state = connection_state(self.key)  # one read serves breaker and allowance
            self.breaker.before_call(state)
            self.allowance.before_call(state)
            self.limiter.acquire(deadline)
            remaining = deadline - time.monotonic()
            timeout = (policy.connect_timeout, max(0.1, min(policy.read_timeout, remaining)))
            try:
                response = super().request(method, url, *args, timeout=timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                never_sent = isinstance(exc, requests.ConnectTimeout) or _refused(exc)
                error = TransientError(
                    f"{method} {_path(url)} failed: {exc.__class__.__name__}",
                    connection=self.key,
                )
                self.breaker.record_failure(str(error))
                self._wait_or_raise(error, attempt, deadline, retry_safe or never_sent, None)
                continue
            self._note_allowance(response)
            if response.status_code not in RETRYABLE_STATUSES:
                self.breaker.record_success(state)
                return response
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            error = (RateLimitedError if response.status_code == 429 else TransientError)(
                f"{method} {_path(url)} answered {response.status_code}",
                status=response.status_code,
                connection=self.key,
                body=response.text,
                **({"retry_after": retry_after} if response.status_code == 429 else {}),
            )
            if response.status_code != 429:
                self.breaker.record_failure(str(error))
            # A 429 means the request was not processed, so even a create may be repeated.
            safe = retry_safe or response.status_code == 429
            self._wait_or_raise(error, attempt, deadline, safe, retry_after)

    def _wait_or_raise(
        self,
        error: ConcordError,
        attempt: int,
        deadline: float,
        retry_safe: bool,
        retry_after: float | None,
    ) -> None:
        policy = self.policy
        if not retry_safe or attempt >= policy.max_attempts:
            raise error
        if retry_after is not None:
            wait = retry_after
        else:  # exponential backoff with full jitter
            wait = random.uniform(
                0, min(policy.backoff_cap, policy.backoff_base * 2 ** (attempt - 1))
            )
        if time.monotonic() + wait >= deadline:
            raise error
        logger.warning(
            "connection=%s retry %d/%d in %.2f s after: %s",
            self.key,
            attempt,
            policy.max_attempts,
            wait,
            error,
        )
        self.sleep(wait)

    def _note_allowance(self, response: requests.Response) -> None:
        if self.read_allowance is None:
            return
        reported = self.read_allowance(response)
        if reported:
            self.allowance.record(*reported)


def _path(url: str) -> str:
    # Log the path only: query strings can carry tokens or personal data.
    return requests.utils.urlparse(url).path


def _refused(exc: Exception) -> bool:
    text = str(exc)
    return "Connection refused" in text or "Failed to establish a new connection" in text


def raise_for_error(
    response: requests.Response,
    *,
    connection: str,
    describe: Callable[[requests.Response], tuple[str, str, type[ConcordError] | None]]
    | None = None,
) -> requests.Response:
    """Return a successful response; raise the right ConcordError for any status >= 400.

    `describe(response)` is the system's own error parser: it returns (message, code, class or
    None to use the status map) read from the system's error body.
    """
    if response.status_code < 400:
        return response
    message, code, error_class = ("", "", None)
    if describe is not None:
        try:
            message, code, error_class = describe(response)
        except ValueError:
            message = ""
    error_class = error_class or error_class_for_status(response.status_code)
    raise error_class(
        f"{response.request.method} {_path(response.url)} answered {response.status_code}"
        + (f": {message}" if message else ""),
        status=response.status_code,
        system_message=message,
        code=code,
        connection=connection,
        body=response.text,
    )


def parse_json(response: requests.Response, *, connection: str):
    """The body as JSON (fractions as Decimal); a truncated or HTML body is a transient fault."""
    try:
        # Decimal for every JSON number with a fraction: money never passes through float.
        return json.loads(response.content or b"null", parse_float=Decimal)
    except ValueError as exc:
        raise TransientError(
            f"{_path(response.url)} answered {response.status_code} with a body that is not "
            f"JSON ({response.headers.get('Content-Type', 'no content type')})",
            status=response.status_code,
            connection=connection,
            body=response.text,
        ) from exc


Record = TypeVar("Record")


def create_once(
    create: Callable[[], Record],
    find_existing: Callable[[], Record | None],
    *,
    attempts: int = 3,
) -> Record:
    """Create a record without ever creating it twice.

    When a create fails transiently (timeout, dropped connection, 5xx), the system may or may
    not have stored it; look it up by its natural key first and only create again if it is not
    there.
    """
    try:
        return create()
    except TransientError as exc:
        last_error = exc
    for _ in range(attempts - 1):
        existing = find_existing()
        if existing is not None:
            return existing
        try:
            return create()
        except TransientError as exc:
            last_error = exc
    raise last_error
