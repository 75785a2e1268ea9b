"""Magento 2 / Adobe Commerce connector: client, mapping and sandbox emulator."""
