"""Concord's Django project and integration runtime (inbox, outbox, flows, tasks, API)."""
