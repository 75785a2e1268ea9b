"""The Salesforce sandbox's own `/__sandbox__/` routes (not part of the real API).

- `POST changes`: a change made by a salesperson in the UI, so its change events carry no
  client id. `{"object", "id"?, "fields"?, "line_items"?, "delete"?, "undelete"?}`: with an id
  the record is updated (or deleted / undeleted), without one it is created; an Opportunity
  may come with `line_items` `[{"PricebookEntryId" | "ProductCode", "Quantity", "UnitPrice"?}]`
  (by product code the entry is the standard price book's; its list price is the default
  sales price). Everything happens in one transaction. Answers the record (and its line items).
- `GET|POST settings`: `query_batch_size`, `daily_api_limit`, `api_usage` (calls used today),
  `session_lifetime_s`.
- `POST sessions/expire`: `{"access_token"?}` ends one session (or all of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.salesforce.sandbox.records import Caller
from connectors.salesforce.sandbox.schema import SCHEMA, object_spec
from connectors.salesforce.sandbox.wire import ApiError, normalise_id, render_record
from connectors.sandbox.server import Request, Response

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator


def control_routes(emulator: SalesforceEmulator) -> list[tuple[str, str, object]]:
    def guarded(handler):
        def wrapped(request: Request) -> Response:
            try:
                return handler(request)
            except ApiError as error:
                return error.response()

        return wrapped

    def body_of(request: Request) -> dict:
        body = request.json() or {}
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "the body must be a JSON object")
        return body

    def settings(request: Request) -> Response:
        body = body_of(request) if request.method == "POST" else {}
        for key in ("query_batch_size", "daily_api_limit", "api_usage", "session_lifetime_s"):
            if key in body and not isinstance(body[key], int | float):
                raise ApiError(400, "INVALID_FIELD", f"{key} must be a number")
        if "query_batch_size" in body:
            emulator.query_batch_size = max(1, int(body["query_batch_size"]))
        if "daily_api_limit" in body:
            emulator.daily_api_limit = max(0, int(body["daily_api_limit"]))
        if "api_usage" in body:
            emulator.set_api_usage(int(body["api_usage"]))
        if "session_lifetime_s" in body:
            emulator.authority.session_lifetime_s = float(body["session_lifetime_s"])
        used, maximum = emulator.api_usage()
        return Response(
            200,
            {
                "query_batch_size": emulator.query_batch_size,
                "daily_api_limit": maximum,
                "api_usage": used,
                "session_lifetime_s": emulator.authority.session_lifetime_s,
            },
        )

    def expire_sessions(request: Request) -> Response:
        token = body_of(request).get("access_token")
        return Response(200, {"expired": emulator.authority.expire(token)})

    def changes(request: Request) -> Response:
        body = body_of(request)
        spec = object_spec(str(body.get("object") or ""))
        if spec is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{body.get('object')}' unknown")
        fields = body.get("fields") or {}
        records = emulator.records
        lines = []
        with records.transaction(Caller(client_id=None)) as tx:
            raw_id = body.get("id")
            if raw_id:
                record_id = normalise_id(str(raw_id))
                if record_id is None:
                    raise ApiError(400, "MALFORMED_ID", f"malformed id {raw_id}")
                if body.get("undelete"):
                    doc = records.undelete(tx, spec, record_id)
                elif body.get("delete"):
                    records.delete(tx, spec, record_id)
                    doc = records.store.get(spec.name, record_id)
                else:
                    doc = records.update(tx, spec, record_id, fields)
            else:
                doc = records.create(tx, spec, fields)
            for item in body.get("line_items") or []:
                lines.append(_add_line(emulator, tx, doc, item))
            doc = records.store.get(spec.name, doc["Id"])
        answer = render_record(spec, doc)
        if lines:
            answer["line_items"] = [
                render_record(SCHEMA["OpportunityLineItem"], line) for line in lines
            ]
        return Response(201 if not raw_id else 200, answer)

    return [
        ("POST", "changes", guarded(changes)),
        ("GET", "settings", guarded(settings)),
        ("POST", "settings", guarded(settings)),
        ("POST", "sessions/expire", guarded(expire_sessions)),
    ]


def _add_line(emulator: SalesforceEmulator, tx, opportunity: dict, item: dict) -> dict:
    if opportunity.get("Id", "")[:3] != "006":
        raise ApiError(400, "INVALID_FIELD", "line_items only go with an Opportunity")
    if not isinstance(item, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "each line item must be a JSON object")
    records = emulator.records
    values = {key: value for key, value in item.items() if key != "ProductCode"}
    if "PricebookEntryId" not in values:
        code = item.get("ProductCode")
        current = records.get("Opportunity", opportunity["Id"])
        pricebook_id = current.get("Pricebook2Id") or standard_pricebook_id(emulator)
        entry = next(
            (
                doc
                for doc in records.live("PricebookEntry")
                if doc.get("ProductCode") == code and doc["Pricebook2Id"] == pricebook_id
            ),
            None,
        )
        if entry is None:
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", f"no price book entry for {code}")
        values["PricebookEntryId"] = entry["Id"]
    if "UnitPrice" not in values and "TotalPrice" not in values:
        entry = records.get("PricebookEntry", str(values["PricebookEntryId"]))
        if entry is not None:
            values["UnitPrice"] = entry["UnitPrice"]
    values["OpportunityId"] = opportunity["Id"]
    return records.create(tx, SCHEMA["OpportunityLineItem"], values)


def standard_pricebook_id(emulator: SalesforceEmulator) -> str | None:
    return next(
        (doc["Id"] for doc in emulator.records.live("Pricebook2") if doc.get("IsStandard")), None
    )
