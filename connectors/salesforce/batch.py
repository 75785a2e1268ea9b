"""Batched upserts by external id: sObject Collections, or Bulk API 2.0 for large batches.

Below the connection's `bulk_threshold` (default 2,000 records) records go to
`PATCH /composite/sobjects/<Obj>/<ExtIdField>` in requests of up to 200 with allOrNone false,
so one bad record does not stop its neighbours; at the threshold and above they go to one
Bulk API 2.0 upsert job (`sf.bulk2.<Obj>.upsert`) and the result CSVs are read back.

Either way the caller gets one `RecordResult` per input record, in input order: success, the
Salesforce Id, whether it was created, and the errors with Salesforce's codes, so a flow can
dead-letter one record (`error_class()` says which kind of failure it is) and keep the rest.
Bulk results come back in no particular order; they are matched to the input by external id
(case-insensitively, as the org matches). A transient failure of a whole request raises (an
upsert is idempotent, so the caller can simply try the batch again); a permanent one is
reported on each record of that request.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.errors import ConcordError, PermanentError, TransientError
from connectors.salesforce.errors import error_class_for_code

if TYPE_CHECKING:
    from connectors.salesforce.client import SalesforceClient

logger = logging.getLogger(__name__)

COLLECTION_LIMIT = 200


@dataclass
class RecordError:
    code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


@dataclass
class RecordResult:
    """What happened to one record of a write."""

    key: str  # the external id value the record was written by
    success: bool
    id: str = ""
    created: bool | None = None
    errors: list[RecordError] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "; ".join(str(error) for error in self.errors)

    def error_class(self) -> type[ConcordError] | None:
        """The exception class a failure maps to (DuplicateError, ValidationError...)."""
        if self.success:
            return None
        return error_class_for_code(self.errors[0].code if self.errors else "")

    def error(self) -> ConcordError | None:
        """The failure as an exception to raise or dead-letter; None on success."""
        error_class = self.error_class()
        if error_class is None:
            return None
        code = self.errors[0].code if self.errors else ""
        return error_class(
            f"record {self.key}: {self.message}", code=code, system_message=self.message
        )


def wire_value(value):
    """A JSON-safe value: Decimal as exact text (never float)."""
    if isinstance(value, Decimal):
        return str(value)
    return value


def upsert_many(
    client: SalesforceClient, object_name: str, records: list[dict], external_id_field: str
) -> list[RecordResult]:
    if not records:
        return []
    if len(records) >= client.bulk_threshold:
        return _bulk_upsert(client, object_name, records, external_id_field)
    results: list[RecordResult] = []
    for start in range(0, len(records), COLLECTION_LIMIT):
        chunk = records[start : start + COLLECTION_LIMIT]
        results += _collection_upsert(client, object_name, chunk, external_id_field)
    return results


def _key(record: dict, external_id_field: str) -> str:
    return str(record.get(external_id_field) or "")


def _failed_all(chunk: list[dict], field_name: str, error: ConcordError) -> list[RecordResult]:
    failure = RecordError(error.code, error.system_message or str(error))
    return [RecordResult(_key(record, field_name), False, errors=[failure]) for record in chunk]


def _collection_upsert(
    client: SalesforceClient, object_name: str, chunk: list[dict], field_name: str
) -> list[RecordResult]:
    body = {
        "allOrNone": False,
        "records": [
            {
                "attributes": {"type": object_name},
                **{key: wire_value(value) for key, value in record.items() if key != "attributes"},
            }
            for record in chunk
        ],
    }
    try:
        answers = client.restful(
            f"composite/sobjects/{object_name}/{field_name}",
            f"upsert {len(chunk)} {object_name} records",
            "PATCH",
            json=body,
        )
    except TransientError:
        raise
    except PermanentError as exc:
        return _failed_all(chunk, field_name, exc)
    results = []
    for record, answer in zip(chunk, answers or [], strict=False):
        errors = [
            RecordError(
                str(error.get("statusCode") or error.get("errorCode") or ""),
                str(error.get("message") or ""),
                list(error.get("fields") or []),
            )
            for error in answer.get("errors") or []
        ]
        results.append(
            RecordResult(
                _key(record, field_name),
                bool(answer.get("success")),
                str(answer.get("id") or ""),
                answer.get("created"),
                errors,
            )
        )
    if len(results) < len(chunk):  # a short answer: never report a record as written
        missing = RecordError("NO_RESULT", "Salesforce returned no result for this record")
        results += [
            RecordResult(_key(record, field_name), False, errors=[missing])
            for record in chunk[len(results) :]
        ]
    return results


def _csv_value(value) -> str:
    if value is None:
        return ""  # Bulk API: an empty value leaves the field as it is
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_bulk_error(text: str) -> RecordError:
    """`CODE:message:field1,field2--` as Bulk API 2.0 writes sf__Error."""
    code, _, rest = (text or "").partition(":")
    message, fields = rest, []
    if rest.endswith("--"):
        message, _, field_text = rest[:-2].rpartition(":")
        fields = [name for name in field_text.split(",") if name]
    return RecordError(code.strip(), message.strip(), fields)


def _bulk_upsert(
    client: SalesforceClient, object_name: str, records: list[dict], field_name: str
) -> list[RecordResult]:
    columns: list[str] = []
    for record in records:
        columns += [key for key in record if key != "attributes" and key not in columns]
    rows = [{column: _csv_value(record.get(column)) for column in columns} for record in records]
    what = f"bulk upsert of {len(records)} {object_name} records"

    def run(api) -> list[tuple[str, str, str, str]]:
        handler = getattr(api.bulk2, object_name)
        jobs = handler.upsert(
            records=rows, external_id_field=field_name, wait=client.bulk_poll_seconds
        )
        return [
            (
                job["job_id"],
                handler.get_successful_records(job["job_id"]),
                handler.get_failed_records(job["job_id"]),
                handler.get_unprocessed_records(job["job_id"]),
            )
            for job in jobs
        ]

    try:
        outcomes = client.call(run, what)
    except TransientError:
        raise
    except PermanentError as exc:
        return _failed_all(records, field_name, exc)
    waiting: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        waiting[_key(record, field_name).casefold()].append(index)
    results: list[RecordResult | None] = [None] * len(records)

    def place(row: dict, result_of) -> None:
        indexes = waiting.get(str(row.get(field_name) or "").casefold())
        if indexes:
            index = indexes.pop(0)
            results[index] = result_of(_key(records[index], field_name))

    for job_id, successful, failed, unprocessed in outcomes:
        logger.info("connection=%s bulk job %s done", client.connection.name, job_id)
        for row in csv.DictReader(io.StringIO(successful or "")):
            created = str(row.get("sf__Created") or "").lower() == "true"
            place(row, lambda key, row=row, c=created: RecordResult(key, True, row["sf__Id"], c))
        for row in csv.DictReader(io.StringIO(failed or "")):
            error = _parse_bulk_error(row.get("sf__Error", ""))
            failed_id = row.get("sf__Id") or ""
            place(row, lambda key, i=failed_id, e=error: RecordResult(key, False, i, errors=[e]))
        for row in csv.DictReader(io.StringIO(unprocessed or "")):
            skipped = RecordError("UNPROCESSED", "the Bulk API job did not process this record")
            place(row, lambda key, e=skipped: RecordResult(key, False, errors=[e]))
    missing = RecordError("NO_RESULT", "the Bulk API job reported nothing for this record")
    return [
        result or RecordResult(_key(records[index], field_name), False, errors=[missing])
        for index, result in enumerate(results)
    ]
