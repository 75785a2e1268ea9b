"""OAuth 2.0 for the Salesforce sandbox: the token endpoint, sessions and the JWT key pair.

`POST /services/oauth2/token` takes the password, client_credentials (Basic header or form
fields) and JWT bearer grants and answers like Salesforce (`access_token`, `instance_url`,
`id`, `token_type`, `issued_at`, `signature`); failures are 400 `{"error",
"error_description"}` (`invalid_client_id`, `invalid_client`, `invalid_grant`,
`unsupported_grant_type`). Choices where the reference is silent:
- A JWT must be RS256-signed by the key registered for the connected app (the private key is
  written to `salesforce_jwt_private.pem` in the state directory and named in endpoints.json),
  `iss` = client id, `sub` = the sandbox username, `aud` = the login URL or
  https://login.salesforce.com / https://test.salesforce.com, `exp` in the future; any failure
  is `invalid_grant` / `invalid assertion` (an expired one `expired authorization code`).
- Sessions live in memory (a restarted sandbox forgets them, the client logs in again) and
  expire after `session_lifetime_s` of inactivity (Salesforce's timeout is idle time too;
  default 2 h).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.sandbox.server import Request, Response

ORG_ID = "00D8d000000SbxQEAS"
USER_ID = "0058d000000Sbx1AAC"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass
class Credentials:
    client_id: str
    client_secret: str
    username: str
    password: str


@dataclass
class Session:
    token: str
    username: str
    issued_at: float
    last_used: float


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def response(self) -> Response:
        return Response(self.status, {"error": self.error, "error_description": self.description})


def ensure_jwt_keys(state_dir: Path) -> tuple[Path, bytes]:
    """The connected app's key pair: (private key path for clients, public key PEM)."""
    private_path = state_dir / "salesforce_jwt_private.pem"
    public_path = state_dir / "salesforce_jwt_public.pem"
    if not private_path.exists() or not public_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        private_path.touch(mode=0o600)
        private_path.write_bytes(private_pem)
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private_path, public_path.read_bytes()


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jwt(assertion: str, public_pem: bytes) -> dict:
    """The claims of an RS256 JWT signed by the registered key; OAuthError otherwise."""
    invalid = OAuthError("invalid_grant", "invalid assertion")
    try:
        header_part, claims_part, signature_part = assertion.split(".")
        header = json.loads(_b64decode(header_part))
        claims = json.loads(_b64decode(claims_part))
        signature = _b64decode(signature_part)
    except (ValueError, binascii.Error):
        raise invalid from None
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise invalid
    public_key = serialization.load_pem_public_key(public_pem)
    try:
        public_key.verify(
            signature,
            f"{header_part}.{claims_part}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        raise invalid from None
    return claims


class Authority:
    """Issues and checks access tokens for one sandbox org."""

    def __init__(self, credentials: Credentials, public_pem: bytes):
        self.credentials = credentials
        self.public_pem = public_pem
        self.session_lifetime_s = 7200.0
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    # Sessions ----------------------------------------------------------------------------
    def issue(self, username: str) -> Session:
        now = time.time()
        token = f"{ORG_ID[:15]}!AR{secrets.token_urlsafe(72)}"
        session = Session(token, username, now, now)
        with self._lock:
            self._sessions[token] = session
        return session

    def check(self, token: str | None) -> Session | None:
        """The live session for a token (touching it), or None if unknown or expired."""
        if not token:
            return None
        now = time.time()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_used > self.session_lifetime_s:
                del self._sessions[token]
                return None
            session.last_used = now
            return session

    def expire(self, token: str | None = None) -> int:
        """End one session (or all of them); returns how many ended."""
        with self._lock:
            if token is None:
                count = len(self._sessions)
                self._sessions.clear()
                return count
            return 1 if self._sessions.pop(token, None) else 0

    # Token endpoint ----------------------------------------------------------------------
    def token_endpoint(self, request: Request, origin: str) -> Response:
        try:
            form = {
                key: values[0]
                for key, values in parse_qs(request.body.decode("utf-8", "replace")).items()
            }
            form.update({key: values[0] for key, values in request.query.items()})
            grant = form.get("grant_type", "")
            if grant == "password":
                username = self._password_grant(form)
            elif grant == "client_credentials":
                username = self._client_credentials_grant(request, form)
            elif grant == JWT_GRANT:
                username = self._jwt_grant(form, origin)
            else:
                raise OAuthError("unsupported_grant_type", "grant type not supported")
        except OAuthError as error:
            return error.response()
        session = self.issue(username)
        identity = f"{origin}/id/{ORG_ID}/{USER_ID}"
        issued_at = str(int(session.issued_at * 1000))
        signature = base64.b64encode(
            hmac.new(
                self.credentials.client_secret.encode(),
                (identity + issued_at).encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        return Response(
            200,
            {
                "access_token": session.token,
                "instance_url": origin,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
                "signature": signature,
                "scope": "api",
            },
        )

    def _client(self, client_id: str | None, secret: str | None, need_secret: bool) -> None:
        if not client_id or not hmac.compare_digest(client_id, self.credentials.client_id):
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if need_secret and not hmac.compare_digest(secret or "", self.credentials.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _password_grant(self, form: dict) -> str:
        self._client(form.get("client_id"), form.get("client_secret"), need_secret=True)
        if form.get("username") != self.credentials.username or not hmac.compare_digest(
            form.get("password", ""), self.credentials.password
        ):
            raise OAuthError("invalid_grant", "authentication failure")
        return self.credentials.username

    def _client_credentials_grant(self, request: Request, form: dict) -> str:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        authorization = request.header("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
                client_id, _, secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", "invalid client credentials") from None
        self._client(client_id, secret, need_secret=True)
        return self.credentials.username

    def _jwt_grant(self, form: dict, origin: str) -> str:
        claims = verify_jwt(form.get("assertion", ""), self.public_pem)
        self._client(claims.get("iss"), None, need_secret=False)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(str(item).rstrip("/") in (origin, *AUDIENCES) for item in audiences):
            raise OAuthError("invalid_grant", "invalid assertion")
        if claims.get("sub") != self.credentials.username:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires < time.time():
            raise OAuthError("invalid_grant", "expired authorization code")
        return self.credentials.username
