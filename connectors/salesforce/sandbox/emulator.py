"""The Salesforce sandbox: REST API 59.0 for simple-salesforce, unmodified, over loopback HTTPS.

It wires the parts together (auth.py OAuth and sessions, rest.py sObjects and SOQL,
composite.py Collections, bulk.py Bulk API 2.0, control.py the `/__sandbox__/` routes, seed.py
the seed world) and does what every API call shares: the Bearer token check (401 body
`[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]`, a JSON list as
the reference CONFIRMS), the daily API allowance (`Sforce-Limit-Info: api-usage=N/M` on every
`/services/data` response; once N reaches M calls fail with 403 `REQUEST_LIMIT_EXCEEDED`), the
caller's `Sforce-Call-Options: client=<id>` for change events, and the Streaming API routes
from streaming.py when that module is present.

Choices where the reference is LIKELY or UNCONFIRMED (details in each module's docstring):
- Versions 31.0 to 59.0 are served; newer ones are 404 `NOT_FOUND`.
- The API usage counter lives in memory and starts again at 0 after a restart or at midnight
  UTC; every authenticated `/services/data` call counts, `GET /services/data/` does not.
- Sessions live in memory, expire after `session_lifetime_s` idle (2 h); a JWT's `aud` may be
  the login URL or login/test.salesforce.com (auth.py).
- `ExternalId__c` is External ID but not Unique (so 300 on several matches), matched
  case-insensitively; `Payment__c.Kashflow_Payment_Id__c` is Unique (schema.py).
- Only `Opportunity.StageName` is a restricted picklist; line item price rules (rules.py).
- Query page size: min(2,000, header `batchSize` clamped to 200..2,000, `query_batch_size`);
  query locators kept in memory, the 200 most recent (rest.py). SOQL subset (soql.py).
- Collections: more than 200 records is 400 `EXCEEDED_ID_LIMIT`; a record without a type is
  400 `INVALID_FIELD` for the whole request; allOrNone publishes no event (composite.py).
- Bulk 2.0 jobs are processed while `UploadComplete` is answered; 200-row transactions; result
  CSVs quote every value (bulk.py).
- One change event per record, one transactionKey per request (per 200-row Bulk chunk);
  seeding publishes none (records.py, seed.py).
- SOAP login (`/services/Soap/u/<v>`) answers a minimal `loginResponse` for the sandbox
  username and password (a security token suffix is ignored); a wrong one is a 500 SOAP fault
  `INVALID_LOGIN`.
- Platform events (`POST /sobjects/<Name>__e`) accept any JSON object and answer 201 with an
  `e00` id; their schema is not checked.
- A fault scripted without a body gets this API's error list (400 `JSON_PARSER_ERROR`, 429
  and 403 `REQUEST_LIMIT_EXCEEDED`, 500 `UNKNOWN_EXCEPTION`, 503 `SERVER_UNAVAILABLE`).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

from connectors.salesforce.sandbox.auth import Authority, Credentials, ensure_jwt_keys
from connectors.salesforce.sandbox.bulk import BulkApi
from connectors.salesforce.sandbox.composite import Collections
from connectors.salesforce.sandbox.control import control_routes
from connectors.salesforce.sandbox.describe import NEWEST_VERSION, OLDEST_VERSION, versions
from connectors.salesforce.sandbox.events import EventBus
from connectors.salesforce.sandbox.records import Caller, Records
from connectors.salesforce.sandbox.rest import RestApi
from connectors.salesforce.sandbox.schema import API_VERSION
from connectors.salesforce.sandbox.seed import bootstrap_org, seed_org
from connectors.salesforce.sandbox.wire import ApiError, make_id
from connectors.sandbox.server import BadRequest, Emulator, Request, Response
from connectors.sandbox.state import StateStore

try:
    from connectors.salesforce.sandbox.streaming import streaming_control_routes, streaming_routes
except ImportError:  # the Streaming API is built separately; the REST API works without it
    streaming_routes = streaming_control_routes = None

DATA_PREFIX = r"/services/data/v(?P<version>\d+\.\d)"
DEFAULT_DAILY_LIMIT = 15000
STANDARD_ERRORS = {
    400: ("JSON_PARSER_ERROR", None),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", None),
    405: ("METHOD_NOT_ALLOWED", None),
    409: ("CONFLICT", None),
    429: ("REQUEST_LIMIT_EXCEEDED", "Too many requests"),
    500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if"
          " you contact support: 1234567890-12345 (-123456789)"),
    502: ("SERVER_UNAVAILABLE", None),
    503: ("SERVER_UNAVAILABLE", "Server unavailable"),
}  # fmt: skip


class SalesforceEmulator(Emulator):
    system = "salesforce"

    def __init__(self, store: StateStore, state_dir: Path):
        super().__init__(store, state_dir)
        self.credentials = self._load_credentials()
        self.jwt_private_key_path, public_pem = ensure_jwt_keys(self.state_dir)
        self.authority = Authority(self.credentials, public_pem)
        self.events = EventBus(store)
        self.records = Records(self)
        self.rest = RestApi(self)
        self.collections = Collections(self)
        self.bulk = BulkApi(self)
        self.query_batch_size = 2000
        self.daily_api_limit = DEFAULT_DAILY_LIMIT
        self._api_used = 0
        self._usage_day = datetime.now(UTC).date()
        self._usage_lock = threading.Lock()

    def _load_credentials(self) -> Credentials:
        path = self.state_dir / "salesforce_credentials.json"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(
                json.dumps(
                    {
                        "client_id": "3MVG9sandbox." + secrets.token_urlsafe(24),
                        "client_secret": secrets.token_hex(32),
                        "username": "integration@concord-sandbox.example.com",
                        "password": secrets.token_urlsafe(18),
                    }
                )
            )
        return Credentials(**json.loads(path.read_text()))

    # The emulator contract ---------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, object]]:
        routes = [
            ("GET", r"/services/data/?", self._versions),
            ("POST", r"/services/oauth2/token/?", self._token),
            ("POST", r"/services/Soap/u/(?P<version>\d+\.\d)/?.*", self._soap_login),
        ]  # fmt: skip
        for part in (self.rest, self.collections, self.bulk):
            for method, tail, handler in part.routes():
                pattern = DATA_PREFIX + (f"/{tail}" if tail else "") + "/?"
                routes.append((method, pattern, self.api(handler)))
        if streaming_routes is not None:
            routes += streaming_routes(self)
        return routes

    def control_routes(self) -> list[tuple[str, str, object]]:
        routes = control_routes(self)
        if streaming_control_routes is not None:
            routes += streaming_control_routes(self)
        return routes

    def error_response(self, status: int, message: str) -> Response:
        code, standard = STANDARD_ERRORS.get(status, ("UNKNOWN_EXCEPTION", None))
        return self.with_limits(ApiError(status, code, standard or message).response())

    def endpoints(self) -> dict:
        return {
            "login_url": self.base_origin,
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
            "username": self.credentials.username,
            "password": self.credentials.password,
            "api_version": API_VERSION,
            "control_url": self.control_url,
            "jwt_private_key_path": str(self.jwt_private_key_path),
        }

    def bootstrap(self) -> None:
        bootstrap_org(self)

    def seed(self, world) -> list[tuple[str, str, str]]:
        return seed_org(self, world)

    def reset(self, reseed: bool = False) -> None:
        with self.records.lock:
            self.records.forget_indexes()
            self.rest.forget_cursors()
            super().reset(reseed)
            self.records.forget_indexes()

    # Shared by every API call ------------------------------------------------------------
    def authenticate(self, request: Request) -> dict | None:
        """The session behind the request's `Authorization: Bearer <token>`, or None."""
        authorization = request.header("authorization", "") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return None
        session = self.authority.check(token.strip())
        if session is None:
            return None
        return {
            "access_token": session.token,
            "username": session.username,
            "issued_at": session.issued_at,
        }

    def caller(self, request: Request | None) -> Caller:
        options = (request.header("sforce-call-options", "") if request else "") or ""
        match = re.search(r"(?:^|[,;\s])client\s*=\s*([^,;\s]+)", options)
        return Caller(client_id=match.group(1) if match else None)

    def api_usage(self) -> tuple[int, int]:
        with self._usage_lock:
            self._roll_usage_day()
            return self._api_used, self.daily_api_limit

    def set_api_usage(self, used: int) -> None:
        with self._usage_lock:
            self._api_used = max(0, used)

    def _roll_usage_day(self) -> None:
        today = datetime.now(UTC).date()
        if today != self._usage_day:
            self._usage_day, self._api_used = today, 0

    def _count_call(self) -> bool:
        with self._usage_lock:
            self._roll_usage_day()
            if self._api_used >= self.daily_api_limit:
                return False
            self._api_used += 1
            return True

    def with_limits(self, response: Response) -> Response:
        used, maximum = self.api_usage()
        response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{maximum}"
        return response

    def api(self, handler):
        """Wrap a REST handler: version check, session, allowance, error bodies, usage header."""

        def wrapped(request: Request) -> Response:
            try:
                version = float(request.match.group("version"))
                if not OLDEST_VERSION <= version <= NEWEST_VERSION:
                    raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
                if self.authenticate(request) is None:
                    raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
                if not self._count_call():
                    raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                response = handler(request)
            except ApiError as error:
                response = error.response()
            except BadRequest as error:
                response = ApiError(400, "JSON_PARSER_ERROR", str(error)).response()
            return self.with_limits(response)

        return wrapped

    def publish_platform_event(self, name: str, payload: dict) -> Response:
        self.events.publish_platform_event(name, payload)
        return Response(
            201,
            {
                "id": make_id("e00", self.store.next_id("platform-event")),
                "success": True,
                "errors": [],
            },
        )

    def _versions(self, request: Request) -> Response:
        return self.with_limits(Response(200, versions()))

    # Login endpoints ---------------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        return self.authority.token_endpoint(request, self.base_origin)

    def _soap_login(self, request: Request) -> Response:
        text = request.body.decode("utf-8", "replace")
        username = re.search(r"<(?:\w+:)?username>(.*?)</(?:\w+:)?username>", text, re.S)
        password = re.search(r"<(?:\w+:)?password>(.*?)</(?:\w+:)?password>", text, re.S)
        expected = self.credentials.password
        if (
            not username
            or not password
            or username.group(1).strip() != self.credentials.username
            or not password.group(1).strip().startswith(expected)
        ):
            fault = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
                '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.'
                'sforce.com"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN'
                "</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security"
                " token; or user locked out.</faultstring><detail><sf:LoginFault><sf:"
                "exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid"
                " username, password, security token; or user locked out.</sf:exceptionMessage>"
                "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
            )
            return Response(500, fault.encode(), {"Content-Type": "text/xml; charset=utf-8"})
        session = self.authority.issue(self.credentials.username)
        version = request.match.group("version")
        server_url = f"{self.base_origin}/services/Soap/u/{version}/00D8d000000SbxQ"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
            '"http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
            "<soapenv:Body><loginResponse><result><passwordExpired>false</passwordExpired>"
            f"<serverUrl>{server_url}</serverUrl><sessionId>{session.token}</sessionId>"
            "<userId>0058d000000Sbx1AAC</userId></result></loginResponse></soapenv:Body>"
            "</soapenv:Envelope>"
        )
        return Response(200, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})
