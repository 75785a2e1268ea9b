"""Export the active golden records (and optionally the cross-references) as CSV."""

from __future__ import annotations

import csv
import sys

from django.core.management.base import BaseCommand

from mdm.models import Entity, GoldenStatus, SourceRecord, golden_model


class Command(BaseCommand):
    help = "Export active golden records as CSV; --crossrefs also writes the cross-references."

    def add_arguments(self, parser):
        parser.add_argument("--entity", choices=[e.value for e in Entity], required=True)
        parser.add_argument("--crossrefs", help="write source_system,source_id,golden_id here")
        parser.add_argument("out", nargs="?", default="-", help="golden records CSV ('-': stdout)")

    def handle(self, *args, entity: str, crossrefs: str | None, out: str, **options):
        model = golden_model(entity)
        columns = ["golden_id", *model.ATTRIBUTES]
        count = 0
        with self._output(out) as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            rows = model.objects.filter(status=GoldenStatus.ACTIVE).order_by("created_at", "id")
            for golden in rows.iterator(chunk_size=2000):
                values = golden.values()
                writer.writerow(
                    [golden.id, *(self._cell(values[name]) for name in model.ATTRIBUTES)]
                )
                count += 1
        if crossrefs:
            golden_field = "customer_id" if entity == Entity.CUSTOMER else "product_id"
            with open(crossrefs, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["source_system", "source_id", "golden_id"])
                records = (
                    SourceRecord.objects.filter(entity=entity)
                    .order_by("system", "external_id")
                    .values_list("system", "external_id", golden_field)
                )
                writer.writerows(records.iterator(chunk_size=5000))
        if out != "-":
            self.stdout.write(f"Exported {count} golden {entity} record(s) to {out}.")

    def _output(self, out: str):
        if out == "-":
            return _NoClose(sys.stdout if self.stdout is None else self.stdout._out)
        return open(out, "w", newline="")

    @staticmethod
    def _cell(value):
        if isinstance(value, list):
            return ";".join(str(item) for item in value)
        if isinstance(value, dict):
            import json

            return json.dumps(value, sort_keys=True) if value else ""
        return "" if value is None else value


class _NoClose:
    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        return False
