"""django-q2 tasks of the runtime that do not belong to a flow."""

import logging
import os

from django.db import connection

logger = logging.getLogger(__name__)


def ping() -> dict:
    """A no-op task that proves a worker picks up work and reaches the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"pid": os.getpid(), "database": connection.vendor}


def pull_all() -> dict:
    """Scheduled: pull every enabled connection's changed customers and products into the MDM."""
    from connectors.errors import ConcordError
    from connectors.models import Connection
    from hub.sync import ENTITIES, pull

    results = {}
    for configured in Connection.objects.filter(enabled=True):
        for entity in ENTITIES:
            key = f"{configured.name}/{entity}"
            try:
                results[key] = pull(configured, entity).as_dict()
            except (ConcordError, NotImplementedError) as exc:
                results[key] = {"error": str(exc)}
            except Exception as exc:  # one broken connection must not stop the others
                logger.exception("pull of %s failed", key)
                results[key] = {"error": f"{exc.__class__.__name__}: {exc}"}
    return results


PULL_SCHEDULE_NAME = "Pull changes from every connection"


def ensure_pull_schedule(minutes: int = 5) -> None:
    """Create (or update) the django-q2 schedule that keeps pulling while the hub runs."""
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=PULL_SCHEDULE_NAME,
        defaults={
            "func": "hub.tasks.pull_all",
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
            # The demo runs a first pull itself; the schedule takes over after that.
            "next_run": timezone.now() + timedelta(minutes=minutes),
        },
    )
