"""Guards shared by every worker process: circuit breaker, rate limit and daily allowance.

State lives in the ConnectionState table, so all workers on all machines see the same breaker
and draw from the same token bucket. Updates are single conditional UPDATE statements
(compare-and-swap), which need no row locks and behave the same on SQLite and PostgreSQL.
Call connectors outside long transactions so these updates commit at once.
"""

import random
import time
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from connectors.errors import CircuitOpenError, RateLimitedError
from connectors.models import BreakerState, ConnectionState


def connection_state(key: str) -> ConnectionState:
    state, _ = ConnectionState.objects.get_or_create(key=key)
    return state


class CircuitBreaker:
    """Opens after `threshold` consecutive transient failures; after `cooldown` seconds one
    trial call is let through (half-open); its success closes the breaker, its failure
    reopens it."""

    def __init__(self, key: str, threshold: int = 5, cooldown: float = 30.0):
        self.key, self.threshold, self.cooldown = key, threshold, cooldown

    def before_call(self, state: ConnectionState | None = None) -> None:
        state = state or connection_state(self.key)
        if state.breaker_state == BreakerState.CLOSED:
            return
        now = timezone.now()
        reopen_at = (state.opened_at or now) + timedelta(seconds=self.cooldown)
        if state.breaker_state == BreakerState.OPEN and now >= reopen_at:
            # Only one worker wins the trial call; the others keep being refused.
            won = ConnectionState.objects.filter(
                pk=state.pk, breaker_state=BreakerState.OPEN, opened_at=state.opened_at
            ).update(breaker_state=BreakerState.HALF_OPEN, opened_at=now)
            if won:
                return
        wait = max(0.0, (reopen_at - now).total_seconds()) or self.cooldown
        raise CircuitOpenError(
            f"circuit breaker for {self.key} is open after {state.consecutive_failures} "
            f"failures (last: {state.last_error[:200] or 'unknown'}); retry in {wait:.0f} s",
            connection=self.key,
            retry_after=wait,
        )

    def record_success(self, state: ConnectionState | None = None) -> None:
        """Close the breaker. With the state read before the call, a healthy connection is
        written at most once a minute, so a busy pull does not write a row per request."""
        if (
            state is not None
            and state.breaker_state == BreakerState.CLOSED
            and state.consecutive_failures == 0
            and state.last_success_at
            and timezone.now() - state.last_success_at < timedelta(seconds=60)
        ):
            return
        ConnectionState.objects.filter(key=self.key).update(
            breaker_state=BreakerState.CLOSED,
            consecutive_failures=0,
            opened_at=None,
            last_success_at=timezone.now(),
        )

    def record_failure(self, reason: str) -> None:
        now = timezone.now()
        state = connection_state(self.key)
        ConnectionState.objects.filter(pk=state.pk).update(
            consecutive_failures=F("consecutive_failures") + 1,
            last_error=reason[:1000],
            last_failure_at=now,
        )
        state.refresh_from_db(fields=["consecutive_failures", "breaker_state"])
        if (
            state.breaker_state == BreakerState.HALF_OPEN
            or state.consecutive_failures >= self.threshold
        ):
            ConnectionState.objects.filter(pk=state.pk).exclude(
                breaker_state=BreakerState.OPEN
            ).update(breaker_state=BreakerState.OPEN, opened_at=now)


class RateLimiter:
    """A token bucket per connection: `rate` requests per second on average, bursts of `burst`."""

    def __init__(self, key: str, rate: float, burst: int, sleep=time.sleep):
        self.key, self.rate, self.burst, self.sleep = key, rate, max(1, burst), sleep

    def acquire(self, deadline: float) -> None:
        """Take one token, waiting for it if needed; give up when the wait passes `deadline`.

        The ConnectionState row must exist (the session reads it before every call)."""
        if self.rate <= 0:
            return
        while True:
            state = ConnectionState.objects.values("tokens", "tokens_updated_at").get(key=self.key)
            now = time.time()
            tokens = self.burst if state["tokens"] < 0 else state["tokens"]
            tokens = min(self.burst, tokens + (now - state["tokens_updated_at"]) * self.rate)
            if tokens >= 1:
                taken = ConnectionState.objects.filter(
                    key=self.key,
                    tokens=state["tokens"],
                    tokens_updated_at=state["tokens_updated_at"],
                ).update(tokens=tokens - 1, tokens_updated_at=now)
                if taken:
                    return
                continue  # another worker took a token in between: look again
            wait = (1 - tokens) / self.rate
            if time.monotonic() + wait > deadline:
                raise RateLimitedError(
                    f"client-side rate limit for {self.key} ({self.rate:g}/s) leaves no time "
                    "in this call's budget",
                    connection=self.key,
                    retry_after=wait,
                )
            self.sleep(wait + random.uniform(0, 0.01))


class Allowance:
    """The system's own quota (e.g. Salesforce's daily API requests), as it last reported it.

    Calls stop when only `reserve` of it is left, so people using the system keep some.
    """

    def __init__(self, key: str, reserve: float = 0.05):
        self.key, self.reserve = key, reserve

    def before_call(self, state: ConnectionState | None = None) -> None:
        state = state or connection_state(self.key)
        if not state.api_limit:
            return
        if state.api_used >= state.api_limit * (1 - self.reserve):
            raise RateLimitedError(
                f"{self.key} has used {state.api_used} of its {state.api_limit} daily API "
                f"requests; calls pause to keep {self.reserve:.0%} for people",
                connection=self.key,
                retry_after=3600,
            )

    def record(self, used: int, limit: int) -> None:
        ConnectionState.objects.filter(key=self.key).update(
            api_used=used, api_limit=limit, api_checked_at=timezone.now()
        )
