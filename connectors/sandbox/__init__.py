"""Shared parts of the sandboxes: HTTPS server, fault injection, state, TLS, seed data."""

from connectors.sandbox.server import BadRequest, Emulator, Request, Response
from connectors.sandbox.state import StateStore

__all__ = ["BadRequest", "Emulator", "Request", "Response", "StateStore"]
