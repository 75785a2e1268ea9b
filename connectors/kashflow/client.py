"""Kashflow REST v2 client: two-step session token, KfToken calls, paging, idempotent creates.

Every request goes through the connection's ResilientSession (timeouts, retries, breaker,
limits); this module adds what is Kashflow's own:

- Login is two steps: POST /sessiontoken (user name, password) answers a temporary token and
  three 1-based positions of the memorable word; PUT /sessiontoken with those characters
  answers the session token, sent as `Authorization: KfToken <token>`. A refusal (any 4xx) is
  an AuthError at once, never retried, so a wrong secret cannot lock the account. A 5xx or a
  timeout on step 1 stays a TransientError for the outbox to retry later. Step 2 is a PUT,
  which the shared session retries on 5xx / timeouts; the temporary token is single use, so
  such a retry costs at most one failed login (the lockout needs five in a row).
- The session token is cached in this process per connection name (and base URL and user, so
  changed credentials log in afresh), shared by every client of that connection, and renewed
  before Kashflow's 60-minute idle expiry (`kashflow_token_idle_s`, default 45 minutes).
- A 401 `InvalidSessionToken` drops the token, logs in once and repeats the call (a 401 means
  Kashflow did nothing, so this is safe for a create too). A second 401 is an AuthError.
- Error bodies `{"Error", "Message"}` become the exception tree with Kashflow's message.
- Lists follow `MetaData.NextPageUrl` (relative to the API base) sorted by the natural key.
- Creates never run twice: after a transient failure the record is looked up by its natural
  key (customer Code, invoice Number, payment Note on its invoice) before trying again.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote, urlsplit

import requests

from connectors.errors import (
    AuthError,
    ConcordError,
    DuplicateError,
    NotFoundError,
    PermanentError,
    ValidationError,
)
from connectors.http import HttpPolicy, ResilientSession, create_once, parse_json, raise_for_error
from connectors.kashflow.invoice_mapping import bulk_payment_from_canonical
from connectors.kashflow.mapping import pick
from connectors.models import Connection
from connectors.paging import follow_cursor

logger = logging.getLogger(__name__)

INVALID_SESSION_TOKEN = "InvalidSessionToken"  # noqa: S105 (an error code, not a secret)
DEFAULT_PER_PAGE = 100
DEFAULT_TOKEN_IDLE_S = 45 * 60

# Kashflow's `Error` codes -> the exception tree (the status map covers the rest).
ERROR_CLASSES: dict[str, type[ConcordError]] = {
    "DuplicateCustomerCode": DuplicateError,
    "DuplicateInvoiceNumber": DuplicateError,
    "DuplicateProductCode": DuplicateError,
    "DuplicateBulkPaymentNumber": DuplicateError,
    "NotFound": NotFoundError,
    "ValidationError": ValidationError,
    INVALID_SESSION_TOKEN: AuthError,
    "InvalidCredentials": AuthError,
    "AccountLocked": AuthError,
}


def describe_error(response: requests.Response) -> tuple[str, str, type[ConcordError] | None]:
    """(Message, Error code, exception class or None) from a Kashflow error body."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return "", "", None
    if not isinstance(body, dict):
        return "", "", None
    code = str(pick(body, "Error", default="") or "")
    message = str(pick(body, "Message", default="") or "")
    error_class = ERROR_CLASSES.get(code)
    if error_class is None and code.startswith("Duplicate"):
        error_class = DuplicateError
    return message, code, error_class


_DECIMAL_MARK = "\u0000D"
_DECIMAL_LITERAL = re.compile(r'"\\u0000D(-?[0-9]+(?:\.[0-9]+)?(?:E[+-]?[0-9]+)?)"')


def dumps_json(payload) -> bytes:
    """JSON with every Decimal written as a bare number, exactly (no float on the way)."""

    def mark(value):
        if isinstance(value, Decimal):
            return _DECIMAL_MARK + format(value, "f")
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [mark(item) for item in value]
        return value

    text = json.dumps(mark(payload), separators=(",", ":"))
    return _DECIMAL_LITERAL.sub(r"\1", text).encode()


@dataclass
class _CachedToken:
    token: str
    identity: tuple[str, str]
    last_used: float


_tokens: dict[str, _CachedToken] = {}
_tokens_lock = threading.Lock()
_login_locks: dict[str, threading.Lock] = {}


def forget_token(connection_name: str) -> None:
    """Drop a connection's cached session token (credentials changed, or a test wants a login)."""
    with _tokens_lock:
        _tokens.pop(connection_name, None)


class KashflowClient:
    """Kashflow REST v2 for one Connection, speaking Kashflow's own field names."""

    def __init__(self, connection: Connection, session: ResilientSession | None = None):
        self.connection = connection
        self.name = connection.name
        self.session = session or ResilientSession(
            connection.name,
            verify=connection.options.get("ca_bundle") or True,
            policy=HttpPolicy.from_options(connection.options),
        )
        self.base_url = connection.base_url.rstrip("/")
        options = connection.options or {}
        self.per_page = int(options.get("kashflow_per_page", DEFAULT_PER_PAGE))
        self.token_idle_s = float(options.get("kashflow_token_idle_s", DEFAULT_TOKEN_IDLE_S))
        self.payments_mode = str(options.get("kashflow_payments", "single")).lower()
        self._identity = (self.base_url, connection.username.lower())
        self._default_bank_account: int | None = None

    # Session token ---------------------------------------------------------------------------
    def token(self) -> str:
        """The cached session token of this connection, logging in when there is none."""
        with _tokens_lock:
            cached = _tokens.get(self.name)
            lock = _login_locks.setdefault(self.name, threading.Lock())
        if self._usable(cached):
            return cached.token
        with lock:  # one login per connection at a time; the others wait and reuse it
            with _tokens_lock:
                cached = _tokens.get(self.name)
            if self._usable(cached):
                return cached.token
            token = self.log_in()
            with _tokens_lock:
                _tokens[self.name] = _CachedToken(token, self._identity, time.monotonic())
            return token

    def _usable(self, cached: _CachedToken | None) -> bool:
        return (
            cached is not None
            and cached.identity == self._identity
            and time.monotonic() - cached.last_used < self.token_idle_s
        )

    def _drop_token(self, token: str) -> None:
        with _tokens_lock:
            cached = _tokens.get(self.name)
            if cached is not None and cached.token == token:  # not one another thread renewed
                del _tokens[self.name]

    def _touch(self, token: str) -> None:
        with _tokens_lock:
            cached = _tokens.get(self.name)
            if cached is not None and cached.token == token:
                cached.last_used = time.monotonic()

    def log_in(self) -> str:
        """Both steps of the session-token login; returns the session token (not cached)."""
        password = self.connection.get_secret("password")
        word = self.connection.get_secret("memorable_word")
        if not (self.connection.username and password and word):
            raise AuthError(
                "Kashflow needs a user name, a password and a memorable word",
                connection=self.name,
            )
        first = self._login_step(
            "POST", {"UserName": self.connection.username, "Password": password}
        )
        answers = []
        for item in pick(first, "MemorableWordList", default=[]) or []:
            position = int(pick(item, "Position"))
            if not 1 <= position <= len(word):
                raise AuthError(
                    f"Kashflow asked for memorable-word character {position}, but the stored "
                    f"word has {len(word)} characters",
                    connection=self.name,
                )
            answers.append({"Position": position, "Value": word[position - 1]})
        second = self._login_step(
            "PUT",
            {"TemporaryToken": pick(first, "TemporaryToken"), "MemorableWordList": answers},
        )
        token = pick(second, "SessionToken")
        if not token:
            raise AuthError(
                "Kashflow answered the login without a SessionToken", connection=self.name
            )
        logger.info("connection=%s logged in to Kashflow", self.name)
        return str(token)

    def _login_step(self, method: str, body: dict) -> dict:
        response = self.session.request(
            method,
            f"{self.base_url}/sessiontoken",
            data=dumps_json(body),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        if 400 <= response.status_code < 500:
            message, code, _ = describe_error(response)
            raise AuthError(
                f"Kashflow refused the login ({method} /sessiontoken answered "
                f"{response.status_code})" + (f": {message}" if message else ""),
                status=response.status_code,
                system_message=message,
                code=code,
                connection=self.name,
            )
        raise_for_error(response, connection=self.name, describe=describe_error)
        body = parse_json(response, connection=self.name)
        if not isinstance(body, dict):
            raise AuthError("Kashflow answered the login with no object", connection=self.name)
        return body

    def log_out(self) -> None:
        """End the session at Kashflow (DELETE /sessiontoken) and forget the token."""
        with _tokens_lock:
            cached = _tokens.pop(self.name, None)
        if cached is not None:
            self.session.delete(
                f"{self.base_url}/sessiontoken", headers=self._headers(cached.token)
            )

    # One call --------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """An absolute URL for a path or a MetaData page URL (relative to the API base)."""
        if path.startswith(("https://", "http://")):
            base, given = urlsplit(self.base_url), urlsplit(path)
            if (given.scheme, given.netloc) != (base.scheme, base.netloc):
                # Never send the session token to another host.
                raise PermanentError(f"Kashflow page URL on another host: {given.netloc}")
            return path
        base_path = urlsplit(self.base_url).path.rstrip("/")
        if base_path and path.startswith(base_path + "/"):
            path = path[len(base_path) :]
        return f"{self.base_url}/{path.lstrip('/')}"

    def _headers(self, token: str) -> dict:
        return {
            "Authorization": f"KfToken {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def request(self, method: str, path: str, body=None, params: dict | None = None):
        """One authenticated call; the parsed JSON body (None for 204)."""
        url = self.url(path)
        data = dumps_json(body) if body is not None else None
        for attempt in (1, 2):
            token = self.token()
            response = self.session.request(
                method, url, params=params, data=data, headers=self._headers(token)
            )
            if response.status_code == 401:
                _, code, _ = describe_error(response)
                if attempt == 1 and code in (INVALID_SESSION_TOKEN, ""):
                    logger.info(
                        "connection=%s Kashflow session token refused; logging in again",
                        self.name,
                    )
                    self._drop_token(token)
                    continue
            break
        raise_for_error(response, connection=self.name, describe=describe_error)
        self._touch(token)
        if response.status_code == 204 or not response.content:
            return None
        return parse_json(response, connection=self.name)

    def get(self, path: str, params: dict | None = None):
        return self.request("GET", path, params=params)

    # Reads -----------------------------------------------------------------------------------
    def iter_list(
        self, resource: str, *, sort_by: str, key: Callable[[dict], object]
    ) -> Iterator[dict]:
        """Every item of a list endpoint, following NextPageUrl; no loops, no repeats."""
        first = f"/{resource}?page=1&perpage={self.per_page}&sortby={sort_by}&order=Asc"

        def fetch(cursor: str | None) -> tuple[list[dict], str | None]:
            page = self.get(cursor or first) or {}
            items = pick(page, "Data", default=[]) or []
            next_url = pick(pick(page, "MetaData", default={}) or {}, "NextPageUrl")
            return [item for item in items if isinstance(item, dict)], next_url

        return follow_cursor(fetch, key=key, what=f"{self.name} {resource}")

    def first_page(self, resource: str, per_page: int = 1) -> tuple[list[dict], int]:
        """(items, TotalRecords) of the first page of a list endpoint."""
        page = self.get(f"/{resource}", params={"page": 1, "perpage": per_page}) or {}
        total = pick(pick(page, "MetaData", default={}) or {}, "TotalRecords", default=0)
        return list(pick(page, "Data", default=[]) or []), int(total or 0)

    def iter_customers(self) -> Iterator[dict]:
        return self.iter_list("customers", sort_by="Code", key=lambda c: str(c["Code"]).upper())

    def iter_products(self) -> Iterator[dict]:
        return self.iter_list("products", sort_by="Code", key=lambda p: str(p["Code"]).upper())

    def iter_invoices(self) -> Iterator[dict]:
        """Invoice summaries (no lines or payments: get_invoice has those)."""
        return self.iter_list("invoices", sort_by="Number", key=lambda i: int(i["Number"]))

    def get_customer(self, code: str) -> dict:
        return self.get(f"/customers/{quote(str(code), safe='')}")

    def find_customer(self, code: str) -> dict | None:
        try:
            return self.get_customer(code)
        except NotFoundError:
            return None

    def get_invoice(self, number: int | str) -> dict:
        return self.get(f"/invoices/{int(number)}")

    def find_invoice(self, number: int | str) -> dict | None:
        try:
            return self.get_invoice(number)
        except NotFoundError:
            return None

    def find_invoices_by_reference(self, reference: str) -> list[dict]:
        """Invoice summaries whose CustomerReference is exactly `reference`."""
        found = self.get("/invoices", params={"filterby": reference, "perpage": 250}) or {}
        return [
            item
            for item in pick(found, "Data", default=[]) or []
            if str(pick(item, "CustomerReference") or "") == reference
        ]

    def get_product(self, code: str) -> dict:
        return self.get(f"/products/{quote(str(code), safe='')}")

    def default_bank_account_id(self) -> int | None:
        """The Id of Kashflow's default bank account (asked once per client)."""
        if self._default_bank_account is None:
            accounts, _ = self.first_page("bankaccounts", per_page=250)
            default = next((a for a in accounts if pick(a, "IsDefaultAccount") is True), None)
            chosen = default or (accounts[0] if accounts else None)
            self._default_bank_account = int(pick(chosen, "Id")) if chosen else 0
        return self._default_bank_account or None

    # Writes ----------------------------------------------------------------------------------
    def create_customer(self, payload: dict) -> dict:
        """POST /customers, looked up by Code before any second attempt. Needs a Code."""
        code = payload.get("Code")
        if not code:
            raise ValidationError("a customer create needs a Code to be retry-safe")
        return create_once(
            lambda: self.request("POST", "/customers", payload),
            lambda: self.find_customer(code),
        )

    def update_customer(self, code: str, payload: dict) -> dict:
        return self.request("PUT", f"/customers/{quote(str(code), safe='')}", payload)

    def create_invoice(self, payload: dict) -> dict:
        """POST /invoices, looked up by Number (or exact CustomerReference) before a retry."""
        number = payload.get("Number")
        reference = payload.get("CustomerReference")

        def find_existing() -> dict | None:
            if number:
                return self.find_invoice(number)
            if reference:
                matches = self.find_invoices_by_reference(reference)
                return self.get_invoice(matches[0]["Number"]) if matches else None
            return None

        return create_once(lambda: self.request("POST", "/invoices", payload), find_existing)

    def invoice_payments(self, number: int | str) -> list[dict]:
        return self.get(f"/invoices/{int(number)}/payments") or []

    def find_invoice_payment(self, number: int | str, note: str, amount: Decimal) -> dict | None:
        """A payment on the invoice with this Note and Amount (how a retry recognises it)."""
        for item in self.invoice_payments(number):
            if str(pick(item, "Note") or "") == note and Decimal(str(pick(item, "Amount"))) == (
                Decimal(str(amount))
            ):
                return item
        return None

    def add_invoice_payment(self, number: int | str, payment: dict) -> dict:
        """Record a payment (a PaymentItem body) on one invoice; returns the PaymentItem.

        Uses `POST /invoices/{number}/payments`, or with `options["kashflow_payments"] =
        "bulk"` a one-item bulk payment (`POST /invoices/bulk/payments`, the CONFIRMED route).
        Either way a retry after a timeout first looks for the payment by its Note and Amount.
        """
        number = int(number)

        def find_existing() -> dict | None:
            return self.find_invoice_payment(number, payment.get("Note", ""), payment["Amount"])

        if self.payments_mode == "bulk":
            body = bulk_payment_from_canonical(payment, number)

            def create() -> dict:
                self.request("POST", "/invoices/bulk/payments", body)
                return find_existing() or {}

        else:

            def create() -> dict:
                return self.request("POST", f"/invoices/{number}/payments", payment)

        return create_once(create, find_existing)
