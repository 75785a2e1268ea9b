"""One test per simple-salesforce exception -> Concord error mapping (no HTTP)."""

import pytest
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceBulkV2LoadError,
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
    DuplicateError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from connectors.salesforce.batch import RecordError, RecordResult, _parse_bulk_error
from connectors.salesforce.errors import translate

URL = "https://example.my.salesforce.com/services/data/v59.0/sobjects/Account/"


def body(code: str, message: str = "text") -> list[dict]:
    return [{"errorCode": code, "message": message, "fields": []}]


def translated(exc: Exception):
    return translate(exc, connection="sf", what="create Account")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("DUPLICATE_VALUE", DuplicateError),
        ("DUPLICATES_DETECTED", DuplicateError),
        ("REQUIRED_FIELD_MISSING", ValidationError),
        ("INVALID_FIELD", ValidationError),
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", ValidationError),
        ("UNABLE_TO_LOCK_ROW", TransientError),
    ],
)
def test_malformed_request_is_classified_by_its_error_code(code, expected):
    error = translated(SalesforceMalformedRequest(URL, 400, "Account", body(code, "why")))
    assert type(error) is expected
    assert error.code == code and error.system_message == "why" and error.status == 400


def test_several_external_id_matches_are_a_duplicate():
    error = translated(SalesforceMoreThanOneRecord(URL, 300, "Account", ["/a", "/b"]))
    assert isinstance(error, DuplicateError)


def test_missing_record_is_not_found():
    error = translated(SalesforceResourceNotFound(URL, 404, "Account", body("NOT_FOUND")))
    assert isinstance(error, NotFoundError)


def test_request_limit_exceeded_is_rate_limited_for_an_hour():
    error = translated(SalesforceRefusedRequest(URL, 403, "q", body("REQUEST_LIMIT_EXCEEDED")))
    assert isinstance(error, RateLimitedError) and error.retry_after == 3600


def test_other_refusal_is_an_auth_error():
    error = translated(SalesforceRefusedRequest(URL, 403, "q", body("INSUFFICIENT_ACCESS")))
    assert isinstance(error, AuthError)


def test_expired_session_and_failed_login_are_auth_errors():
    assert isinstance(
        translated(SalesforceExpiredSession(URL, 401, "q", body("INVALID_SESSION_ID"))), AuthError
    )
    assert isinstance(translated(SalesforceAuthenticationFailed("INVALID_LOGIN", "no")), AuthError)


def test_server_error_is_transient_and_conflict_permanent():
    assert isinstance(
        translated(SalesforceGeneralError(URL, 500, "q", body("UNKNOWN_EXCEPTION"))),
        TransientError,
    )
    assert isinstance(
        translated(SalesforceGeneralError(URL, 503, "q", "<html>down</html>")), TransientError
    )
    assert isinstance(translated(SalesforceGeneralError(URL, 409, "q", body("X"))), DuplicateError)


def test_bulk_failures_are_classified():
    assert isinstance(translated(SalesforceBulkV2LoadError("upload 500")), TransientError)
    assert isinstance(translated(SalesforceOperationError("Job failure: bad")), ValidationError)


def test_bulk_error_column_is_split_into_code_message_and_fields():
    error = _parse_bulk_error("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name--")
    assert error == RecordError(
        "REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"]
    )


def test_failed_record_result_becomes_the_matching_exception():
    result = RecordResult("K1", False, errors=[RecordError("DUPLICATE_VALUE", "dup")])
    assert isinstance(result.error(), DuplicateError)
    assert RecordResult("K2", True, "001A").error() is None
