"""Salesforce connector: client, mapping and sandbox emulator."""
