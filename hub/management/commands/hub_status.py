"""Print the hub's counts and each connection's health (or JSON with --json)."""

import json

from django.core.management.base import BaseCommand

from hub.status import hub_status


class Command(BaseCommand):
    help = (
        "Counts of golden records, cross-references, review tasks, queued and failed tasks, "
        "and each connection's health."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, **options):
        status = hub_status()
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2, default=str))
            return
        for label, counts in status["golden"].items():
            self.stdout.write(
                f"Golden {label}: {counts['active']} active, {counts['merged_away']} merged away"
            )
            if counts["pending_survivorship"]:
                entity = label.removesuffix("s")
                self.stdout.write(
                    f"  {counts['pending_survivorship']} of them keep their values from before "
                    f"an import that is running or was cut off; the next `manage.py "
                    f"import_records --entity {entity}` works them out first"
                )
        crossrefs = ", ".join(f"{key} {n}" for key, n in status["cross_references"].items())
        self.stdout.write(f"Cross-references: {crossrefs or 'none'}")
        self.stdout.write(f"Open review tasks: {status['open_review_tasks']}")
        for entity, keys in status["blocking_keys"].items():
            if keys["out_of_date"]:
                self.stdout.write(
                    f"Matching keys of {entity}s out of date: {keys['out_of_date']} of "
                    f"{keys['sampled']} sampled records (stored by an older version); run "
                    f"`manage.py reindex_records --entity {entity}`"
                )
        self.stdout.write(
            f"Queued tasks: {status['queued_tasks']}; failed tasks: {status['failed_tasks']}"
        )
        health = status["health"]
        self.stdout.write(
            f"Database: {'ok' if health['database'] else 'DOWN'}; "
            f"broker: {'ok' if health['broker'] else 'DOWN'}"
        )
        for connection in status["connections"]:
            line = (
                f"  {connection['name']:<12} {connection['kind']:<10} "
                f"{'enabled' if connection['enabled'] else 'disabled'}, breaker "
                f"{connection['breaker']}"
            )
            if connection["api_allowance"]:
                line += f", API {connection['api_allowance']}"
            if connection["last_error"]:
                line += f", last error: {connection['last_error']}"
            self.stdout.write(line)
            for entity, pull in connection["pulls"].items():
                summary = pull["summary"]
                self.stdout.write(
                    f"      {entity}s last pulled {pull['last_pull'] or 'never'}: "
                    f"read {summary.get('read', 0)}, new {summary.get('new', 0)}, "
                    f"changed {summary.get('changed', 0)}, rejected {summary.get('rejected', 0)}"
                )
