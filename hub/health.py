"""Health of the hub's two dependencies: the database and the task broker."""

import logging
import time

from django.db import connection
from django_q.brokers import Broker, get_broker

logger = logging.getLogger(__name__)


def broker() -> Broker:
    """The django-q2 broker the hub is configured with (a function so tests can swap it)."""
    return get_broker()


def check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("health: database check failed: %s", exc.__class__.__name__)
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
    }


def check_broker() -> dict:
    started = time.monotonic()
    current = None
    try:
        current = broker()
        # The ORM broker's ping() is always True; queue_size() is a real round trip on every
        # broker (a COUNT on the ORM, LLEN on Redis), so it proves the broker answers.
        ok = bool(current.ping())
        queued = current.queue_size()
    except Exception as exc:
        logger.warning("health: broker check failed: %s", exc.__class__.__name__)
        return {"ok": False, "broker": _broker_name(current), "error": exc.__class__.__name__}
    return {
        "ok": ok,
        "broker": _broker_name(current),
        "queued": queued,
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
    }


def _broker_name(current: Broker | None) -> str:
    return current.__class__.__name__.lower() if current is not None else "unknown"


def status() -> tuple[bool, dict]:
    """(healthy, report) for /healthz and the hub_status command."""
    report = {"database": check_database(), "broker": check_broker()}
    healthy = all(part["ok"] for part in report.values())
    report["status"] = "ok" if healthy else "unavailable"
    return healthy, report
