"""Salesforce failures translated into the connectors' one exception tree, in one place.

simple-salesforce raises its own exceptions for any status >= 300 (300 several matches, 400
malformed or invalid, 401 session, 403 refused, 404 not found, anything else "general"); the
body is Salesforce's error list `[{"message", "errorCode", "fields"}]`. Collections and Bulk API
2.0 report per-record errors with `statusCode` instead. `translate()` turns either into a
ConcordError that says what to do next; `error_class_for_code()` classifies a per-record code so
a caller can dead-letter one record and keep the others.
"""

from __future__ import annotations

from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceBulkV2LoadError,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connectors.errors import (
    AuthError,
    ConcordError,
    DuplicateError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
    ValidationError,
    error_class_for_status,
)

DUPLICATE_CODES = {"DUPLICATE_VALUE", "DUPLICATES_DETECTED", "DUPLICATE_EXTERNAL_ID"}
TRANSIENT_CODES = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION"}
NOT_FOUND_CODES = {"NOT_FOUND", "ENTITY_IS_DELETED"}
RATE_LIMIT_CODES = {"REQUEST_LIMIT_EXCEEDED"}
SESSION_CODES = {"INVALID_SESSION_ID"}
# How long to stay away after REQUEST_LIMIT_EXCEEDED: the daily allowance is a rolling 24 h.
LIMIT_BACKOFF_S = 3600.0


def error_details(content) -> tuple[str, str]:
    """(errorCode, message) from a Salesforce error body: a list, a dict, or text."""
    if isinstance(content, list) and content:
        content = content[0]
    if isinstance(content, dict):
        code = str(content.get("errorCode") or content.get("statusCode") or content.get("error"))
        message = str(
            content.get("message") or content.get("error_description") or content.get("error")
        )
        return ("" if code == "None" else code), ("" if message == "None" else message)
    text = str(content or "").strip()
    return "", text[:500]


def error_class_for_code(code: str) -> type[ConcordError]:
    """The exception class for one record's error code (Collections, Bulk 2.0, REST)."""
    if code in DUPLICATE_CODES:
        return DuplicateError
    if code in TRANSIENT_CODES:
        return TransientError
    if code in NOT_FOUND_CODES:
        return NotFoundError
    if code in RATE_LIMIT_CODES:
        return RateLimitedError
    return ValidationError


def translate(exc: Exception, *, connection: str, what: str) -> ConcordError:
    """The ConcordError for a simple-salesforce exception raised while doing `what`."""
    if isinstance(exc, ConcordError):
        return exc
    if isinstance(exc, SalesforceAuthenticationFailed):
        return AuthError(
            f"{what}: Salesforce refused the login",
            code=str(exc.code or ""),
            system_message=str(exc.auth_message or ""),
            connection=connection,
        )
    if isinstance(exc, SalesforceBulkV2LoadError):
        return TransientError(f"{what}: Bulk API upload failed: {exc}", connection=connection)
    if isinstance(exc, SalesforceOperationError):
        return ValidationError(
            f"{what}: Bulk API job failed", system_message=str(exc)[:500], connection=connection
        )
    if not isinstance(exc, SalesforceError):
        raise TypeError(f"not a Salesforce error: {exc!r}")
    code, message = error_details(exc.content)
    status = exc.status
    body = str(exc.content)
    if isinstance(exc, SalesforceMoreThanOneRecord):
        error_class: type[ConcordError] = DuplicateError
        message = message or "the external id matches more than one record"
    elif isinstance(exc, SalesforceExpiredSession):
        error_class = AuthError
    elif isinstance(exc, SalesforceResourceNotFound):
        error_class = NotFoundError
    elif isinstance(exc, SalesforceRefusedRequest):
        error_class = RateLimitedError if code in RATE_LIMIT_CODES else AuthError
    elif isinstance(exc, SalesforceMalformedRequest):
        error_class = error_class_for_code(code)
    elif isinstance(exc, SalesforceGeneralError):
        error_class = (
            error_class_for_code(code)
            if code in DUPLICATE_CODES | TRANSIENT_CODES | RATE_LIMIT_CODES
            else error_class_for_status(status)
        )
    else:
        error_class = PermanentError
    text = f"{what}: Salesforce answered {status}" + (f" {code}" if code else "")
    if message:
        text += f": {message}"
    extra = {"retry_after": LIMIT_BACKOFF_S} if error_class is RateLimitedError else {}
    return error_class(
        text,
        status=status,
        code=code,
        system_message=message,
        connection=connection,
        body=body,
        **extra,
    )
