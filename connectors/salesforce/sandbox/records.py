"""The org's data layer: create / update / delete / undelete / upsert inside transactions.

Every write path (REST sObject, upsert, Collections, Bulk 2.0, the `changes` control route)
goes through `Records` so validation, derived fields (Contact.Name, Opportunity.IsWon and the
rolled-up Amount, line item prices) and change events are the same everywhere. A transaction
holds the store lock, keeps an undo log (allOrNone rollback, savepoints per record) and
publishes its change events only once it commits, all with one transactionKey.

Deleted records stay in the store with `IsDeleted = true` (the recycle bin): `queryAll` sees
them and undelete restores them. Deleting an Account also deletes its Contacts and
Opportunities, an Opportunity its line items, a Product2 its price book entries; undelete
restores what was deleted with the record. One change event is published per record (the real
org may merge several records of one transaction into one event; clients handle both).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.salesforce.sandbox.rules import derive_line_item, derive_price_book_entry
from connectors.salesforce.sandbox.schema import (
    PREFIXES,
    SCHEMA,
    STAGE_PROBABILITY,
    FieldType,
    ObjectSpec,
)
from connectors.salesforce.sandbox.values import check_required, clean_values
from connectors.salesforce.sandbox.wire import ApiError, address_of, make_id, now_text

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator

USER_ID = "0058d000000Sbx1AAC"
CASCADES = {
    "Account": [("Contact", "AccountId"), ("Opportunity", "AccountId")],
    "Opportunity": [("OpportunityLineItem", "OpportunityId")],
    "Product2": [("PricebookEntry", "Product2Id")],
}
AUTO_NUMBER = {"Payment__c": ("Name", "PAY-{:06d}")}


class ChangeType:
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    UNDELETE = "UNDELETE"


@dataclass
class Caller:
    """Who is writing: the Sforce-Call-Options client id (None for a person in the UI)."""

    client_id: str | None = None


@dataclass
class Transaction:
    caller: Caller
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    undo: list[tuple[str, str, dict | None]] = field(default_factory=list)
    changes: list[tuple[str, str, str, dict, list[str]]] = field(default_factory=list)

    def savepoint(self) -> tuple[int, int]:
        return len(self.undo), len(self.changes)


class Rollback(Exception):
    """Raised inside a transaction to undo it without an error response (allOrNone)."""


class Records:
    def __init__(self, emulator: SalesforceEmulator):
        self.emulator = emulator
        self.store = emulator.store
        self.lock = threading.RLock()
        self._index: dict[tuple[str, str], dict[str, set[str]]] | None = None

    # Reading -----------------------------------------------------------------------------
    def live(self, object_name: str) -> list[dict]:
        return [doc for doc in self.store.all(object_name) if not doc.get("IsDeleted")]

    def get(self, object_name: str, record_id: str, include_deleted: bool = False) -> dict | None:
        doc = self.store.get(object_name, record_id)
        if doc is None or (doc.get("IsDeleted") and not include_deleted):
            return None
        return doc

    def object_of(self, record_id: str) -> ObjectSpec | None:
        name = PREFIXES.get(record_id[:3])
        return SCHEMA[name] if name else None

    def require(self, spec: ObjectSpec, record_id: str) -> dict:
        doc = self.store.get(spec.name, record_id)
        if doc is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if doc.get("IsDeleted"):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return doc

    def find_by_external(self, spec: ObjectSpec, field_name: str, value: str) -> list[dict]:
        ids = self._external_index(spec.name, field_name).get(str(value).lower(), set())
        docs = [self.store.get(spec.name, record_id) for record_id in ids]
        return sorted((doc for doc in docs if doc and not doc.get("IsDeleted")), key=_id_key)

    def _external_index(self, object_name: str, field_name: str) -> dict[str, set[str]]:
        if self._index is None:
            self._index = {}
        key = (object_name, field_name)
        if key not in self._index:
            index: dict[str, set[str]] = {}
            for doc in self.store.all(object_name):
                if doc.get(field_name):
                    index.setdefault(str(doc[field_name]).lower(), set()).add(doc["Id"])
            self._index[key] = index
        return self._index[key]

    def forget_indexes(self) -> None:
        self._index = None

    # Transactions ------------------------------------------------------------------------
    @contextmanager
    def transaction(self, caller: Caller, publish: bool = True) -> Iterator[Transaction]:
        """One atomic unit: undone entirely on any exception, events published on commit."""
        with self.lock:
            failure: BaseException | None = None
            with self.store.batch():
                tx = Transaction(caller)
                try:
                    yield tx
                except BaseException as error:
                    # Undo here and let the batch commit the restored state: a failed batch
                    # would reload the whole store from SQLite.
                    self.rollback_to(tx, (0, 0))
                    failure = error
            if failure is not None:
                raise failure
            if publish:
                self._publish(tx)

    def rollback_to(self, tx: Transaction, point: tuple[int, int]) -> None:
        undo_at, changes_at = point
        while len(tx.undo) > undo_at:
            kind, record_id, previous = tx.undo.pop()
            current = self.store.get(kind, record_id)
            if previous is None:
                self.store.delete(kind, record_id)
            else:
                self.store.put(kind, record_id, previous)
            self._reindex(kind, current, previous)
        del tx.changes[changes_at:]

    def _publish(self, tx: Transaction) -> None:
        events = self.emulator.events
        for entity, change_type, record_id, fields, changed in tx.changes:
            events.publish_change(
                entity,
                change_type,
                [record_id],
                fields,
                changed,
                client_id=tx.caller.client_id,
                transaction_key=tx.key,
            )

    def _write(self, tx: Transaction, kind: str, doc: dict) -> dict:
        previous = self.store.get(kind, doc["Id"])
        tx.undo.append((kind, doc["Id"], previous))
        self.store.put(kind, doc["Id"], doc)
        self._reindex(kind, previous, doc)
        return doc

    def _reindex(self, kind: str, old: dict | None, new: dict | None) -> None:
        if self._index is None:
            return
        for (object_name, field_name), index in self._index.items():
            if object_name != kind:
                continue
            for doc, add in ((old, False), (new, True)):
                if doc and doc.get(field_name):
                    key = str(doc[field_name]).lower()
                    if add:
                        index.setdefault(key, set()).add(doc["Id"])
                    else:
                        index.get(key, set()).discard(doc["Id"])

    # Writing -----------------------------------------------------------------------------
    def create(
        self, tx: Transaction, spec: ObjectSpec, values: dict, from_text: bool = False
    ) -> dict:
        if not spec.createable:
            raise ApiError(400, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", f"{spec.name}: read-only")
        cleaned = clean_values(spec, values, creating=True, from_text=from_text)
        return self.insert_clean(tx, spec, cleaned)

    def insert_clean(self, tx: Transaction, spec: ObjectSpec, cleaned: dict) -> dict:
        """Insert already-validated values (also used by seeding, with its own timestamps)."""
        stamp = cleaned.pop("_stamp", None) or now_text()
        doc = {name: None for name, field_spec in spec.fields.items() if _stored(field_spec)}
        for name, field_spec in spec.fields.items():
            if field_spec.default is not None:
                doc[name] = field_spec.default
        doc.update(cleaned)
        doc["Id"] = make_id(spec.key_prefix, self.store.next_id(f"id:{spec.key_prefix}"))
        doc.update(
            IsDeleted=False,
            CreatedDate=stamp,
            CreatedById=USER_ID,
            LastModifiedDate=stamp,
            LastModifiedById=USER_ID,
            SystemModstamp=stamp,
        )
        if spec.name in AUTO_NUMBER:
            name, pattern = AUTO_NUMBER[spec.name]
            doc[name] = pattern.format(self.store.next_id(f"autonumber:{spec.name}"))
        check_required(spec, doc)
        self._derive(tx, spec, doc, None)
        self._check_unique(spec, doc)
        self._write(tx, spec.name, doc)
        tx.changes.append((spec.name, ChangeType.CREATE, doc["Id"], _event_fields(spec, doc), []))
        self._after_write(tx, spec, doc, None)
        return doc

    def update(
        self,
        tx: Transaction,
        spec: ObjectSpec,
        record_id: str,
        values: dict,
        from_text: bool = False,
    ) -> dict:
        current = self.require(spec, record_id)
        cleaned = clean_values(spec, values, creating=False, from_text=from_text)
        return self.update_clean(tx, spec, current, cleaned)

    def update_clean(self, tx: Transaction, spec: ObjectSpec, current: dict, cleaned: dict):
        doc = {**current, **cleaned}
        check_required(spec, doc)
        self._derive(tx, spec, doc, current)
        self._check_unique(spec, doc)
        stamp = now_text()
        doc.update(LastModifiedDate=stamp, LastModifiedById=USER_ID, SystemModstamp=stamp)
        self._write(tx, spec.name, doc)
        changed = [
            name
            for name in spec.fields
            if name not in _SYSTEM and doc.get(name) != current.get(name)
        ]
        changed.append("LastModifiedDate")
        payload = {name: doc.get(name) for name in changed}
        tx.changes.append((spec.name, ChangeType.UPDATE, doc["Id"], payload, changed))
        self._after_write(tx, spec, doc, current)
        return doc

    def delete(self, tx: Transaction, spec: ObjectSpec, record_id: str, cascade_of: str = ""):
        current = self.require(spec, record_id)
        for child_name, reference in CASCADES.get(spec.name, []):
            for child in self.live(child_name):
                if child.get(reference) == record_id:
                    self.delete(tx, SCHEMA[child_name], child["Id"], cascade_of=record_id)
        stamp = now_text()
        doc = {**current, "IsDeleted": True, "SystemModstamp": stamp, "_cascade_of": cascade_of}
        self._write(tx, spec.name, doc)
        tx.changes.append((spec.name, ChangeType.DELETE, record_id, {}, []))
        if not cascade_of:
            self._after_write(tx, spec, doc, current)

    def undelete(self, tx: Transaction, spec: ObjectSpec, record_id: str) -> dict:
        current = self.store.get(spec.name, record_id)
        if current is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if not current.get("IsDeleted"):
            raise ApiError(400, "UNDELETE_FAILED", "Entity is not in the recycle bin", [])
        stamp = now_text()
        doc = {**current, "IsDeleted": False, "SystemModstamp": stamp, "LastModifiedDate": stamp}
        doc.pop("_cascade_of", None)
        self._check_unique(spec, doc)
        self._write(tx, spec.name, doc)
        tx.changes.append((spec.name, ChangeType.UNDELETE, record_id, _event_fields(spec, doc), []))
        for child_name, _reference in CASCADES.get(spec.name, []):
            for child in self.store.all(child_name):
                if child.get("IsDeleted") and child.get("_cascade_of") == record_id:
                    self.undelete(tx, SCHEMA[child_name], child["Id"])
        self._after_write(tx, spec, doc, current)
        return doc

    def upsert(
        self,
        tx: Transaction,
        spec: ObjectSpec,
        field_name: str,
        value: str,
        values: dict,
        from_text: bool = False,
    ) -> tuple[dict, bool]:
        """Insert or update by an external id; returns (record, created)."""
        field_spec = spec.field(field_name)
        if field_spec is None or not (field_spec.external_id or field_spec.name == "Id"):
            raise ApiError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        body = {key: item for key, item in values.items() if key != "attributes"}
        inline = next((key for key in body if key.lower() == field_spec.name.lower()), None)
        inline_value = body.pop(inline) if inline is not None else None
        if inline is not None and str(inline_value or "") != str(value) and not from_text:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Field {field_spec.name} is not allowed in the body of an upsert by"
                " that field when its value differs from the URL",
            )
        if field_spec.name == "Id":
            existing = [self.require(spec, value)] if value else []
        else:
            existing = self.find_by_external(spec, field_spec.name, value)
        if len(existing) > 1:
            raise MultipleMatches([doc["Id"] for doc in existing])
        if existing:
            cleaned = clean_values(spec, body, creating=False, from_text=from_text)
            return self.update_clean(tx, spec, existing[0], cleaned), False
        cleaned = clean_values(spec, body, creating=True, from_text=from_text)
        if field_spec.name != "Id":
            cleaned[field_spec.name] = value
        return self.insert_clean(tx, spec, cleaned), True

    # Rules -------------------------------------------------------------------------------
    def _check_unique(self, spec: ObjectSpec, doc: dict) -> None:
        for field_spec in spec.fields.values():
            value = doc.get(field_spec.name)
            if not field_spec.unique or not value:
                continue
            for other_id in self._external_index(spec.name, field_spec.name).get(
                str(value).lower(), set()
            ):
                other = self.store.get(spec.name, other_id)
                if other_id != doc["Id"] and other and not other.get("IsDeleted"):
                    raise ApiError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {field_spec.name} duplicates value on record"
                        f" with id: {other_id}",
                        [field_spec.name],
                    )

    def _reference(self, spec: ObjectSpec, doc: dict, field_name: str) -> dict | None:
        record_id = doc.get(field_name)
        if not record_id:
            return None
        target = spec.fields[field_name].reference_to
        found = self.get(target, record_id)
        if found is None:
            label = spec.fields[field_name].label
            raise ApiError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                f"invalid cross reference id: {label}",
                [field_name],
            )
        return found

    def _derive(self, tx: Transaction, spec: ObjectSpec, doc: dict, current: dict | None):
        for field_spec in spec.fields.values():
            checked = field_spec.type == FieldType.REFERENCE and field_spec.reference_to != "User"
            changed = current is None or doc.get(field_spec.name) != current.get(field_spec.name)
            if checked and changed:
                self._reference(spec, doc, field_spec.name)
        if spec.name == "Contact":
            doc["Name"] = " ".join(part for part in (doc["FirstName"], doc["LastName"]) if part)
        elif spec.name == "Opportunity":
            stage = doc["StageName"]
            doc["IsWon"] = stage == "Closed Won"
            doc["IsClosed"] = stage in ("Closed Won", "Closed Lost")
            creating_without = current is None and doc.get("Probability") is None
            if creating_without or (current is not None and stage != current["StageName"]):
                doc["Probability"] = str(STAGE_PROBABILITY.get(stage, 0))
        elif spec.name == "PricebookEntry":
            derive_price_book_entry(self, doc, current)
        elif spec.name == "OpportunityLineItem":
            derive_line_item(self, doc, current)

    def _after_write(self, tx: Transaction, spec: ObjectSpec, doc: dict, current: dict | None):
        if spec.name == "OpportunityLineItem":
            self._roll_up_amount(tx, doc["OpportunityId"], doc)

    def _roll_up_amount(self, tx: Transaction, opportunity_id: str, line: dict) -> None:
        opportunity = self.get("Opportunity", opportunity_id)
        if opportunity is None:
            return  # deleted with its opportunity
        lines = [
            doc
            for doc in self.live("OpportunityLineItem")
            if doc["OpportunityId"] == opportunity_id
        ]
        amount = str(sum((Decimal(doc["TotalPrice"]) for doc in lines), Decimal("0.00")))
        changes = {"Amount": amount}
        if not opportunity.get("Pricebook2Id") and not line.get("IsDeleted"):
            entry = self.get("PricebookEntry", line["PricebookEntryId"])
            changes["Pricebook2Id"] = entry["Pricebook2Id"] if entry else None
        if any(opportunity.get(key) != value for key, value in changes.items()):
            self.update_clean(tx, SCHEMA["Opportunity"], opportunity, changes)


class MultipleMatches(ApiError):
    """300: an external id value matched several records."""

    def __init__(self, record_ids: list[str]):
        super().__init__(300, "MULTIPLE_CHOICES", "Multiple records match the external id")
        self.record_ids = record_ids


_SYSTEM = {"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate"}
_SYSTEM |= {"LastModifiedById", "SystemModstamp"}


def _stored(field_spec) -> bool:
    return field_spec.type != FieldType.ADDRESS


def _id_key(doc: dict) -> str:
    return doc["Id"]


def _event_fields(spec: ObjectSpec, doc: dict) -> dict:
    """A CREATE/UNDELETE event body: every non-null field, compound addresses nested."""
    fields = {
        name: value
        for name, value in doc.items()
        if value is not None and not name.startswith("_") and name in spec.fields
    }
    for name, field_spec in spec.fields.items():
        if field_spec.type == FieldType.ADDRESS:
            address = address_of(doc, name[: -len("Address")])
            if address:
                fields[name] = address
    return fields
