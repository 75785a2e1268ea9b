"""Bulk API 2.0: ingest jobs (CSV upload, processing, result CSVs) and query jobs.

Ingest follows the calls simple-salesforce's `bulk2` makes (CONFIRMED): `POST jobs/ingest`
answers the job info in state `Open`; `PUT .../batches` with CSV answers 201; `PATCH` with
`{"state": "UploadComplete"}` answers the job info in `UploadComplete` and the sandbox then
processes the data before that response is sent, so the next `GET` shows `JobComplete` (or
`Failed` when the CSV header names an unknown field: `InvalidBatch : Field name not found`).
Rows run in chunks of 200, each chunk one transaction (one transactionKey for its change
events) where a failing row does not stop the others. Result CSVs quote every value and start
with `sf__Id`,`sf__Created` / `sf__Id`,`sf__Error` (`CODE:message:fields--`); the
unprocessed-records path is matched case-insensitively (`unprocessedrecords` in the docs,
`unprocessedRecords` in simple-salesforce). Query jobs run at creation; results page with
`maxRecords` / `locator` and the `Sforce-NumberOfRecords` / `Sforce-Locator` headers. Jobs are
kept in the state store (`_bulk_job`), query results in memory.
"""

from __future__ import annotations

import csv
import io
import threading
from enum import StrEnum
from typing import TYPE_CHECKING

from connectors.salesforce.sandbox.records import USER_ID, Caller, MultipleMatches
from connectors.salesforce.sandbox.rest import Cursor, body_object, version_of
from connectors.salesforce.sandbox.schema import object_spec
from connectors.salesforce.sandbox.soql import FieldPath
from connectors.salesforce.sandbox.wire import ApiError, make_id, normalise_id, now_text
from connectors.sandbox.server import Request, Response

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator

JOB_KIND = "_bulk_job"
CHUNK = 200
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^"}
DELIMITERS["BACKQUOTE"] = "`"
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


class JobState(StrEnum):
    OPEN = "Open"
    UPLOAD_COMPLETE = "UploadComplete"
    IN_PROGRESS = "InProgress"
    JOB_COMPLETE = "JobComplete"
    FAILED = "Failed"
    ABORTED = "Aborted"


class Operation(StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    UPSERT = "upsert"
    DELETE = "delete"
    HARD_DELETE = "hardDelete"
    QUERY = "query"
    QUERY_ALL = "queryAll"


INFO_KEYS = (
    "id",
    "operation",
    "object",
    "createdById",
    "createdDate",
    "systemModstamp",
    "state",
    "externalIdFieldName",
    "concurrencyMode",
    "contentType",
    "apiVersion",
    "jobType",
    "contentUrl",
    "lineEnding",
    "columnDelimiter",
    "numberRecordsProcessed",
    "numberRecordsFailed",
    "retries",
    "totalProcessingTime",
    "apiActiveProcessingTime",
    "apexProcessingTime",
    "errorMessage",
)


def _csv_text(header: list[str], rows: list[list], delimiter: str, line_ending: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, lineterminator=line_ending, quoting=csv.QUOTE_ALL
    )
    writer.writerow(header)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return buffer.getvalue()


class BulkApi:
    def __init__(self, emulator: SalesforceEmulator):
        self.emulator = emulator
        self.records = emulator.records
        self.store = emulator.store
        self._query_rows: dict[str, tuple[list[str], list[list]]] = {}
        self._lock = threading.Lock()

    def routes(self) -> list[tuple[str, str, object]]:
        job = r"jobs/(?P<kind>ingest|query)/(?P<job>[A-Za-z0-9]+)"
        return [
            ("POST", "jobs/ingest", self.create_ingest),
            ("GET", "jobs/ingest", self.list_jobs),
            ("POST", "jobs/query", self.create_query),
            ("GET", "jobs/query", self.list_jobs),
            ("GET", job, self.get_job),
            ("PATCH", job, self.patch_job),
            ("DELETE", job, self.delete_job),
            ("PUT", rf"{job}/batches", self.upload),
            ("GET", rf"{job}/(?P<results>(?i:successfulResults|failedResults|unprocessedRecords))",
             self.results),
            ("GET", rf"{job}/results", self.query_results),
        ]  # fmt: skip

    # Jobs --------------------------------------------------------------------------------
    def _info(self, job: dict) -> dict:
        return {key: job[key] for key in INFO_KEYS if job.get(key) is not None}

    def _job(self, request: Request) -> dict:
        job = self.store.get(JOB_KIND, request.match.group("job"))
        expected = "V2Query" if request.match.group("kind") == "query" else "V2Ingest"
        if job is None or job["jobType"] != expected:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def _new_job(self, request: Request, body: dict, operation: Operation, name: str) -> dict:
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            raise ApiError(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        job_id = make_id("750", self.store.next_id("bulk-job"))
        version = version_of(request)
        is_query = operation in (Operation.QUERY, Operation.QUERY_ALL)
        stamp = now_text()
        return {
            "id": job_id,
            "operation": operation.value,
            "object": name,
            "createdById": USER_ID,
            "createdDate": stamp,
            "systemModstamp": stamp,
            "state": JobState.UPLOAD_COMPLETE if is_query else JobState.OPEN,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(version),
            "jobType": "V2Query" if is_query else "V2Ingest",
            "contentUrl": None
            if is_query
            else f"services/data/v{version}/jobs/ingest/{job_id}/batches",
            "lineEnding": line_ending,
            "columnDelimiter": delimiter,
            "numberRecordsProcessed": 0,
            "numberRecordsFailed": 0 if not is_query else None,
            "retries": 0,
            "totalProcessingTime": 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
            "client_id": self.emulator.caller(request).client_id,
            "data": "",
            "successful": [],
            "failed": [],
            "unprocessed": [],
            "header": [],
        }

    def create_ingest(self, request: Request) -> Response:
        body = body_object(request)
        try:
            operation = Operation(body.get("operation"))
        except ValueError:
            raise ApiError(
                400, "INVALIDJOB", f"Invalid operation: {body.get('operation')}"
            ) from None
        if operation in (Operation.QUERY, Operation.QUERY_ALL):
            raise ApiError(400, "INVALIDJOB", "Use jobs/query for query jobs")
        spec = object_spec(str(body.get("object") or ""))
        if spec is None:
            raise ApiError(400, "INVALIDJOB", f"Unable to find object: {body.get('object')}")
        if body.get("contentType", "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", "Only CSV content is supported")
        job = self._new_job(request, body, operation, spec.name)
        if operation == Operation.UPSERT:
            field_spec = spec.field(str(body.get("externalIdFieldName") or ""))
            if field_spec is None or not (field_spec.external_id or field_spec.name == "Id"):
                raise ApiError(
                    400,
                    "INVALIDJOB",
                    f"The field {body.get('externalIdFieldName')} is not an external id field",
                )
            job["externalIdFieldName"] = field_spec.name
        self.store.put(JOB_KIND, job["id"], job)
        return Response(200, self._info(job))

    def list_jobs(self, request: Request) -> Response:
        kind = "V2Query" if request.path.rstrip("/").endswith("query") else "V2Ingest"
        jobs = [self._info(job) for job in self.store.all(JOB_KIND) if job["jobType"] == kind]
        return Response(200, {"done": True, "records": jobs, "nextRecordsUrl": None})

    def get_job(self, request: Request) -> Response:
        return Response(200, self._info(self._job(request)))

    def delete_job(self, request: Request) -> Response:
        job = self._job(request)
        if job["state"] not in (JobState.JOB_COMPLETE, JobState.FAILED, JobState.ABORTED):
            raise ApiError(400, "INVALIDJOBSTATE", "Job is not in a final state")
        self.store.delete(JOB_KIND, job["id"])
        self._query_rows.pop(job["id"], None)
        return Response(204)

    def upload(self, request: Request) -> Response:
        job = self._job(request)
        if job["state"] != JobState.OPEN:
            raise ApiError(409, "INVALIDJOBSTATE", "Job is not in Open state")
        text = request.body.decode("utf-8-sig")
        self.store.put(JOB_KIND, job["id"], {**job, "data": job["data"] + text})
        return Response(201)

    def patch_job(self, request: Request) -> Response:
        job = self._job(request)
        state = (body_object(request)).get("state")
        final = (JobState.JOB_COMPLETE, JobState.FAILED, JobState.ABORTED)
        if state == JobState.ABORTED and job["state"] not in final:
            job = {**job, "state": JobState.ABORTED, "systemModstamp": now_text()}
            self.store.put(JOB_KIND, job["id"], job)
            return Response(200, self._info(job))
        if state == JobState.UPLOAD_COMPLETE and job["state"] == JobState.OPEN:
            job = {**job, "state": JobState.UPLOAD_COMPLETE, "systemModstamp": now_text()}
            self.store.put(JOB_KIND, job["id"], job)
            answer = self._info(job)
            self._process(job)
            return Response(200, answer)
        raise ApiError(400, "INVALIDJOBSTATE", f"Cannot move a {job['state']} job to {state}")

    # Processing --------------------------------------------------------------------------
    def _process(self, job: dict) -> None:
        spec = object_spec(job["object"])
        delimiter = DELIMITERS[job["columnDelimiter"]]
        reader = csv.reader(io.StringIO(job["data"], newline=""), delimiter=delimiter)
        rows = [row for row in reader if row]
        header, rows = (rows[0], rows[1:]) if rows else ([], [])
        unknown = [name for name in header if spec.field(name) is None]
        operation = Operation(job["operation"])
        if (
            not header
            or unknown
            or (operation in (Operation.DELETE, Operation.HARD_DELETE) and header != ["Id"])
        ):
            reason = f"Field name not found : {unknown[0]}" if unknown else "Invalid header row"
            self._finish(job, header, JobState.FAILED, error=f"InvalidBatch : {reason}")
            return
        successful, failed = [], []
        caller = Caller(client_id=job.get("client_id"))
        for start in range(0, len(rows), CHUNK):
            with self.records.transaction(caller) as tx:
                for row in rows[start : start + CHUNK]:
                    values = dict(zip(header, row + [""] * (len(header) - len(row)), strict=False))
                    point = tx.savepoint()
                    try:
                        record_id, created = self._apply(tx, spec, operation, job, values)
                        successful.append([record_id, "true" if created else "false", *row])
                    except ApiError as error:
                        self.records.rollback_to(tx, point)
                        fields = ",".join(error.fields or [])
                        message = f"{error.code}:{error.message}:{fields}--"
                        failed.append([values.get("Id", "") or "", message, *row])
        self._finish(job, header, JobState.JOB_COMPLETE, successful=successful, failed=failed)

    def _apply(self, tx, spec, operation: Operation, job: dict, values: dict) -> tuple[str, bool]:
        if operation == Operation.INSERT:
            return self.records.create(tx, spec, values, from_text=True)["Id"], True
        if operation == Operation.UPSERT:
            field_name = job["externalIdFieldName"]
            key = next((name for name in values if name.lower() == field_name.lower()), None)
            value = values.get(key) if key else ""
            if not value and field_name != "Id":
                raise ApiError(400, "MISSING_ARGUMENT", f"{field_name} not specified", [field_name])
            try:
                doc, created = self.records.upsert(
                    tx, spec, field_name, value, values, from_text=True
                )
            except MultipleMatches as matches:
                raise ApiError(
                    400,
                    "DUPLICATE_EXTERNAL_ID",
                    f"{field_name}: more than one record found for external id field:"
                    f" {matches.record_ids}",
                    [field_name],
                ) from None
            return doc["Id"], created
        record_id = normalise_id(values.get("Id") or "")
        if record_id is None or record_id[:3] != spec.key_prefix:
            raise ApiError(400, "MALFORMED_ID", f"invalid id: {values.get('Id')}", ["Id"])
        if operation == Operation.UPDATE:
            rest = {name: value for name, value in values.items() if name != "Id"}
            self.records.update(tx, spec, record_id, rest, from_text=True)
        else:
            self.records.delete(tx, spec, record_id)
        return record_id, False

    def _finish(self, job: dict, header, state, error=None, successful=(), failed=()) -> None:
        done = {
            **job,
            "state": state,
            "header": header,
            "successful": list(successful),
            "failed": list(failed),
            "numberRecordsProcessed": len(successful) + len(failed),
            "numberRecordsFailed": len(failed),
            "systemModstamp": now_text(),
            "data": "",
        }
        if error:
            done["errorMessage"] = error
        self.store.put(JOB_KIND, job["id"], done)

    def results(self, request: Request) -> Response:
        job = self._job(request)
        kind = request.match.group("results").lower()
        delimiter = DELIMITERS[job["columnDelimiter"]]
        line_ending = LINE_ENDINGS[job["lineEnding"]]
        header = job.get("header") or []
        if kind == "successfulresults":
            text = _csv_text(
                ["sf__Id", "sf__Created", *header], job["successful"], delimiter, line_ending
            )
        elif kind == "failedresults":
            text = _csv_text(
                ["sf__Id", "sf__Error", *header], job["failed"], delimiter, line_ending
            )
        else:
            rows = []
            if job["state"] == JobState.ABORTED and job.get("data"):
                parsed = list(csv.reader(io.StringIO(job["data"]), delimiter=delimiter))
                header, rows = (parsed[0], parsed[1:]) if parsed else ([], [])
            text = _csv_text(header, rows, delimiter, line_ending) if header else ""
        return Response(200, text.encode(), {"Content-Type": "text/csv; charset=UTF-8"})

    # Query jobs --------------------------------------------------------------------------
    def create_query(self, request: Request) -> Response:
        body = body_object(request)
        try:
            operation = Operation(body.get("operation", "query"))
        except ValueError:
            operation = None
        if operation not in (Operation.QUERY, Operation.QUERY_ALL):
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {body.get('operation')}")
        rest = self.emulator.rest
        parsed, matched = rest.select(
            str(body.get("query") or ""), operation == Operation.QUERY_ALL
        )
        job = self._new_job(request, body, operation, parsed.spec.name)
        job["query"] = body.get("query")
        include_deleted = operation == Operation.QUERY_ALL
        cursor = Cursor(parsed, matched, len(matched), include_deleted, version_of(request))
        columns = [item.text for item in parsed.fields if isinstance(item, FieldPath)]
        rendered = rest.render(cursor, matched)
        rows = [[_flatten(record, column) for column in columns] for record in rendered]
        with self._lock:
            self._query_rows[job["id"]] = (columns, rows)
        job.update(state=JobState.JOB_COMPLETE, numberRecordsProcessed=len(rows))
        self.store.put(JOB_KIND, job["id"], job)
        return Response(200, self._info({**job, "state": JobState.UPLOAD_COMPLETE}))

    def query_results(self, request: Request) -> Response:
        job = self._job(request)
        columns, rows = self._query_rows.get(job["id"], ([], []))
        try:
            start = int(request.arg("locator") or 0)
            size = int(request.arg("maxRecords") or 50000)
        except ValueError:
            raise ApiError(400, "INVALIDLOCATOR", "Invalid locator or maxRecords") from None
        page = rows[start : start + size]
        after = start + len(page)
        text = _csv_text(
            columns, page, DELIMITERS[job["columnDelimiter"]], LINE_ENDINGS[job["lineEnding"]]
        )
        headers = {
            "Content-Type": "text/csv; charset=UTF-8",
            "Sforce-NumberOfRecords": str(len(page)),
            "Sforce-Locator": str(after) if after < len(rows) else "null",
        }
        return Response(200, text.encode(), headers)


def _flatten(record: dict, column: str) -> object:
    value: object = record
    for part in column.split("."):
        if not isinstance(value, dict):
            return None
        key = next((name for name in value if name.lower() == part.lower()), None)
        value = value.get(key) if key else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
