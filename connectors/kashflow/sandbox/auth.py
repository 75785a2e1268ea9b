"""Kashflow's two-step session token: password, then three memorable-word characters.

Step 1 (`POST /v2/sessiontoken`) trades UserName + Password for a TemporaryToken and three
random 1-based positions of the memorable word; step 2 (`PUT /v2/sessiontoken`) trades the
token and those characters for a SessionToken, sent afterwards as `Authorization: KfToken
<token>`. Session tokens expire after an idle period; `DELETE /v2/sessiontoken` ends one at once.
Tokens live in memory only: a restarted sandbox asks every client to log in again.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.kashflow.sandbox.wire import (
    ErrorCode,
    KashflowError,
    json_object,
    json_response,
    pick,
    validation,
)
from connectors.sandbox.server import Handler, Request, Response

INVALID_SESSION_MESSAGE = "Session token provided is invalid."
CREDENTIALS_FILE = "kashflow-credentials.json"


@dataclass
class Credentials:
    username: str
    password: str
    memorable_word: str

    @classmethod
    def load_or_create(cls, state_dir: Path) -> Credentials:
        """Random credentials generated once per state directory, so endpoints.json stays valid."""
        path = Path(state_dir) / CREDENTIALS_FILE
        if path.exists():
            return cls(**json.loads(path.read_text()))
        words = ["pineapple", "harbourside", "marmalade", "blackberry", "lighthouse"]
        credentials = cls(
            username="sandbox.admin@concord.test",
            password=secrets.token_urlsafe(12),
            memorable_word=secrets.choice(words),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(credentials.__dict__))
        path.chmod(0o600)
        return credentials


@dataclass
class AuthSettings:
    """Timings and limits a test can change through `POST /__sandbox__/settings`."""

    session_idle_timeout_s: float = 60 * 60
    temporary_token_ttl_s: float = 5 * 60
    lockout_after: int = 5  # consecutive failed logins; 0 disables the lockout


@dataclass
class _Pending:
    positions: list[int]
    expires_at: float


@dataclass
class SessionState:
    settings: AuthSettings = field(default_factory=AuthSettings)
    pending: dict[str, _Pending] = field(default_factory=dict)
    sessions: dict[str, float] = field(default_factory=dict)  # token -> last used (monotonic)
    failures: int = 0
    locked: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class AuthMixin:
    """The `/v2/sessiontoken` routes and the `KfToken` check wrapped around every other route."""

    credentials: Credentials
    auth: SessionState

    def auth_routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/v2/sessiontoken", self.start_session),
            ("PUT", "/v2/sessiontoken", self.finish_session),
            ("DELETE", "/v2/sessiontoken", self.authenticated(self.end_session)),
        ]

    # Step 1 -----------------------------------------------------------------------------
    def start_session(self, request: Request) -> Response:
        body = json_object(request)
        username = pick(body, "UserName", "Username")
        password = pick(body, "Password")
        if not username or not password:
            raise validation("UserName and Password are required.")
        with self.auth.lock:
            self._refuse_if_locked()
            known = username.lower() == self.credentials.username.lower()
            if not known or not secrets.compare_digest(
                str(password).encode(), self.credentials.password.encode()
            ):
                self._failed_login("The user name or password is incorrect.")
            token = str(uuid.uuid4())
            word_length = len(self.credentials.memorable_word)
            positions = sorted(random.sample(range(1, word_length + 1), 3))
            self.auth.pending[token] = _Pending(
                positions, time.monotonic() + self.auth.settings.temporary_token_ttl_s
            )
        return json_response(
            200,
            {
                "TemporaryToken": token,
                "MemorableWordList": [{"Position": p, "Value": ""} for p in positions],
                "HasTemporaryPassword": False,
                "IsAdmin": True,
                "PackageName": "Business",
                "PartnerBrandingOptOut": True,
                "PartnerId": 3,
                "SubscriptionExpired": False,
            },
        )

    # Step 2 -----------------------------------------------------------------------------
    def finish_session(self, request: Request) -> Response:
        body = json_object(request)
        token = pick(body, "TemporaryToken")
        answers = pick(body, "MemorableWordList")
        if not token or not isinstance(answers, list):
            raise validation("TemporaryToken and MemorableWordList are required.")
        with self.auth.lock:
            self._refuse_if_locked()
            pending = self.auth.pending.pop(str(token), None)  # single use, right or wrong
            if pending is None or pending.expires_at < time.monotonic():
                raise KashflowError(
                    401,
                    ErrorCode.INVALID_CREDENTIALS,
                    "The temporary token is invalid or has expired. Log in again.",
                )
            given = {}
            for answer in answers:
                if isinstance(answer, dict):
                    given[pick(answer, "Position")] = str(pick(answer, "Value", default="") or "")
            word = self.credentials.memorable_word.lower()
            correct = set(given) == set(pending.positions) and all(
                len(given[p]) == 1 and given[p].lower() == word[p - 1] for p in pending.positions
            )
            if not correct:
                self._failed_login("The memorable word characters are incorrect.")
            self.auth.failures = 0
            session_token = str(uuid.uuid4())
            self.auth.sessions[session_token] = time.monotonic()
        expiry = (datetime.now(UTC) + timedelta(days=365)).strftime("%Y-%m-%dT00:00:00")
        return json_response(
            200,
            {
                "SessionToken": session_token,
                "CompanyName": "Concord Sandbox Ltd",
                "IsAdmin": True,
                "SubscriptionExpired": False,
                "SubscriptionExpiryDate": expiry,
                "PartnerId": 3,
                "PackageName": "Business",
                "PartnerBrandingOptOut": True,
                "StartPageUrl": "/dashboard",
                "HasTemporaryPassword": False,
            },
        )

    def end_session(self, request: Request) -> Response:
        with self.auth.lock:
            self.auth.sessions.pop(_token_of(request) or "", None)
        return Response(204)

    # Helpers ----------------------------------------------------------------------------
    def _refuse_if_locked(self) -> None:
        if self.auth.locked:
            raise KashflowError(
                401,
                ErrorCode.ACCOUNT_LOCKED,
                f"User {self.credentials.username} is locked after too many failed logins.",
            )

    def _failed_login(self, message: str) -> None:
        self.auth.failures += 1
        limit = self.auth.settings.lockout_after
        if limit and self.auth.failures >= limit:
            self.auth.locked = True
        raise KashflowError(401, ErrorCode.INVALID_CREDENTIALS, message)

    def authenticated(self, handler: Handler) -> Handler:
        """Wraps a handler: 401 InvalidSessionToken unless a live KfToken comes with the call."""

        def guarded(request: Request) -> Response:
            token = _token_of(request)
            now = time.monotonic()
            with self.auth.lock:
                last_used = self.auth.sessions.get(token or "")
                idle_limit = self.auth.settings.session_idle_timeout_s
                if last_used is None or now - last_used > idle_limit:
                    self.auth.sessions.pop(token or "", None)
                    raise KashflowError(
                        401, ErrorCode.INVALID_SESSION_TOKEN, INVALID_SESSION_MESSAGE
                    )
                self.auth.sessions[token] = now
            return handler(request)

        return guarded

    def expire_sessions(self) -> int:
        with self.auth.lock:
            count = len(self.auth.sessions)
            self.auth.sessions.clear()
            return count

    def unlock_account(self) -> None:
        with self.auth.lock:
            self.auth.locked = False
            self.auth.failures = 0


def _token_of(request: Request) -> str | None:
    header = request.header("Authorization") or ""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "kftoken" or not token.strip():
        return None
    return token.strip()
