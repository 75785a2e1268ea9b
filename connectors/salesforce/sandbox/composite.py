"""sObject Collections: `/composite/sobjects` create, update, upsert, delete and retrieve.

Results come back with HTTP 200 as a list in request order, errors carrying `statusCode`
(CONFIRMED). With `allOrNone: true` any failure undoes the whole request: the failing records
keep their own errors and every other record reports `ALL_OR_NONE_OPERATION_ROLLED_BACK`; no
change event is published. Each record runs under its own savepoint otherwise. More than 200
records is a 400 `EXCEEDED_ID_LIMIT` (the reference leaves the code UNCONFIRMED; LIKELY); a
record without `attributes.type` in a create / update is a 400 `INVALID_FIELD` for the whole
request. An upsert record matching several records fails with `DUPLICATE_EXTERNAL_ID`; a
delete of an unknown id fails with `INVALID_CROSS_REFERENCE_KEY` (LIKELY codes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.salesforce.sandbox.records import MultipleMatches, Rollback
from connectors.salesforce.sandbox.rest import body_object, require_object
from connectors.salesforce.sandbox.schema import ObjectSpec, object_spec
from connectors.salesforce.sandbox.wire import ApiError, normalise_id, render_record
from connectors.sandbox.server import Request, Response

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator

MAX_RECORDS = 200
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using"
    " AllOrNone header",
    "fields": [],
}


def _failure(error: ApiError, record_id: str | None = None) -> dict:
    result = {"success": False, "errors": [error.as_collection()]}
    if record_id:
        result = {"id": record_id, **result}
    return result


class Collections:
    def __init__(self, emulator: SalesforceEmulator):
        self.emulator = emulator
        self.records = emulator.records

    def routes(self) -> list[tuple[str, str, object]]:
        obj = r"(?P<object>[A-Za-z][A-Za-z0-9_]*)"
        return [
            ("POST", "composite/sobjects", self.create),
            ("PATCH", "composite/sobjects", self.update),
            ("DELETE", "composite/sobjects", self.delete),
            ("GET", rf"composite/sobjects/{obj}", self.retrieve),
            ("PATCH", rf"composite/sobjects/{obj}/(?P<field>[A-Za-z][A-Za-z0-9_]*)", self.upsert),
        ]

    # Request parsing ---------------------------------------------------------------------
    def _body(self, request: Request) -> tuple[list[dict], bool]:
        body = body_object(request)
        records = body.get("records")
        if not isinstance(records, list) or not all(isinstance(item, dict) for item in records):
            raise ApiError(400, "JSON_PARSER_ERROR", "records must be a list of JSON objects")
        if len(records) > MAX_RECORDS:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        return records, bool(body.get("allOrNone", False))

    @staticmethod
    def _type_of(record: dict) -> ObjectSpec:
        attributes = record.get("attributes")
        name = attributes.get("type") if isinstance(attributes, dict) else None
        if not name:
            raise ApiError(400, "INVALID_FIELD", "No SObject Type defined in the JSON request")
        spec = object_spec(name)
        if spec is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return spec

    # Running -----------------------------------------------------------------------------
    def _run(self, request: Request, items: list, all_or_none: bool, operation) -> Response:
        """Apply `operation(tx, item) -> result dict` to every item, honouring allOrNone."""
        results: list[dict] = []
        try:
            with self.records.transaction(self.emulator.caller(request)) as tx:
                for item in items:
                    point = tx.savepoint()
                    try:
                        results.append(operation(tx, item))
                    except ApiError as error:
                        self.records.rollback_to(tx, point)
                        results.append(_failure(error, error.record_id))
                if all_or_none and any(not result["success"] for result in results):
                    raise Rollback()
        except Rollback:
            results = [
                result if not result["success"] else {"success": False, "errors": [ROLLED_BACK]}
                for result in results
            ]
        return Response(200, results)

    def create(self, request: Request) -> Response:
        records, all_or_none = self._body(request)
        specs = [self._type_of(record) for record in records]

        def operation(tx, index: int) -> dict:
            doc = self.records.create(tx, specs[index], records[index])
            return {"id": doc["Id"], "success": True, "errors": []}

        return self._run(request, list(range(len(records))), all_or_none, operation)

    def update(self, request: Request) -> Response:
        records, all_or_none = self._body(request)
        specs = [self._type_of(record) for record in records]

        def operation(tx, index: int) -> dict:
            record = records[index]
            raw_id = record.get("id") or record.get("Id")
            if not raw_id:
                raise ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call")
            record_id = normalise_id(str(raw_id))
            if record_id is None or record_id[:3] != specs[index].key_prefix:
                error = ApiError(400, "MALFORMED_ID", f"malformed id {raw_id}", ["Id"])
                error.record_id = str(raw_id)
                raise error
            values = {key: value for key, value in record.items() if key not in ("id", "Id")}
            try:
                self.records.update(tx, specs[index], record_id, values)
            except ApiError as error:
                error.record_id = record_id
                raise
            return {"id": record_id, "success": True, "errors": []}

        return self._run(request, list(range(len(records))), all_or_none, operation)

    def upsert(self, request: Request) -> Response:
        spec = require_object(request.match.group("object"))
        field_name = request.match.group("field")
        field_spec = spec.field(field_name)
        if field_spec is None or not field_spec.external_id:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Field name provided, {field_name} is not an External ID or indexed field for"
                f" {spec.name}",
            )
        records, all_or_none = self._body(request)
        for record in records:
            attributes = record.get("attributes")
            if isinstance(attributes, dict) and attributes.get("type") not in (None, spec.name):
                raise ApiError(400, "INVALID_TYPE", "All records must be of the URL's sObject")

        def operation(tx, record: dict) -> dict:
            key = next((name for name in record if name.lower() == field_spec.name.lower()), None)
            value = record.get(key) if key else None
            if value in (None, ""):
                raise ApiError(
                    400,
                    "MISSING_ARGUMENT",
                    f"{field_spec.name} not specified",
                    [field_spec.name],
                )
            try:
                doc, was_created = self.records.upsert(
                    tx, spec, field_spec.name, str(value), record
                )
            except MultipleMatches as matches:
                raise ApiError(
                    400,
                    "DUPLICATE_EXTERNAL_ID",
                    f"{field_spec.name}: more than one record found for external id field:"
                    f" {matches.record_ids}",
                    [field_spec.name],
                ) from None
            return {"id": doc["Id"], "success": True, "errors": [], "created": was_created}

        return self._run(request, records, all_or_none, operation)

    def delete(self, request: Request) -> Response:
        raw_ids = [item for item in (request.arg("ids") or "").split(",") if item]
        if not raw_ids:
            raise ApiError(400, "MISSING_ARGUMENT", "ids parameter is required")
        if len(raw_ids) > MAX_RECORDS:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        all_or_none = (request.arg("allOrNone") or "false").lower() == "true"

        def operation(tx, raw_id: str) -> dict:
            record_id = normalise_id(raw_id)
            spec = self.records.object_of(record_id) if record_id else None
            if record_id is None or spec is None:
                error = ApiError(400, "MALFORMED_ID", f"malformed id {raw_id}", [])
                error.record_id = raw_id
                raise error
            doc = self.records.store.get(spec.name, record_id)
            if doc is None:
                error = ApiError(
                    400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []
                )
            elif doc.get("IsDeleted"):
                error = ApiError(400, "ENTITY_IS_DELETED", "entity is deleted", [])
            else:
                self.records.delete(tx, spec, record_id)
                return {"id": record_id, "success": True, "errors": []}
            error.record_id = record_id
            raise error

        return self._run(request, raw_ids, all_or_none, operation)

    def retrieve(self, request: Request) -> Response:
        spec = require_object(request.match.group("object"))
        raw_ids = [item for item in (request.arg("ids") or "").split(",") if item]
        names = [item.strip() for item in (request.arg("fields") or "").split(",") if item.strip()]
        if not raw_ids or not names:
            raise ApiError(400, "MISSING_ARGUMENT", "ids and fields parameters are required")
        fields = []
        for name in names:
            field_spec = spec.field(name)
            if field_spec is None:
                raise ApiError(
                    400, "INVALID_FIELD", f"No such column '{name}' on entity '{spec.name}'"
                )
            fields.append(field_spec.name)
        results = []
        for raw_id in raw_ids:
            record_id = normalise_id(raw_id)
            doc = self.records.get(spec.name, record_id) if record_id else None
            results.append(render_record(spec, doc, fields) if doc else None)
        return Response(200, results)
