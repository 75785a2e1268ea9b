"""Pieces every part of the Magento sandbox shares: the error envelope, clock, money, responses.

Magento renders a service exception as `{"message": <phrase with %placeholders>, "parameters":
{...} or [...]}` and leaves substitution to the client; `MagentoError` carries exactly that and
turns into the response. The status follows Magento's exception classes: NoSuchEntity 404,
Authorization/Authentication 401, any other LocalizedException 400.
"""

from __future__ import annotations

import copy
import datetime
import json
import secrets
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.sandbox.server import Response

CENT = Decimal("0.01")

NOT_AUTHORIZED = "The consumer isn't authorized to access %resources."
SIGN_IN_INCORRECT = (
    "The account sign-in was incorrect or your account is disabled temporarily. "
    "Please wait and try again later."
)
TWO_FACTOR_REQUIRED = "Please use the 2fa provider-specific endpoints to obtain a token."
NO_ROUTE = "Request does not match any route."
NO_SUCH_ENTITY = "No such entity with %fieldName = %fieldValue"
ENTITY_MISSING = "The entity that was requested doesn't exist. Verify the entity and try again."
PRODUCT_MISSING = "The product that was requested doesn't exist. Verify the product and try again."
REQUIRED_FIELD = '"%fieldName" is required. Enter and try again.'
REQUIRED_PARAMETER = "%fieldName is a required field."
STORE_MISSING = "The store that was requested wasn't found. Verify the store and try again."
INVALID_TYPE = (
    'The "%1" value\'s type is invalid. The "%2" type was expected. Verify and try again.'
)
TOO_MANY_ITEMS = 'Maximum items of type "%type" is %max'
MAX_PAGE_SIZE = "Maximum SearchCriteria pageSize is %max"


class MagentoError(Exception):
    """A Magento service exception: status, raw phrase with placeholders, and its parameters."""

    def __init__(
        self,
        status: int,
        message: str,
        parameters: dict | list | None = None,
        errors: list[dict] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameters = parameters
        self.errors = errors

    def body(self) -> dict:
        body: dict[str, Any] = {"message": self.message}
        if self.parameters is not None:
            body["parameters"] = self.parameters
        if self.errors:
            body["errors"] = self.errors
        return body

    def response(self) -> Response:
        return json_response(self.body(), self.status)


def not_authorized(resource: str) -> MagentoError:
    return MagentoError(401, NOT_AUTHORIZED, {"resources": resource})


def required(field_name: str) -> MagentoError:
    return MagentoError(400, REQUIRED_FIELD, {"fieldName": field_name})


def no_such_entity(field_name: str, value: Any) -> MagentoError:
    return MagentoError(404, NO_SUCH_ENTITY, {"fieldName": field_name, "fieldValue": value})


def json_response(data: Any, status: int = 200) -> Response:
    """Any JSON value, including a bare string, number or boolean, as Magento sends it."""
    return Response(
        status,
        json.dumps(data, separators=(",", ":")).encode(),
        {"Content-Type": "application/json; charset=utf-8"},
    )


def html_response(status: int, title: str) -> Response:
    """What a web server or CDN in front of Magento sends for 502/503/504: an HTML page."""
    page = (
        f"<!DOCTYPE html><html><head><title>{status} {title}</title></head>"
        f"<body><h1>{title}</h1><p>The server is temporarily unable to service your request."
        "</p></body></html>"
    )
    return Response(status, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


def masked_internal_error() -> Response:
    report = "webapi-" + secrets.token_hex(7)[:13]
    message = f"Internal Error. Details are available in Magento log file. Report ID: {report}"
    return json_response({"message": message}, 500)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def magento_time(moment: datetime.datetime | None = None) -> str:
    """Magento's REST date format: UTC, `YYYY-MM-DD HH:MM:SS`, no `T` and no offset."""
    return (moment or utc_now()).strftime("%Y-%m-%d %H:%M:%S")


def money(value: Decimal) -> float:
    """Amounts are JSON numbers on Magento's REST wire; computed as Decimal, rounded to cents."""
    return float(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def decimal(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def number_or_error(value: Any, type_name: str = "int") -> Any:
    """Coerce a query or body value to a number the way Magento's input processor does."""
    try:
        if type_name == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(str(value).strip())
        return float(str(value).strip())
    except (TypeError, ValueError):
        raise MagentoError(400, INVALID_TYPE, [str(value), type_name]) from None


def editable(doc: dict) -> dict:
    """A private copy of a stored document, to change and put() back."""
    return copy.deepcopy(doc)


def body_object(payload: Any, key: str) -> dict:
    """The `{"<key>": {...}}` wrapper Magento service inputs use; missing → its 400."""
    if not isinstance(payload, dict) or not isinstance(payload.get(key), dict):
        raise MagentoError(400, REQUIRED_PARAMETER, {"fieldName": key})
    return payload[key]
