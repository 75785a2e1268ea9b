"""The HTTPS server every emulator runs on, with routing, scripted faults and a control API.

An emulator is a subclass of `Emulator`: it declares its routes (method, regex, handler) and
builds its own error bodies; this module does the rest once: TLS, HTTP/1.1 keep-alive, one thread
per connection (long polls do not block other clients), the `/__sandbox__/` control API
(`POST faults`, `POST reset`, plus the emulator's own control routes), and fault injection
before a request reaches the emulator.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from connectors.sandbox.seed import World
    from connectors.sandbox.state import StateStore

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/__sandbox__/"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    match: re.Match | None = None
    client_address: tuple = ()

    def json(self):
        """The body as JSON; raises BadRequest with a clear message when it is not."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from exc

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        if isinstance(self.body, bytes):
            return self.body, headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode(), headers
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(self.body, default=str).encode(), headers


class BadRequest(Exception):
    """Raised by handlers for malformed input; the emulator turns it into its own 400 body."""


Handler = Callable[[Request], Response]


@dataclass
class Fault:
    """A scripted failure for the next `times` requests whose path matches `path_regex`."""

    path_regex: str
    status: int = 500
    times: int = 1
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str | dict | list | None = None
    delay_s: float = 0.0
    drop: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return re.search(self.path_regex, path) is not None


class Emulator:
    """Base class of an emulated API: the contract every sandbox implements.

    A subclass keeps all its records in `self.store` (a StateStore, so they survive restarts)
    and must implement routes(), error_response(), endpoints() and seed(); bootstrap() and
    control_routes() are optional hooks.
    """

    system = ""  # "kashflow", "salesforce", "magento"

    def __init__(self, store: StateStore, state_dir: Path):
        self.store = store
        self.state_dir = Path(state_dir)
        self.base_origin = ""  # https://localhost:PORT, set by bind() once the port is known
        self.world: World | None = None  # what seed() was given, for POST reset {"reseed": true}
        self._faults: list[Fault] = []
        self._faults_lock = threading.Lock()

    def bind(self, origin: str) -> None:
        self.base_origin = origin

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(METHOD, path regex, handler) for the real API; regexes are anchored with fullmatch."""
        raise NotImplementedError

    def control_routes(self) -> list[tuple[str, str, Handler]]:
        """Extra `/__sandbox__/...` routes (path regex relative to the prefix)."""
        return []

    def error_response(self, status: int, message: str) -> Response:
        """The system's own error body for a status (404 route, 400 bad input, 500 crash)."""
        raise NotImplementedError

    def endpoints(self) -> dict:
        """This emulator's entry in endpoints.json (base URL, credentials, control URL)."""
        raise NotImplementedError

    def seed(self, world: World) -> list[tuple[str, str, str]]:
        """Create this system's records for the world; return (entity, external_id, entity_key)
        rows for truth.csv, entity being "customer" or "product"."""
        raise NotImplementedError

    def bootstrap(self) -> None:
        """Create what exists even in an empty account (standard pricebook, bank accounts...).
        Called on first start and after every reset, before seed()."""

    def reset(self, reseed: bool = False) -> None:
        """Forget every record; with reseed, load the seed world again."""
        with self.store.batch():
            self.store.reset()
            self.bootstrap()
            if reseed and self.world is not None:
                self.seed(self.world)

    @property
    def control_url(self) -> str:
        return self.base_origin + CONTROL_PREFIX.rstrip("/")

    # Faults -----------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        with self._faults_lock:
            self._faults.append(fault)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._faults_lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()


class _Dropped(Exception):
    pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def log_message(self, format, *args):
        logger.debug("%s %s", self.server.emulator.system, format % args)

    def _dispatch(self) -> None:
        started = time.monotonic()
        emulator = self.server.emulator
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            raw_query=parts.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            client_address=self.client_address,
        )
        try:
            response = self.server.handle(request)
        except _Dropped:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload, headers = response.encoded()
        self.send_response(response.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        logger.debug(
            "%s %s %s -> %s in %.1f ms",
            emulator.system,
            self.command,
            parts.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class SandboxServer(ThreadingHTTPServer):
    """One emulator on one loopback HTTPS port, served from a background thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, emulator: Emulator, tls_context: ssl.SSLContext, host: str, port: int):
        super().__init__((host, port), _RequestHandler)
        self.emulator = emulator
        self.tls_context = tls_context
        self._thread: threading.Thread | None = None
        self._routes = [
            (method, re.compile(pattern), handler) for method, pattern, handler in emulator.routes()
        ]
        self._control_routes = [
            (method, re.compile(pattern), handler)
            for method, pattern, handler in [
                ("POST", "faults", self._post_fault),
                ("DELETE", "faults", self._clear_faults),
                ("POST", "reset", self._reset),
                ("GET", "health", self._health),
                *emulator.control_routes(),
            ]
        ]

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    def get_request(self):
        sock, address = super().get_request()
        # Headers and body go out in two writes; without NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.tls_context.wrap_socket(sock, server_side=True), address

    def handle_error(self, request, client_address):
        # Clients that go away mid-request (timeouts, dropped-connection faults) are normal here.
        logger.debug(
            "%s: connection from %s ended with an error", self.emulator.system, client_address
        )

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"sandbox-{self.emulator.system}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    # Request handling --------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        emulator = self.emulator
        try:
            if request.path.startswith(CONTROL_PREFIX):
                return self._route(
                    self._control_routes, request, request.path[len(CONTROL_PREFIX) :]
                )
            fault = emulator.take_fault(request.method, request.path)
            if fault is not None:
                faulted = self._apply_fault(fault)
                if faulted is not None:
                    return faulted
            return self._route(self._routes, request, request.path)
        except _Dropped:
            raise
        except BadRequest as exc:
            return emulator.error_response(400, str(exc))
        except Exception:
            logger.exception(
                "%s sandbox crashed on %s %s", emulator.system, request.method, request.path
            )
            return emulator.error_response(500, "Internal error in the sandbox")

    def _route(self, routes, request: Request, path: str) -> Response:
        allowed = []
        for method, pattern, handler in routes:
            match = pattern.fullmatch(path)
            if match:
                if method == request.method:
                    request.match = match
                    return handler(request)
                allowed.append(method)
        if allowed:
            return self.emulator.error_response(405, f"Method {request.method} not allowed")
        return self.emulator.error_response(404, f"No resource at {request.path}")

    def _apply_fault(self, fault: Fault) -> Response | None:
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.drop:
            raise _Dropped()
        if fault.status == 0:
            return None  # a delay-only fault: answer normally, just late
        if fault.body is None:
            response = self.emulator.error_response(fault.status, "Scripted fault")
            response.headers.update(fault.headers)
            return response
        return Response(fault.status, fault.body, dict(fault.headers))

    # Control API -------------------------------------------------------------------------
    def _post_fault(self, request: Request) -> Response:
        spec = request.json() or {}
        if not isinstance(spec, dict) or "path_regex" not in spec:
            raise BadRequest('a fault needs at least {"path_regex": ...}')
        unknown = set(spec) - set(Fault.__dataclass_fields__)
        if unknown:
            raise BadRequest(f"unknown fault fields: {sorted(unknown)}")
        try:
            re.compile(spec["path_regex"])
        except re.error as exc:
            raise BadRequest(f"path_regex does not compile: {exc}") from exc
        fault = Fault(**spec)
        if "status" not in spec and (fault.drop or fault.delay_s):
            fault.status = 0
        self.emulator.add_fault(fault)
        return Response(201, {"scheduled": spec})

    def _health(self, request: Request) -> Response:
        return Response(200, {"system": self.emulator.system, "ok": True})

    def _clear_faults(self, request: Request) -> Response:
        self.emulator.clear_faults()
        return Response(204)

    def _reset(self, request: Request) -> Response:
        options = request.json() or {}
        self.emulator.clear_faults()
        self.emulator.reset(reseed=bool(options.get("reseed")))
        return Response(
            200, {"reset": self.emulator.system, "reseeded": bool(options.get("reseed"))}
        )
