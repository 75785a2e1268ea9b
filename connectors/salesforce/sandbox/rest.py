"""REST sObject resources and SOQL queries: CRUD, upsert by external id, query paging.

Upsert (`PATCH /sobjects/<Obj>/<ExtField>/<value>`) answers 201 `created: true` / 200
`created: false` from API 46.0 on (201 / 204 before), 300 with the matching record URLs when
the value is not unique, 404 for a field that is not an external id. The value in the URL is
percent-decoded (`quote_plus`'s `+` is read as a space only on GET, the way simple-salesforce
encodes it there). Queries snapshot their matches: `nextRecordsUrl`
(`/services/data/vXX.X/query/<locator>-<offset>`) pages through the records as they were when
the query ran; the page size is the smallest of 2,000, the `Sforce-Query-Options: batchSize=N`
header (clamped to 200..2,000 as documented) and the emulator's `query_batch_size` (tests set
it lower). Locators live in memory (the 200 most recent); an unknown one is 400
`INVALID_QUERY_LOCATOR`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus

from connectors.salesforce.sandbox import describe as metadata
from connectors.salesforce.sandbox import soql
from connectors.salesforce.sandbox.records import MultipleMatches
from connectors.salesforce.sandbox.schema import ObjectSpec, object_spec
from connectors.salesforce.sandbox.wire import (
    ApiError,
    format_datetime,
    make_id,
    normalise_id,
    parse_datetime,
    render_record,
    sobject_url,
)
from connectors.sandbox.server import Request, Response

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator

MAX_BATCH = 2000
MIN_HEADER_BATCH = 200
OBJ = r"(?P<object>[A-Za-z][A-Za-z0-9_]*)"


@dataclass
class Cursor:
    query: soql.Query
    docs: list[dict]
    page_size: int
    include_deleted: bool
    version: str


def version_of(request: Request) -> str:
    return request.match.group("version")


def require_object(name: str) -> ObjectSpec:
    spec = object_spec(name)
    if spec is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return spec


def body_object(request: Request) -> dict:
    body = request.json()
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def created(record_id: str, status: int = 201, **extra) -> Response:
    return Response(status, {"id": record_id, "success": True, "errors": [], **extra})


class RestApi:
    def __init__(self, emulator: SalesforceEmulator):
        self.emulator = emulator
        self.records = emulator.records
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._cursor_lock = threading.Lock()

    def routes(self) -> list[tuple[str, str, object]]:
        """(METHOD, path after /services/data/vXX.X/, handler)."""
        ext = rf"sobjects/{OBJ}/(?P<field>[A-Za-z][A-Za-z0-9_]*)/(?P<value>[^/]+)"
        return [
            ("GET", "", self.resources),
            ("GET", "limits", self.limits),
            ("GET", "sobjects", self.describe_global),
            ("GET", rf"sobjects/{OBJ}", self.object_info),
            ("POST", rf"sobjects/{OBJ}", self.create),
            ("GET", rf"sobjects/{OBJ}/describe", self.describe),
            ("GET", rf"sobjects/{OBJ}/(?P<window>deleted|updated)", self.window),
            ("POST", rf"sobjects/{OBJ}/Id", self.create),
            ("GET", rf"sobjects/{OBJ}/(?P<id>[^/]+)", self.get),
            ("PATCH", rf"sobjects/{OBJ}/(?P<id>[^/]+)", self.update),
            ("DELETE", rf"sobjects/{OBJ}/(?P<id>[^/]+)", self.delete),
            ("GET", ext, self.get_by_external_id),
            ("PATCH", ext, self.upsert),
            ("DELETE", ext, self.delete_by_external_id),
            ("GET", r"query", self.query),
            ("GET", r"queryAll", self.query_all),
            ("GET", r"(?P<endpoint>query|queryAll)/(?P<locator>[A-Za-z0-9]+)-(?P<offset>\d+)",
             self.query_more),
        ]  # fmt: skip

    # Metadata ----------------------------------------------------------------------------
    def resources(self, request: Request) -> Response:
        return Response(200, metadata.resources(version_of(request)))

    def limits(self, request: Request) -> Response:
        used, maximum = self.emulator.api_usage()
        return Response(200, metadata.limits(used, maximum))

    def describe_global(self, request: Request) -> Response:
        return Response(200, metadata.describe_global(version_of(request)))

    def describe(self, request: Request) -> Response:
        spec = require_object(request.match.group("object"))
        return Response(200, metadata.describe(version_of(request), spec))

    def object_info(self, request: Request) -> Response:
        spec = require_object(request.match.group("object"))
        version = version_of(request)
        recent = self.records.live(spec.name)[-3:]
        return Response(
            200,
            {
                "objectDescribe": metadata.object_summary(version, spec),
                "recentItems": [
                    render_record(spec, doc, ["Id", "Name"] if "Name" in spec.fields else ["Id"])
                    for doc in recent
                ],
            },
        )

    # CRUD --------------------------------------------------------------------------------
    def create(self, request: Request) -> Response:
        name = request.match.group("object")
        if name.endswith("__e"):
            return self.emulator.publish_platform_event(name, body_object(request))
        spec = require_object(name)
        body = body_object(request)
        with self.records.transaction(self.emulator.caller(request)) as tx:
            doc = self.records.create(tx, spec, body)
        return created(doc["Id"])

    def _record_id(self, request: Request, spec: ObjectSpec) -> str:
        raw = unquote(request.match.group("id"))
        record_id = normalise_id(raw)
        if record_id is None or record_id[:3] != spec.key_prefix:
            if record_id is None and request.method == "GET":
                raise ApiError(
                    404,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {raw}",
                )
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return record_id

    def get(self, request: Request) -> Response:
        spec = require_object(request.match.group("object"))
        doc = self.records.get(spec.name, self._record_id(request, spec))
        if doc is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return Response(
            200, render_record(spec, doc, self._fields(request, spec), version_of(request))
        )

    def _fields(self, request: Request, spec: ObjectSpec) -> list[str] | None:
        wanted = request.arg("fields")
        if not wanted:
            return None
        names = []
        for raw in wanted.split(","):
            field_spec = spec.field(raw.strip())
            if field_spec is None:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{raw.strip()}' on entity '{spec.name}'",
                )
            names.append(field_spec.name)
        return ["Id", *[name for name in names if name != "Id"]]

    def update(self, request: Request) -> Response:
        spec = require_object(request.match.group("object"))
        record_id = self._record_id(request, spec)
        body = body_object(request)
        with self.records.transaction(self.emulator.caller(request)) as tx:
            self.records.update(tx, spec, record_id, body)
        return Response(204)

    def delete(self, request: Request) -> Response:
        spec = require_object(request.match.group("object"))
        record_id = self._record_id(request, spec)
        with self.records.transaction(self.emulator.caller(request)) as tx:
            self.records.delete(tx, spec, record_id)
        return Response(204)

    # By external id ----------------------------------------------------------------------
    def _external(self, request: Request, plus_is_space: bool) -> tuple[ObjectSpec, str, str]:
        spec = require_object(request.match.group("object"))
        field_name = request.match.group("field")
        field_spec = spec.field(field_name)
        if field_spec is None or not field_spec.external_id:
            raise ApiError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        decode = unquote_plus if plus_is_space else unquote
        return spec, field_spec.name, decode(request.match.group("value"))

    def _multiple(self, request: Request, spec: ObjectSpec, record_ids: list[str]) -> Response:
        return Response(
            300,
            [sobject_url(version_of(request), spec.name, record_id) for record_id in record_ids],
        )

    def get_by_external_id(self, request: Request) -> Response:
        spec, field_name, value = self._external(request, plus_is_space=True)
        found = self.records.find_by_external(spec, field_name, value)
        if not found:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if len(found) > 1:
            return self._multiple(request, spec, [doc["Id"] for doc in found])
        fields = self._fields(request, spec)
        return Response(200, render_record(spec, found[0], fields, version_of(request)))

    def upsert(self, request: Request) -> Response:
        spec, field_name, value = self._external(request, plus_is_space=False)
        body = body_object(request)
        try:
            with self.records.transaction(self.emulator.caller(request)) as tx:
                doc, was_created = self.records.upsert(tx, spec, field_name, value, body)
        except MultipleMatches as matches:
            return self._multiple(request, spec, matches.record_ids)
        if float(version_of(request)) >= 46.0:
            return created(doc["Id"], 201 if was_created else 200, created=was_created)
        return created(doc["Id"]) if was_created else Response(204)

    def delete_by_external_id(self, request: Request) -> Response:
        spec, field_name, value = self._external(request, plus_is_space=False)
        found = self.records.find_by_external(spec, field_name, value)
        if not found:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if len(found) > 1:
            return self._multiple(request, spec, [doc["Id"] for doc in found])
        with self.records.transaction(self.emulator.caller(request)) as tx:
            self.records.delete(tx, spec, found[0]["Id"])
        return Response(204)

    def window(self, request: Request) -> Response:
        """GET /sobjects/<Obj>/deleted|updated/?start=..&end=.. (record ids in a time window)."""
        spec = require_object(request.match.group("object"))
        start = parse_datetime(request.arg("start", "") or "")
        end = parse_datetime(request.arg("end", "") or "")
        if start is None or end is None:
            raise ApiError(400, "INVALID_REPLICATION_DATE", "start and end are required")
        low, high = format_datetime(start), format_datetime(end)
        docs = self.records.store.all(spec.name)
        if request.match.group("window") == "deleted":
            rows = [
                {"id": doc["Id"], "deletedDate": doc["SystemModstamp"]}
                for doc in docs
                if doc.get("IsDeleted") and low <= doc["SystemModstamp"] <= high
            ]
            return Response(
                200,
                {
                    "deletedRecords": rows,
                    "earliestDateAvailable": low,
                    "latestDateCovered": high,
                },
            )
        ids = [
            doc["Id"]
            for doc in docs
            if not doc.get("IsDeleted") and low <= doc["SystemModstamp"] <= high
        ]
        return Response(200, {"ids": ids, "latestDateCovered": high})

    # Queries -----------------------------------------------------------------------------
    def query(self, request: Request) -> Response:
        return self._run_query(request, include_deleted=False)

    def query_all(self, request: Request) -> Response:
        return self._run_query(request, include_deleted=True)

    def lookup(self, include_deleted: bool):
        records = self.records

        def find(object_name: str, record_id: str) -> dict | None:
            return records.get(object_name, record_id, include_deleted=include_deleted)

        return find

    def children(self, include_deleted: bool):
        records = self.records

        def find(subquery: soql.Query, parent: dict) -> list[dict]:
            docs = records.store.all(subquery.spec.name)
            return [
                doc
                for doc in docs
                if doc.get(subquery.parent_field) == parent["Id"]
                and (include_deleted or not doc.get("IsDeleted"))
            ]

        return find

    def select(self, text: str, include_deleted: bool) -> tuple[soql.Query, list[dict]]:
        """Parse and run a query: the parsed query and its matching documents."""
        lookup = self.lookup(include_deleted)
        parsed = soql.parse(text, lookup)
        docs = self.records.store.all(parsed.spec.name)
        if not include_deleted:
            docs = [doc for doc in docs if not doc.get("IsDeleted")]
        return parsed, soql.run(parsed, docs, lookup)

    def render(self, cursor: Cursor, docs: list[dict]) -> list[dict]:
        lookup = self.lookup(cursor.include_deleted)
        children = self.children(cursor.include_deleted)
        return [soql.render(cursor.query, doc, lookup, children, cursor.version) for doc in docs]

    def _page_size(self, request: Request) -> int:
        size = MAX_BATCH
        options = request.header("sforce-query-options", "") or ""
        match = re.search(r"batchSize\s*=\s*(\d+)", options, re.IGNORECASE)
        if match:
            size = min(max(int(match.group(1)), MIN_HEADER_BATCH), MAX_BATCH)
        return max(1, min(size, self.emulator.query_batch_size))

    def _run_query(self, request: Request, include_deleted: bool) -> Response:
        text = request.arg("q")
        if text is None:
            raise ApiError(400, "MALFORMED_QUERY", "A query string (q) is required")
        parsed, matched = self.select(text, include_deleted)
        if parsed.count_only:
            return Response(200, {"totalSize": len(matched), "done": True, "records": []})
        cursor = Cursor(
            parsed, matched, self._page_size(request), include_deleted, version_of(request)
        )
        locator = ""
        if len(matched) > cursor.page_size:
            with self._cursor_lock:
                locator = make_id("01g", self.emulator.store.next_id("query-locator"))
                self._cursors[locator] = cursor
                while len(self._cursors) > 200:
                    self._cursors.popitem(last=False)
        return self._page(cursor, locator, 0, "queryAll" if include_deleted else "query")

    def _page(self, cursor: Cursor, locator: str, offset: int, endpoint: str) -> Response:
        end = offset + cursor.page_size
        body = {
            "totalSize": len(cursor.docs),
            "done": end >= len(cursor.docs),
            "records": self.render(cursor, cursor.docs[offset:end]),
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{cursor.version}/{endpoint}/{locator}-{end}"
        return Response(200, body)

    def query_more(self, request: Request) -> Response:
        locator = request.match.group("locator")
        with self._cursor_lock:
            cursor = self._cursors.get(locator)
            if cursor is not None:
                self._cursors.move_to_end(locator)
        offset = int(request.match.group("offset"))
        if cursor is None or offset > len(cursor.docs):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, locator, offset, request.match.group("endpoint"))

    def forget_cursors(self) -> None:
        with self._cursor_lock:
            self._cursors.clear()
