"""Recompute stored profiles and blocking keys with the current matching code."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from mdm.bulkwrite import queries_unlogged
from mdm.models import Entity
from mdm.reindex import reindex


class Command(BaseCommand):
    help = (
        "Recompute the matching profile and blocking keys of every stored source record from "
        "its attributes and rewrite those that changed (after an upgrade that changed "
        "normalisation or added a blocking pass). Golden records and matches are not touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--entity", choices=Entity.values, required=True)
        parser.add_argument(
            "--check",
            action="store_true",
            help="write nothing; report how many records are out of date (exit status 1 if any)",
        )
        parser.add_argument("--chunk", type=int, default=5000, help="records per transaction")

    def handle(self, *args, entity: str, check: bool, chunk: int, **options):
        if chunk < 1:
            self.stderr.write("--chunk must be at least 1.")
            raise SystemExit(2)
        with queries_unlogged():
            summary = reindex(entity, write=not check, chunk=chunk, progress=self._progress)
        verb = "would change" if check else "changed"
        self.stdout.write(
            f"Looked at {summary.records} {entity} record(s) in {summary.seconds:.1f}s: "
            f"{summary.stale} out of date; {verb} {summary.profiles_changed} profile(s) and the "
            f"keys of {summary.keys_changed} record(s) (+{summary.keys_added} "
            f"-{summary.keys_removed} keys)."
        )
        if summary.orphans:
            self.stdout.write(
                f"{'Would remove' if check else 'Removed'} {summary.orphans} key row(s) of "
                "records that no longer exist (deleted outside Concord)."
            )
        if summary.examples:
            self.stdout.write(f"Missing keys were for example: {', '.join(summary.examples)}")
        if check and (summary.stale or summary.orphans):
            self.stdout.write(f"Run `manage.py reindex_records --entity {entity}` to update them.")
            raise SystemExit(1)

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"{done}/{total} records")
