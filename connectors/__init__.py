"""Connectors: one package per external system, the shared HTTP layer and the Connection model."""
