"""Pull changed records from the connections into the MDM, with progress and a summary."""

import sys

from django.core.management.base import BaseCommand, CommandError

from connectors.errors import ConcordError
from connectors.models import Connection
from hub.sync import ENTITIES, PullSummary, pull


class Command(BaseCommand):
    help = (
        "Read every record changed since each connection's watermark (all of them with --full) "
        "through the canonical mapping into the MDM, and print a summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("--connection", action="append", help="connection name (repeatable)")
        parser.add_argument("--entity", choices=ENTITIES, action="append")
        parser.add_argument("--full", action="store_true", help="ignore the watermark")

    def handle(self, *args, connection=None, entity=None, full=False, **options):
        connections = Connection.objects.filter(enabled=True)
        if connection:
            connections = Connection.objects.filter(name__in=connection)
            missing = set(connection) - set(connections.values_list("name", flat=True))
            if missing:
                raise CommandError(
                    f"no connection named {', '.join(sorted(missing))}; "
                    "see `python manage.py connections`"
                )
        if not connections:
            raise CommandError(
                "no enabled connections. Add one in the admin or run "
                "`python manage.py connections --from-sandbox`."
            )
        failed = []
        for conn in connections:
            for each_entity in entity or ENTITIES:
                try:
                    summary = pull(conn, each_entity, full=full, progress=self.progress)
                except ConcordError as exc:
                    self.clear_progress()
                    self.stderr.write(f"{conn.name} {each_entity}s: failed: {exc}")
                    failed.append(conn.name)
                    continue
                self.clear_progress()
                self.stdout.write(summary.line())
                for external_id, reason in summary.rejected[:20]:
                    self.stdout.write(f"  rejected {external_id}: {reason}")
                if len(summary.rejected) > 20:
                    self.stdout.write(f"  ... and {len(summary.rejected) - 20} more")
        if failed:
            raise CommandError(f"pull failed for: {', '.join(sorted(set(failed)))}")

    def progress(self, summary: PullSummary) -> None:
        if sys.stderr.isatty():
            data = summary.as_dict()
            sys.stderr.write(
                f"\r{summary.connection} {summary.entity}s: {data['read']} read, "
                f"{data['new']} new, {data['changed']} changed, {data['rejected']} rejected"
            )
            sys.stderr.flush()

    def clear_progress(self) -> None:
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")
