"""Magento's error envelope read and mapped to the connectors' exception tree.

Magento sends `{"message": <phrase with %1 / %name placeholders>, "parameters": [...] or {...},
"errors": [...]}` and leaves filling the placeholders to the client; a fatal error has another
shape, `{"messages": {"error": [{"code", "message"}]}}`. Duplicate email or URL key →
DuplicateError, "No such entity" / "doesn't exist" / 404 → NotFoundError, 401 → AuthError, any
other 400 → ValidationError; 5xx are left to the shared status map (transient).
"""

from __future__ import annotations

import json
import re

import requests

from connectors.errors import (
    AuthError,
    ConcordError,
    DuplicateError,
    NotFoundError,
    ValidationError,
)


def fill_placeholders(message: str, parameters: object) -> str:
    """Magento's phrase with its placeholders filled: `%1` from a list, `%name` from a dict."""
    if isinstance(parameters, list):
        if not re.search(r"%\d", message):
            # A list given for named placeholders ('"%field" can not be empty.', ["sku"]):
            # fill them in order of appearance rather than leave the raw phrase.
            values = iter(parameters)
            return re.sub(r"%[A-Za-z_]\w*", lambda m: str(next(values, m.group(0))), message)
        named = {str(index): value for index, value in enumerate(parameters, 1)}
    elif isinstance(parameters, dict):
        named = {str(key): value for key, value in parameters.items()}
    else:
        return message
    # Longest names first, so %10 is not read as %1 followed by 0.
    for name in sorted(named, key=len, reverse=True):
        message = message.replace(f"%{name}", str(named[name]))
    return message


def error_message(body: object) -> str:
    """The readable message of any Magento error body (both shapes), or ""."""
    if not isinstance(body, dict):
        return ""
    parts = []
    if isinstance(body.get("message"), str):
        parts.append(fill_placeholders(body["message"], body.get("parameters")))
    for error in body.get("errors") or []:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            parts.append(fill_placeholders(error["message"], error.get("parameters")))
    fatal = body.get("messages")
    if isinstance(fatal, dict):
        for error in fatal.get("error") or []:
            if isinstance(error, dict) and error.get("message"):
                parts.append(str(error["message"]))
    return "\n".join(part for part in parts if part)


def classify(status: int, message: str) -> type[ConcordError] | None:
    """The exception for a Magento error; None leaves it to the shared status map."""
    text = message.casefold()
    if status >= 500:
        return None
    if "already exists" in text and ("email" in text or "url key" in text):
        return DuplicateError
    if status == 404 or "no such entity" in text or "doesn't exist" in text:
        return NotFoundError
    if status == 401:
        return AuthError
    if status == 400:
        return ValidationError
    return None


def describe_error(response: requests.Response) -> tuple[str, str, type[ConcordError] | None]:
    """(message, code, class) from a Magento error response, for raise_for_error."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        body = None
    message = error_message(body)
    code = str(body.get("code", "")) if isinstance(body, dict) and body.get("code") else ""
    return message, code, classify(response.status_code, message)
