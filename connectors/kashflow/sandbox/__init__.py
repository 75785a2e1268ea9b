"""The Kashflow REST v2 sandbox: an HTTPS emulator the hub's client can talk to unchanged."""

from connectors.kashflow.sandbox.emulator import KashflowEmulator

__all__ = ["KashflowEmulator"]
