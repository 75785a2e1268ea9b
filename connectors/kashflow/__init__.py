"""Kashflow connector: client, mapping and sandbox emulator."""
