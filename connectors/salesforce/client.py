"""SalesforceClient: simple-salesforce over the shared resilient session, with the hub's OAuth.

Every call goes through `ResilientSession` (timeouts, retries, breaker, rate limit, the daily
allowance read from `Sforce-Limit-Info`) because simple-salesforce is given the connector's
session. The client logs in itself (auth.py), hands simple-salesforce the token, and on an
expired session (401 INVALID_SESSION_ID) logs in once more and repeats the call; a second
failure is an AuthError. simple-salesforce's exceptions become the connectors' tree in
errors.py, in one place (`call`).

Every request carries `Sforce-Call-Options: client=<client_id_tag>` (default "concord-hub"),
on the session itself so Bulk API 2.0 requests carry it too: change events caused by the
hub's writes name it in `changeOrigin`, which is how the hub recognises its own echoes.

Reads page with `nextRecordsUrl` through `follow_cursor` (loop guard, no repeats). Writes:
`upsert_by_external_id` (idempotent), `create` through `create_once` with a lookup by external
id, batches in batch.py (Collections up to 200 a request, Bulk API 2.0 above
`bulk_threshold`).

Options (Connection.options): `api_version` ("59.0"), `auth_flow`, `jwt_audience`,
`client_id_tag`, `query_batch_size` (sent as `Sforce-Query-Options: batchSize=N`),
`bulk_threshold` (2000), `bulk_poll_seconds` (2), plus the HTTP policy's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TypeVar
from urllib.parse import quote

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceOperationError,
)

from connectors.errors import AuthError, NotFoundError
from connectors.http import create_once
from connectors.models import Connection
from connectors.paging import follow_cursor
from connectors.salesforce import auth
from connectors.salesforce.batch import RecordResult, upsert_many
from connectors.salesforce.errors import translate

logger = logging.getLogger(__name__)

DEFAULT_API_VERSION = "59.0"
DEFAULT_CLIENT_TAG = "concord-hub"
T = TypeVar("T")


class SalesforceClient:
    """One connection's Salesforce API: login, calls with re-auth, reads, writes."""

    def __init__(self, connection: Connection, session):
        self.connection = connection
        self.session = session
        options = connection.options or {}
        self.api_version = str(options.get("api_version") or DEFAULT_API_VERSION)
        self.client_tag = str(options.get("client_id_tag") or DEFAULT_CLIENT_TAG)
        self.bulk_threshold = int(options.get("bulk_threshold") or 2000)
        self.bulk_poll_seconds = float(options.get("bulk_poll_seconds") or 2)
        self.query_batch_size = int(options.get("query_batch_size") or 0)
        self.session.headers["Sforce-Call-Options"] = f"client={self.client_tag}"
        self._api: Salesforce | None = None
        self._token: auth.Token | None = None

    # Sessions and calls -----------------------------------------------------------------
    def api(self) -> Salesforce:
        """simple-salesforce on the cached (or a new) token."""
        if self._api is None:
            self._token = auth.token_for(self.connection, self.session)
            self._api = Salesforce(
                instance_url=self._token.instance_url,
                session_id=self._token.access_token,
                session=self.session,
                version=self.api_version,
                parse_float=Decimal,  # money never passes through float
                object_pairs_hook=dict,
            )
        return self._api

    def login(self) -> None:
        """Forget any cached token and log in now (Test connection, and after a 401)."""
        auth.forget_token(self.connection, self._token)
        self._api = self._token = None
        self.api()

    def call(self, operation: Callable[[Salesforce], T], what: str) -> T:
        """Run `operation(api)`; log in again once on an expired session; translate errors."""
        for attempt in (1, 2):
            api = self.api()
            try:
                return operation(api)
            except SalesforceExpiredSession as exc:
                if attempt == 2:
                    raise AuthError(
                        f"{what}: the Salesforce session was refused again right after a new "
                        "login; check the connected app and the user's permissions",
                        status=exc.status,
                        code="INVALID_SESSION_ID",
                        connection=self.connection.name,
                    ) from exc
                logger.info(
                    "connection=%s Salesforce session expired during %s; logging in again",
                    self.connection.name,
                    what,
                )
                auth.forget_token(self.connection, self._token)
                self._api = self._token = None
            except (SalesforceError, SalesforceOperationError) as exc:
                raise translate(exc, connection=self.connection.name, what=what) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def restful(self, path: str, what: str, method: str = "GET", **kwargs):
        """A REST call relative to /services/data/vXX.X/ (parsed JSON, None for 204)."""
        return self.call(lambda api: api.restful(path, method=method, **kwargs), what)

    # Reads ------------------------------------------------------------------------------
    def _query_headers(self) -> dict:
        if not self.query_batch_size:
            return {}
        return {"Sforce-Query-Options": f"batchSize={self.query_batch_size}"}

    def query_page(self, soql: str | None = None, next_url: str | None = None) -> dict:
        """One page of a query: the first (by SOQL) or the next (by nextRecordsUrl)."""
        headers = self._query_headers()
        if next_url:
            return self.call(
                lambda api: api.query_more(next_url, identifier_is_url=True, headers=headers),
                "query (next page)",
            )
        return self.call(lambda api: api.query(soql, headers=headers), "query")

    def query_iter(self, soql: str) -> Iterator[dict]:
        """Every record of a query, page by page, lazily; never loops, never repeats an Id."""

        def fetch(cursor: str | None) -> tuple[list[dict], str | None]:
            page = self.query_page(soql if cursor is None else None, cursor)
            next_url = None if page.get("done", True) else page.get("nextRecordsUrl")
            return list(page.get("records") or []), next_url

        return follow_cursor(
            fetch,
            key=lambda record: record.get("Id") or repr(sorted(record.items())),
            what=f"{self.connection.name} query",
        )

    def query_first(self, soql: str) -> dict | None:
        records = self.query_page(soql).get("records") or []
        return records[0] if records else None

    def get(self, object_name: str, record_id: str) -> dict:
        return self.restful(
            f"sobjects/{object_name}/{quote(record_id, safe='')}", f"get {object_name}"
        )

    def find_by_external_id(self, object_name: str, field: str, value: str) -> dict | None:
        """The one record whose external id is `value`, None if there is none.

        Several matches (the field is not unique) raise DuplicateError."""
        try:
            return self.restful(
                f"sobjects/{object_name}/{field}/{quote(str(value), safe='')}",
                f"find {object_name} by {field}",
            )
        except NotFoundError:
            return None

    # Writes -----------------------------------------------------------------------------
    def create(self, object_name: str, record: dict, *, external_id_field: str = "") -> str:
        """Create a record and return its Id; with an external id field, never twice.

        When the create times out after the server committed it, `create_once` looks the
        record up by its external id before trying again."""
        what = f"create {object_name}"

        def attempt() -> str:
            return str(self.restful(f"sobjects/{object_name}/", what, "POST", json=record)["id"])

        value = record.get(external_id_field) if external_id_field else None
        if not value:
            return attempt()

        def find_existing() -> str | None:
            found = self.find_by_external_id(object_name, external_id_field, str(value))
            return str(found["Id"]) if found else None

        return create_once(attempt, find_existing)

    def update(self, object_name: str, record_id: str, fields: dict) -> None:
        self.restful(
            f"sobjects/{object_name}/{quote(record_id, safe='')}",
            f"update {object_name}",
            "PATCH",
            json=fields,
        )

    def upsert_by_external_id(
        self, object_name: str, field: str, value: str, record: dict
    ) -> RecordResult:
        """Insert or update the record whose `field` is `value` (idempotent by nature)."""
        body = {
            key: item
            for key, item in record.items()
            if key.lower() not in (field.lower(), "id", "attributes")
        }
        path = f"sobjects/{object_name}/{field}/{quote(str(value), safe='')}"
        answer = self.restful(path, f"upsert {object_name}", "PATCH", json=body)
        if answer is None:  # API < 46.0 answers 204 on update, without the Id
            found = self.find_by_external_id(object_name, field, str(value)) or {}
            return RecordResult(str(value), True, str(found.get("Id") or ""), created=False)
        return RecordResult(
            str(value), True, str(answer.get("id") or ""), created=answer.get("created")
        )

    def upsert_many(
        self, object_name: str, records: list[dict], external_id_field: str
    ) -> list[RecordResult]:
        """Upsert a batch by external id: Collections in requests of up to 200 records, or one
        Bulk API 2.0 job at `bulk_threshold` records and more. One result per record, in order;
        a failed record does not fail the others."""
        return upsert_many(self, object_name, records, external_id_field)

    def __repr__(self) -> str:
        return f"<SalesforceClient {self.connection.name}>"
