"""The Salesforce sandbox: an HTTPS emulator of the REST API 59.0 (see emulator.py)."""

from connectors.salesforce.sandbox.emulator import SalesforceEmulator

__all__ = ["SalesforceEmulator"]
