"""OAuth 2.0 for Salesforce, done by the hub: client-credentials and JWT bearer, tokens cached.

simple-salesforce's own logins always go to `https://{domain}.salesforce.com`, so the hub asks
the connection's login URL (`Connection.base_url`, e.g. https://acme.my.salesforce.com) for a
token itself and hands simple-salesforce the instance URL and access token ("direct" mode).

- `auth_flow = "client_credentials"` (the default): POST grant_type=client_credentials with the
  connected app's client id and secret (form fields).
- `auth_flow = "jwt_bearer"`: an RS256 JWT signed with the `private_key` secret (PEM), with
  iss = client id, sub = username, aud = the login URL (option `jwt_audience` overrides it,
  e.g. https://login.salesforce.com), exp = now + 3 minutes.

Tokens are cached per connection in this process (Salesforce sessions are idle-timed, so a
token stays good while it is used); `forget_token` drops one after INVALID_SESSION_ID. Tokens
and keys never reach a log line or an exception message.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from connectors.errors import AuthError
from connectors.http import parse_json
from connectors.models import Connection

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_S = 180
CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER = "jwt_bearer"
FLOWS = {CLIENT_CREDENTIALS, JWT_BEARER, "jwt"}


@dataclass(frozen=True)
class Token:
    """An access token and the instance it is good for."""

    access_token: str = field(repr=False)
    instance_url: str


_tokens: dict[tuple, Token] = {}
_lock = threading.Lock()


def auth_flow(connection: Connection) -> str:
    flow = str(connection.options.get("auth_flow") or CLIENT_CREDENTIALS).lower()
    if flow not in FLOWS:
        raise AuthError(
            f"unknown auth_flow {flow!r} for {connection.name}; use client_credentials or "
            "jwt_bearer",
            connection=connection.name,
        )
    return JWT_BEARER if flow == "jwt" else flow


def _cache_key(connection: Connection) -> tuple:
    # A changed login URL, app or user must not reuse another identity's token.
    return (
        connection.name,
        connection.base_url,
        connection.client_id,
        connection.username,
        str(connection.options.get("auth_flow") or CLIENT_CREDENTIALS),
    )


def cached_token(connection: Connection) -> Token | None:
    with _lock:
        return _tokens.get(_cache_key(connection))


def forget_token(connection: Connection, token: Token | None = None) -> None:
    """Drop the cached token (only if it is still `token`, when given: another thread may
    already have logged in again)."""
    key = _cache_key(connection)
    with _lock:
        if token is None or _tokens.get(key) == token:
            _tokens.pop(key, None)


def token_for(connection: Connection, session) -> Token:
    """The cached token, or a new one from the login URL."""
    token = cached_token(connection)
    if token is None:
        token = login(connection, session)
        with _lock:
            _tokens[_cache_key(connection)] = token
    return token


def login(connection: Connection, session) -> Token:
    """Ask the login URL for a token with the connection's flow; AuthError when refused."""
    flow = auth_flow(connection)
    login_url = connection.base_url.rstrip("/")
    if flow == CLIENT_CREDENTIALS:
        form = {
            "grant_type": "client_credentials",
            "client_id": connection.client_id,
            "client_secret": connection.get_secret("client_secret"),
        }
    else:
        audience = str(connection.options.get("jwt_audience") or login_url)
        form = {
            "grant_type": JWT_GRANT,
            "assertion": jwt_assertion(
                connection.client_id,
                connection.username,
                audience,
                connection.get_secret("private_key"),
            ),
        }
    response = session.post(f"{login_url}/services/oauth2/token", data=form)
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        error = str(body.get("error") or response.status_code)
        description = str(body.get("error_description") or "")
        raise AuthError(
            f"Salesforce login ({flow}) for {connection.name} failed: {error}"
            + (f" ({description})" if description else ""),
            status=response.status_code,
            code=error,
            system_message=description,
            connection=connection.name,
        )
    body = parse_json(response, connection=connection.name)
    if not isinstance(body, dict) or not body.get("access_token") or not body.get("instance_url"):
        raise AuthError(
            f"Salesforce login for {connection.name} answered without a token",
            connection=connection.name,
        )
    return Token(str(body["access_token"]), str(body["instance_url"]).rstrip("/"))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_assertion(
    client_id: str, username: str, audience: str, private_key_pem: str, now: float | None = None
) -> str:
    """An RS256-signed JWT bearer assertion for Salesforce's token endpoint."""
    if not private_key_pem:
        raise AuthError("the JWT bearer flow needs the connection's private_key secret")
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise AuthError("the private_key secret is not an unencrypted PEM private key") from None
    issued = int(now if now is not None else time.time())
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {"iss": client_id, "sub": username, "aud": audience, "exp": issued + JWT_LIFETIME_S}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"
