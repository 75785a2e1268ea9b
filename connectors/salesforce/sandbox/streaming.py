"""The Salesforce sandbox's Streaming API: Bayeux 1.0 over HTTP long polling at `/cometd/<v>/`.

Serves handshake, subscribe (with the replay extension: -1 new events, -2 every retained
event, or a replayId to resume after), connect (held until an event arrives or the advised
timeout passes), unsubscribe and disconnect, in batched JSON arrays, authenticated by the
OAuth token (`Authorization: Bearer <token>`; `OAuth <token>` is accepted too). The events come
from the EventBus in events.py. Each handshake gets a client with its own subscriptions (a
cursor per channel) and a pending queue (redeliveries); a client that stops connecting expires.

Behaviour and the choices made where the reference is not CONFIRMED:
- Replies keep the request's `id`; events precede the `/meta/connect` reply in one response.
- The first connect after a handshake answers at once (CometD servers do not hold it); later
  connects are held up to `poll_timeout_s` (advice `timeout`, 110 s like Salesforce). A newer
  connect of the same client releases a held one, so an abandoned poll never swallows events.
- Unknown or expired client: `403::Unknown client` with advice `reconnect: handshake` (the
  Streaming API error docs; plain CometD servers say 402). Clients expire `client_expiry_s`
  (40 s) after their last request ended.
- Bad or expired token: handshake fails with `403::Handshake denied` and
  `ext.sfdc.failureReason = "401::Authentication invalid"`; any other message fails with
  `401::Authentication invalid`; both advise `reconnect: none` (the error-handling docs). With
  no Authorization header the reason is `401::Request requires authentication`.
- Subscribe errors (400): a replayId that is not a retained event, an unknown channel, a missing
  channel or one without a leading '/', worded like the Streaming API error table.
- Publishing over CometD is refused with `403::Publish denied` (Salesforce publishes platform
  events through REST, not CometD; LIKELY wording). Only `long-polling` is offered.
- A `BAYEUX_BROWSER` cookie is set on handshake (LIKELY) but not required back.
- A sandbox reset starts a new event log; every client is then unknown and must handshake again.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from enum import StrEnum

from connectors.salesforce.sandbox.events import ChangeType, EventBus, message_for
from connectors.sandbox.server import Request, Response

LONG_POLLING = "long-polling"
MIN_API_VERSION = 37.0
COMETD_PATH = r"/cometd(?:/(?P<version>[^/]+))?(?P<tail>/.*)?"
INVALID_REPLAY = (
    "400::The replayId {{{replay_id}}} you provided was invalid.  Please provide a valid ID, "
    "-2 to replay all events, or -1 to replay only new events."
)


class Reconnect(StrEnum):
    RETRY = "retry"
    HANDSHAKE = "handshake"
    NONE = "none"


class MetaChannel(StrEnum):
    HANDSHAKE = "/meta/handshake"
    CONNECT = "/meta/connect"
    SUBSCRIBE = "/meta/subscribe"
    UNSUBSCRIBE = "/meta/unsubscribe"
    DISCONNECT = "/meta/disconnect"


@dataclass
class StreamingSettings:
    """Timings of the Bayeux server; tests shorten them."""

    poll_timeout_s: float = 110.0  # how long a connect is held; advertised as advice.timeout
    client_expiry_s: float = 40.0  # a client with no request for this long is forgotten
    max_events_per_connect: int = 100


@dataclass
class BayeuxClient:
    client_id: str
    last_seen: float
    subscriptions: dict[str, int] = field(default_factory=dict)  # channel -> last replayId sent
    pending: list[dict] = field(default_factory=list)  # redelivered messages, sent as they are
    connecting: int = 0
    connect_generation: int = 0
    connected_once: bool = False
    gone: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class StreamingError(Exception):
    """A failed meta message: the Bayeux error string and the reconnect advice."""

    def __init__(self, error: str, reconnect: Reconnect | None = None, **extra):
        super().__init__(error)
        self.error = error
        self.reconnect = reconnect
        self.extra = extra


class BayeuxServer:
    """The per-emulator Bayeux state: clients, their subscriptions, and the long-poll loop."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.bus: EventBus = emulator.events
        self.settings = StreamingSettings()
        self._clients: dict[str, BayeuxClient] = {}
        self._lock = threading.Lock()
        self._epoch = self.bus.epoch()
        self.bus.on_redeliver(self._redeliver)

    # HTTP entry point ---------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        version = request.match.group("version") if request.match else None
        if not version:
            return self._http_error(
                "400::API version in the URI is mandatory. URI format: '/cometd/59.0'"
            )
        try:
            supported = float(version) >= MIN_API_VERSION
        except ValueError:
            supported = False
        if not supported:
            return self._http_error(
                "400::Unsupported API version. Only API versions '37.0' and later are supported."
                " URI format: '/cometd/59.0'"
            )
        try:
            messages = json.loads(request.body or b"null")
        except ValueError:
            return self._http_error("400::The request body is not valid JSON")
        if isinstance(messages, dict):
            messages = [messages]
        if (
            not messages
            or not isinstance(messages, list)
            or not all(isinstance(message, dict) for message in messages)
        ):
            return self._http_error("400::The request body must be an array of Bayeux messages")
        auth_error = self._auth_error(request)
        self._forget_stale_clients()
        replies: list[dict] = []
        connect = None
        for message in messages:
            if message.get("channel") == MetaChannel.CONNECT and connect is None:
                connect = message  # answered last, after the batch's subscriptions took effect
                continue
            replies.extend(self._answer(message, auth_error))
        if connect is not None:
            replies.extend(self._answer(connect, auth_error))
        headers = {"Cache-Control": "no-cache, no-store"}
        if any(r["channel"] == MetaChannel.HANDSHAKE and r["successful"] for r in replies):
            headers["Set-Cookie"] = (
                f"BAYEUX_BROWSER={uuid.uuid4().hex[:16]}; Path=/; Secure; HttpOnly"
            )
        return Response(200, replies, headers)

    def _http_error(self, error: str) -> Response:
        return Response(400, [{"successful": False, "error": error}])

    def _auth_error(self, request: Request) -> str | None:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if not token.strip():
            return "401::Request requires authentication"
        if scheme.lower() == "oauth":
            headers = {**request.headers, "authorization": f"Bearer {token.strip()}"}
            request = dataclasses.replace(request, headers=headers)
        elif scheme.lower() != "bearer":
            return "401::Authentication invalid"
        return None if self.emulator.authenticate(request) else "401::Authentication invalid"

    def _answer(self, message: dict, auth_error: str | None) -> list[dict]:
        channel = message.get("channel") or ""
        reply = {"channel": channel, "successful": True}
        if "id" in message:
            reply["id"] = message["id"]
        if message.get("clientId"):
            reply["clientId"] = message["clientId"]
        if "subscription" in message:
            reply["subscription"] = message["subscription"]
        try:
            if channel == MetaChannel.HANDSHAKE:
                return [self._handshake(message, reply, auth_error)]
            client = self._client(message)
            if auth_error:
                self._drop(client)
                raise StreamingError(auth_error, Reconnect.NONE)
            if channel == MetaChannel.CONNECT:
                return self._connect(client, message, reply)
            try:
                if channel == MetaChannel.SUBSCRIBE:
                    return self._subscribe(client, message, reply)
                if channel == MetaChannel.UNSUBSCRIBE:
                    return self._unsubscribe(client, message, reply)
                if channel == MetaChannel.DISCONNECT:
                    self._drop(client)
                    return [reply]
                if channel.startswith("/meta/"):
                    raise StreamingError(f"400::Unknown meta channel {channel}")
                raise StreamingError("403::Publish denied")
            finally:
                client.last_seen = time.monotonic()
        except StreamingError as failure:
            reply.update(successful=False, error=failure.error, **failure.extra)
            if failure.reconnect is not None:
                reply["advice"] = {"reconnect": str(failure.reconnect), "interval": 0}
            return [reply]

    # Meta channels ------------------------------------------------------------------------
    def _handshake(self, message: dict, reply: dict, auth_error: str | None) -> dict:
        reply.update(version="1.0", minimumVersion="1.0", supportedConnectionTypes=[LONG_POLLING])
        if auth_error:
            raise StreamingError(
                "403::Handshake denied", Reconnect.NONE, ext={"sfdc": {"failureReason": auth_error}}
            )
        offered = message.get("supportedConnectionTypes")
        if isinstance(offered, list) and LONG_POLLING not in offered:
            raise StreamingError(f"400::Invalid connection type {offered}", Reconnect.NONE)
        client = BayeuxClient(client_id=uuid.uuid4().hex[:27], last_seen=time.monotonic())
        with self._lock:
            self._clients[client.client_id] = client
        reply.update(
            clientId=client.client_id,
            advice=self._advice(),
            ext={"replay": True, "payload.format": True},
        )
        return reply

    def _connect(self, client: BayeuxClient, message: dict, reply: dict) -> list[dict]:
        connection_type = message.get("connectionType", LONG_POLLING)
        if connection_type != LONG_POLLING:
            raise StreamingError(f"400::Invalid connection type {connection_type}")
        with client.lock:
            client.connecting += 1
            client.connect_generation += 1
            generation = client.connect_generation
            hold = self.settings.poll_timeout_s if client.connected_once else 0.0
            client.connected_once = True
        self.bus.notify()  # releases an older connect of this client that is still held
        try:
            events = self._wait_for_events(client, generation, hold)
        finally:
            with client.lock:
                client.connecting -= 1
                client.last_seen = time.monotonic()
        if client.gone:
            raise StreamingError("403::Unknown client", Reconnect.HANDSHAKE)
        reply["advice"] = self._advice()
        return [*events, reply]

    def _subscribe(self, client: BayeuxClient, message: dict, reply: dict) -> list[dict]:
        subscription = message.get("subscription")
        channels = subscription if isinstance(subscription, list) else [subscription]
        replay = (message.get("ext") or {}).get("replay") or {}
        cursors = {}
        for channel in channels:
            if not channel or not isinstance(channel, str):
                raise StreamingError("400::Channel name not specified")
            if not channel.startswith("/"):
                raise StreamingError("400::Channel subscriptions must start with a leading '/'")
            if not self.bus.knows_channel(channel):
                raise StreamingError(
                    f"400::The channel you requested to subscribe to does not exist {{{channel}}}"
                )
            cursors[channel] = self._cursor(replay.get(channel, -1))
        with client.lock:
            client.subscriptions.update(cursors)
        self.bus.notify()  # a held connect may now have events to send (replay -2 or an id)
        return [reply]

    def _cursor(self, replay_id) -> int:
        """The replayId after which a new subscription starts delivering."""
        if isinstance(replay_id, str) and replay_id.lstrip("-").isdigit():
            replay_id = int(replay_id)
        if replay_id == -1:
            return self.bus.latest_replay_id()
        if replay_id == -2:
            return 0
        if (
            isinstance(replay_id, int)
            and not isinstance(replay_id, bool)
            and self.bus.is_retained(replay_id)
        ):
            return replay_id
        raise StreamingError(INVALID_REPLAY.format(replay_id=replay_id))

    def _unsubscribe(self, client: BayeuxClient, message: dict, reply: dict) -> list[dict]:
        subscription = message.get("subscription")
        channels = subscription if isinstance(subscription, list) else [subscription]
        with client.lock:
            for channel in channels:
                client.subscriptions.pop(channel, None)
        return [reply]

    # Long polling -------------------------------------------------------------------------
    def _wait_for_events(self, client: BayeuxClient, generation: int, hold: float) -> list[dict]:
        deadline = time.monotonic() + hold
        while True:
            seen = self.bus.version  # read before looking, so no publish can slip between
            if client.gone or client.connect_generation != generation:
                return []
            events = self._collect(client)
            if events:
                return events
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self.bus.wait_for_news(seen, remaining)

    def _collect(self, client: BayeuxClient) -> list[dict]:
        """Take the client's pending redeliveries and the new events of its channels."""
        limit = self.settings.max_events_per_connect
        with client.lock:
            messages = client.pending[:limit]
            del client.pending[:limit]
            room = limit - len(messages)
            found = []
            for channel, cursor in client.subscriptions.items():
                for event in self.bus.events_after(cursor, channel, limit=room):
                    found.append((event["replayId"], channel, event))
            found.sort(key=lambda item: item[0])
            for replay_id, channel, event in found[:room]:
                client.subscriptions[channel] = max(client.subscriptions[channel], replay_id)
                messages.append(message_for(event, channel))
        return messages

    def _advice(self) -> dict:
        return {
            "reconnect": str(Reconnect.RETRY),
            "interval": 0,
            "timeout": int(self.settings.poll_timeout_s * 1000),
        }

    # Clients ------------------------------------------------------------------------------
    def _client(self, message: dict) -> BayeuxClient:
        with self._lock:
            client = self._clients.get(str(message.get("clientId")))
        if client is None:
            raise StreamingError("403::Unknown client", Reconnect.HANDSHAKE)
        return client

    def _drop(self, client: BayeuxClient) -> None:
        with self._lock:
            self._clients.pop(client.client_id, None)
        client.gone = True
        self.bus.notify()

    def _forget_stale_clients(self) -> None:
        epoch = self.bus.epoch()
        now = time.monotonic()
        with self._lock:
            if epoch != self._epoch:  # the sandbox was reset: a new log, nobody is known
                self._epoch = epoch
                stale = list(self._clients.values())
            else:
                stale = [
                    client
                    for client in self._clients.values()
                    if not client.connecting
                    and now - client.last_seen > self.settings.client_expiry_s
                ]
        for client in stale:
            self._drop(client)

    def drop_clients(self) -> int:
        """Forget every client, as after a server-side session loss; returns how many went."""
        with self._lock:
            clients = list(self._clients.values())
        for client in clients:
            self._drop(client)
        return len(clients)

    def client_count(self) -> int:
        with self._lock:
            return len(self._clients)

    def _redeliver(self, event: dict, times: int) -> int:
        """Queue `times` copies of a stored event for every live client subscribed to it."""
        reached = 0
        with self._lock:
            clients = list(self._clients.values())
        for client in clients:
            with client.lock:
                channels = [c for c in event["channels"] if c in client.subscriptions]
                for _ in range(times):
                    client.pending.extend(message_for(event, channel) for channel in channels)
            reached += bool(channels)
        return reached


_servers: weakref.WeakKeyDictionary[EventBus, BayeuxServer] = weakref.WeakKeyDictionary()
_servers_lock = threading.Lock()


def bayeux_for(emulator) -> BayeuxServer:
    """The one Bayeux server of an emulator's event bus (created on first use)."""
    with _servers_lock:
        server = _servers.get(emulator.events)
        if server is None:
            server = _servers[emulator.events] = BayeuxServer(emulator)
        return server


def streaming_routes(emulator) -> list[tuple[str, str, object]]:
    """The CometD endpoint: `/cometd/<version>` with or without a trailing path."""
    return [("POST", COMETD_PATH, lambda request: bayeux_for(emulator).handle(request))]


def streaming_control_routes(emulator) -> list[tuple[str, str, object]]:
    """The streaming part of `/__sandbox__/` (not part of the real API):

    - `POST events/redeliver {"entity", "record_id", "times"}`: the record's last change event
      again, `times` more times, same replayId, to every client subscribed to its channels;
    - `POST events/gap {"entity", "record_ids", "change_type": "GAP_UPDATE"}`: a gap event
      (header only: the subscriber must re-read the records);
    - `POST streaming/drop_clients`: forget every CometD client, so each gets
      `403::Unknown client` and must handshake and subscribe again.
    """

    def redeliver(request: Request) -> Response:
        spec = request.json() or {}
        entity, record_id = spec.get("entity"), spec.get("record_id")
        times = spec.get("times", 1)
        if not entity or not record_id or not isinstance(times, int) or times < 1:
            return emulator.error_response(
                400, 'redeliver needs {"entity", "record_id", "times" (a positive integer)}'
            )
        bayeux_for(emulator)  # make sure someone listens for redeliveries
        result = emulator.events.redeliver(entity, str(record_id), times)
        if result is None:
            return emulator.error_response(404, f"No change event for {entity} {record_id}")
        event, clients = result
        return Response(
            200,
            {
                "replayId": event["replayId"],
                "channels": event["channels"],
                "times": times,
                "clients": clients,
            },
        )

    def gap(request: Request) -> Response:
        spec = request.json() or {}
        entity, record_ids = spec.get("entity"), spec.get("record_ids")
        change_type = spec.get("change_type", "GAP_UPDATE")
        if (
            not entity
            or not isinstance(record_ids, list)
            or change_type not in {str(kind) for kind in ChangeType if kind.startswith("GAP_")}
        ):
            return emulator.error_response(
                400, 'gap needs {"entity", "record_ids": [...], "change_type": "GAP_..."}'
            )
        messages = emulator.events.publish_change(entity, change_type, record_ids, {}, [])
        return Response(201, {"replayId": messages[0]["data"]["event"]["replayId"]})

    def drop_clients(request: Request) -> Response:
        return Response(200, {"dropped": bayeux_for(emulator).drop_clients()})

    return [
        ("POST", "events/redeliver", redeliver),
        ("POST", "events/gap", gap),
        ("POST", "streaming/drop_clients", drop_clients),
    ]
