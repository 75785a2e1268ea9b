"""django-q2 tasks of the runtime that do not belong to a flow."""

import os

from django.db import connection


def ping() -> dict:
    """A no-op task that proves a worker picks up work and reaches the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"pid": os.getpid(), "database": connection.vendor}
