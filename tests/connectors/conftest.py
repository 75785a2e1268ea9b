"""Fixtures for connector tests: a tiny HTTPS API to exercise the shared layers against."""

import pytest

from connectors.sandbox.server import BadRequest, Emulator, Response, SandboxServer
from connectors.sandbox.state import StateStore
from connectors.sandbox.tls import ensure_tls
from tests.conftest import https_session


class NotesEmulator(Emulator):
    """A tiny API used only to exercise the shared server."""

    system = "notes"

    def routes(self):
        return [
            ("GET", "/notes", self.list_notes),
            ("POST", "/notes", self.create_note),
            ("GET", r"/notes/(?P<id>\d+)", self.get_note),
        ]

    def list_notes(self, request):
        return Response(200, {"items": self.store.all("note")})

    def create_note(self, request):
        body = request.json()
        if not isinstance(body, dict) or not body.get("text"):
            raise BadRequest("text is required")
        note_id = self.store.next_id("note")
        return Response(201, self.store.put("note", note_id, {"id": note_id, **body}))

    def get_note(self, request):
        note = self.store.get("note", request.match["id"])
        return Response(200, note) if note else self.error_response(404, "no such note")

    def error_response(self, status, message):
        return Response(status, {"error": message, "status": status})

    def endpoints(self):
        return {"base_url": self.base_origin, "control_url": self.control_url}

    def seed(self, world):
        return []


@pytest.fixture
def notes(tmp_path):
    """(server, session): the notes API on a free port, and a session trusting its CA."""
    tls = ensure_tls(tmp_path)
    emulator = NotesEmulator(StateStore(tmp_path / "notes.sqlite3"), tmp_path)
    server = SandboxServer(emulator, tls.server_context(), "127.0.0.1", 0)
    emulator.bind(server.origin)
    server.start()
    session = https_session(tls.ca_cert)
    yield server, session
    server.stop()
