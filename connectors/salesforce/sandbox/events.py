"""The Salesforce sandbox's event store: Change Data Capture and platform events with replay ids.

Every create / update / delete / undelete the REST emulator makes calls `publish_change`; the
event is kept in the StateStore (kind "stream_event", id = replayId) so a restarted sandbox
still replays it, and long-polling CometD connects (streaming.py) are woken through a
`threading.Condition`. Reading the log never happens while that condition is held, and a
publisher never waits for a reader, so a held long poll cannot block a write.

Choices where the reference is not CONFIRMED (written down as the issue asks):
- One replayId sequence for the whole org, shared by `/data/ChangeEvents`, the per-object
  channels and `/event/...` channels (LIKELY; real ids are only promised to increase per channel).
- A change event is delivered on `/data/ChangeEvents` and on `/data/<Object>ChangeEvent`; the
  message's `channel` is the channel the client subscribed to (what a CometD server does), so a
  replay id stored per channel resumes that same channel.
- `changeOrigin`: `com/salesforce/api/rest/59.0;client=<id>` when a client id is given (the
  CONFIRMED format); `com/salesforce/api/rest/59.0` for an API call without one (client_id "");
  empty for a change made in the UI (client_id None), as the ChangeEventHeader docs say
  ("only populated for changes done by API apps...; empty otherwise").
- CREATE payloads carry the non-null fields, UPDATE payloads the given (changed) fields with
  nulls kept, DELETE / UNDELETE payloads the header only (CONFIRMED body rules); `changedFields`
  is filled for UPDATE only (CONFIRMED). Compound fields are passed through as given.
- `commitNumber` is one increasing number per transaction; `sequenceNumber` counts the events of
  one `transactionKey` from 1; `commitUser` is `EventBus.commit_user`, the sandbox's API user
  (auth.USER_ID when the REST emulator is there).
- `schema` is a stable 22-character id derived from the channel (LIKELY: real ids are opaque).
- Platform event definitions are not modelled (the REST emulator accepts any `<Name>__e`), so
  every `/event/<Name>__e` channel exists; a change channel exists for each object of the
  REST emulator's schema (and any object that has published a change).
- Platform events carry `CreatedDate` and `CreatedById` in the payload and `EventUuid` beside
  the replayId (LIKELY for newer API versions).
- Retention is 72 h (CONFIRMED) and configurable (`retention_s`); expired events are pruned on
  publish and never served. A replay from a replayId is accepted only when that event is still
  retained (otherwise the documented 400 replayId error).
- Redelivery (the control API) re-sends the identical message, same replayId, to the clients
  subscribed now: an at-least-once duplicate, not a new event in the log.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import uuid
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from connectors.sandbox.state import StateStore

EVENT_KIND = "stream_event"
REPLAY_COUNTER = "stream_replay_id"
COMMIT_COUNTER = "stream_commit_number"
EPOCH_KEY = "stream_epoch"
ALL_CHANGE_EVENTS = "/data/ChangeEvents"
RETENTION_S = 72 * 3600
API_VERSION = "59.0"
DEFAULT_COMMIT_USER = "005Dn000000SbxAIAS"
# Objects with change events even before the REST emulator's schema is importable.
DEFAULT_ENTITIES = {
    "Account",
    "Contact",
    "Opportunity",
    "OpportunityLineItem",
    "Product2",
    "Pricebook2",
    "PricebookEntry",
    "Payment__c",
}
PLATFORM_CHANNEL = re.compile(r"/event/[A-Za-z][A-Za-z0-9_]*__e")
_COMMIT_BASE = 10969892337000


class ChangeType(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    UNDELETE = "UNDELETE"
    GAP_CREATE = "GAP_CREATE"
    GAP_UPDATE = "GAP_UPDATE"
    GAP_DELETE = "GAP_DELETE"
    GAP_UNDELETE = "GAP_UNDELETE"
    GAP_OVERFLOW = "GAP_OVERFLOW"


class EventKind(StrEnum):
    CHANGE = "change"
    PLATFORM = "platform"


def change_channel(entity_name: str) -> str:
    """`/data/AccountChangeEvent`; custom object `Payment__c` gives `/data/Payment__ChangeEvent`."""
    if entity_name.endswith("__c"):
        return f"/data/{entity_name[:-1]}ChangeEvent"
    return f"/data/{entity_name}ChangeEvent"


def platform_channel(event_name: str) -> str:
    return f"/event/{event_name}"


def schema_id(channel: str) -> str:
    digest = hashlib.sha256(channel.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def _iso_now(now: float) -> str:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def message_for(event: dict, channel: str) -> dict:
    """The CometD message a subscriber of `channel` receives for a stored event."""
    return {"channel": channel, "data": event["data"]}


class EventBus:
    """The org's event log: publish, read after a replayId, wait for news, redeliver."""

    def __init__(
        self,
        store: StateStore,
        retention_s: float = RETENTION_S,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.retention_s = retention_s
        self.clock = clock
        self.commit_user = _sandbox_user_id()
        self.entities: set[str] = set(DEFAULT_ENTITIES) | _schema_entities()
        self.condition = threading.Condition()
        self.version = 0  # bumped (under `condition`) whenever a waiting connect should look again
        self._transactions: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._redeliveries: list[Callable[[dict, int], int]] = []

    # Publishing ---------------------------------------------------------------------------
    def publish_change(
        self,
        entity_name: str,
        change_type: str,
        record_ids: list[str],
        fields: dict,
        changed_fields: list[str],
        client_id: str | None = None,
        transaction_key: str | None = None,
    ) -> list[dict]:
        """Record one change (CREATE / UPDATE / DELETE / UNDELETE) of records of one object.

        fields: the record's new field values (for CREATE all non-null fields, for UPDATE the
        changed ones); client_id: the caller's Sforce-Call-Options client, or None for a change
        made by a person in the UI. Returns the published event messages, one per channel.
        """
        change_type = ChangeType(change_type)
        now = self.clock()
        transaction_key = transaction_key or str(uuid.uuid4())
        with self.store.lock:
            commit_number, sequence = self._next_in_transaction(transaction_key)
            header = {
                "entityName": entity_name,
                "recordIds": [str(record_id) for record_id in record_ids],
                "changeType": str(change_type),
                "changeOrigin": self._change_origin(client_id),
                "transactionKey": transaction_key,
                "sequenceNumber": sequence,
                "commitTimestamp": int(now * 1000),
                "commitNumber": commit_number,
                "commitUser": self.commit_user,
                "changedFields": list(changed_fields) if change_type == ChangeType.UPDATE else [],
            }
            payload: dict = {"ChangeEventHeader": header}
            if change_type == ChangeType.CREATE:
                payload.update({name: value for name, value in fields.items() if value is not None})
            elif change_type == ChangeType.UPDATE:
                payload.update(fields)
            channel = change_channel(entity_name)
            event = self._append(
                EventKind.CHANGE,
                [channel, ALL_CHANGE_EVENTS],
                {"schema": schema_id(channel), "payload": payload},
                now,
                entity=entity_name,
                record_ids=header["recordIds"],
            )
            self.entities.add(entity_name)
        self.notify()
        return [message_for(event, channel) for channel in event["channels"]]

    def publish_platform_event(self, event_name: str, payload: dict) -> dict:
        """Publish a platform event (`/event/<Name>__e`); returns the delivered message."""
        now = self.clock()
        channel = platform_channel(event_name)
        body = {"CreatedDate": _iso_now(now), "CreatedById": self.commit_user, **payload}
        with self.store.lock:
            event = self._append(
                EventKind.PLATFORM,
                [channel],
                {"schema": schema_id(channel), "payload": body},
                now,
                entity=event_name,
                record_ids=[],
                event_uuid=str(uuid.uuid4()),
            )
        self.notify()
        return message_for(event, channel)

    def _append(self, kind, channels, data, now, *, entity, record_ids, event_uuid=None) -> dict:
        replay_id = self.store.next_id(REPLAY_COUNTER)
        data = {**data, "event": {"replayId": replay_id}}
        if event_uuid:
            data["event"]["EventUuid"] = event_uuid
        event = {
            "replayId": replay_id,
            "kind": str(kind),
            "channels": channels,
            "entity": entity,
            "recordIds": record_ids,
            "publishedAt": now,
            "data": data,
        }
        self.store.put(EVENT_KIND, str(replay_id), event)
        self.prune()
        return event

    def _next_in_transaction(self, transaction_key: str | None) -> tuple[int, int]:
        if transaction_key and transaction_key in self._transactions:
            commit_number, sequence = self._transactions[transaction_key]
            sequence += 1
        else:
            commit_number = _COMMIT_BASE + self.store.next_id(COMMIT_COUNTER)
            sequence = 1
        if transaction_key:
            self._transactions[transaction_key] = (commit_number, sequence)
            self._transactions.move_to_end(transaction_key)
            while len(self._transactions) > 1000:
                self._transactions.popitem(last=False)
        return commit_number, sequence

    @staticmethod
    def _change_origin(client_id: str | None) -> str:
        if client_id is None:
            return ""
        origin = f"com/salesforce/api/rest/{API_VERSION}"
        return f"{origin};client={client_id}" if client_id else origin

    # Reading ------------------------------------------------------------------------------
    def retained(self) -> list[dict]:
        """Every event still inside the retention window, oldest first."""
        events = self.store.all(EVENT_KIND)
        cutoff = self.clock() - self.retention_s
        start = 0
        while start < len(events) and events[start]["publishedAt"] < cutoff:
            start += 1
        return events[start:]

    def events_after(self, replay_id: int, channel: str, limit: int | None = None) -> list[dict]:
        """Retained events on `channel` with a replayId greater than `replay_id`."""
        events = self.retained()
        start = bisect_right(events, replay_id, key=lambda event: event["replayId"])
        found = []
        for event in events[start:]:
            if channel in event["channels"]:
                found.append(event)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def latest_replay_id(self) -> int:
        return int(self.store.get_meta(REPLAY_COUNTER, "0"))

    def is_retained(self, replay_id: int) -> bool:
        """Whether a client may resume after `replay_id`: that event is still in the window."""
        event = self.store.get(EVENT_KIND, str(replay_id))
        return event is not None and event["publishedAt"] >= self.clock() - self.retention_s

    def knows_channel(self, channel: str) -> bool:
        if channel == ALL_CHANGE_EVENTS:
            return True
        if channel.startswith("/data/"):
            return any(change_channel(entity) == channel for entity in self.entities)
        return PLATFORM_CHANNEL.fullmatch(channel) is not None

    def last_change(self, entity_name: str, record_id: str) -> dict | None:
        """The newest retained change event of one record."""
        for event in reversed(self.retained()):
            if (
                event["kind"] == EventKind.CHANGE
                and event["entity"] == entity_name
                and record_id in event["recordIds"]
            ):
                return event
        return None

    def epoch(self) -> str:
        """An id of this log's lifetime; it changes when the sandbox is reset (meta is wiped)."""
        with self.store.lock:
            value = self.store.get_meta(EPOCH_KEY)
            if value is None:
                value = uuid.uuid4().hex
                self.store.set_meta(EPOCH_KEY, value)
            return value

    # Waking and redelivery ----------------------------------------------------------------
    def notify(self) -> None:
        """Wake every waiting connect so it looks at the log (and its pending queue) again."""
        with self.condition:
            self.version += 1
            self.condition.notify_all()

    def wait_for_news(self, seen_version: int, timeout: float) -> bool:
        """Block until `version` moves past `seen_version` or the timeout passes."""
        with self.condition:
            return self.condition.wait_for(lambda: self.version != seen_version, timeout)

    def on_redeliver(self, deliver: Callable[[dict, int], int]) -> None:
        """Register who hands redelivered events to live clients (the Bayeux server)."""
        self._redeliveries.append(deliver)

    def redeliver(self, entity_name: str, record_id: str, times: int) -> tuple[dict, int] | None:
        """Send the record's last change event `times` more times; None if it has none."""
        event = self.last_change(entity_name, record_id)
        if event is None:
            return None
        clients = sum(deliver(event, times) for deliver in self._redeliveries)
        self.notify()
        return event, clients

    def prune(self) -> int:
        """Delete events older than the retention window; returns how many went."""
        cutoff = self.clock() - self.retention_s
        expired = []
        for event in self.store.all(EVENT_KIND):  # oldest first: stop at the first fresh one
            if event["publishedAt"] >= cutoff:
                break
            expired.append(event["replayId"])
        with self.store.lock:
            for replay_id in expired:
                self.store.delete(EVENT_KIND, str(replay_id))
        return len(expired)


def _sandbox_user_id() -> str:
    """The REST emulator's API user when its auth module is there, so ids agree everywhere."""
    try:
        from connectors.salesforce.sandbox.auth import USER_ID
    except ImportError:
        return DEFAULT_COMMIT_USER
    return USER_ID


def _schema_entities() -> set[str]:
    """Object names from the REST emulator's schema when it is there (it is built in parallel)."""
    try:
        from connectors.salesforce.sandbox.schema import SCHEMA
    except ImportError:
        return set()
    return set(SCHEMA)
