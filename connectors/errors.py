"""The one exception tree of the connectors: what failed, and what the caller should do next.

Transient errors are retried by the HTTP layer and, when retries run out, rescheduled by the
outbox; permanent errors go straight to the error queue with the system's own message.
"""


class ConcordError(Exception):
    """Root of every error a connector raises."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        system_message: str = "",
        code: str = "",
        connection: str = "",
        body: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.system_message = system_message  # the system's own words, shown to operators
        self.code = code  # the system's error code, e.g. DUPLICATE_VALUE
        self.connection = connection
        self.body = body[:2000]  # enough to diagnose; never the whole payload

    def __str__(self) -> str:
        parts = [self.message]
        if self.system_message and self.system_message not in self.message:
            parts.append(f"({self.system_message})")
        return " ".join(parts)


class TransientError(ConcordError):
    """Worth retrying later: HTTP 5xx, timeouts, dropped connections, malformed bodies."""

    retryable = True


class RateLimitedError(TransientError):
    """HTTP 429, Salesforce REQUEST_LIMIT_EXCEEDED, or our own client-side limit.

    `retry_after` (seconds) is when the system said to come back, if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CircuitOpenError(TransientError):
    """The connection's circuit breaker is open after repeated failures; nothing was sent."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentError(ConcordError):
    """Retrying the same request will fail the same way; a person must look at it."""


class AuthError(PermanentError):
    """HTTP 401/403 that survived one re-authentication: bad or revoked credentials."""


class ValidationError(PermanentError):
    """HTTP 400/422: the system rejected the data; `system_message` says why."""


class DuplicateError(PermanentError):
    """The record already exists (duplicate code, number, email, or several external-id matches).

    The caller should link the existing record instead of creating another.
    """


class NotFoundError(PermanentError):
    """HTTP 404 or the system's equivalent: the record does not exist (or was deleted)."""


# The default status -> class map; connectors refine it from the system's error body.
STATUS_ERRORS: dict[int, type[ConcordError]] = {
    400: ValidationError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: DuplicateError,
    410: NotFoundError,
    422: ValidationError,
    429: RateLimitedError,
}


def error_class_for_status(status: int) -> type[ConcordError]:
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return TransientError
    return PermanentError
