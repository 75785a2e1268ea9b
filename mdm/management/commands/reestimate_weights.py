"""Re-estimate the match weights from the stored records and the stewards' decisions."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from mdm.models import Entity
from mdm.tasks import reestimate_weights


class Command(BaseCommand):
    help = (
        "Re-estimate the m/u match weights of an entity from (a sample of) its source records; "
        "steward decisions (merge / not the same) are used as labels."
    )

    def add_arguments(self, parser):
        parser.add_argument("--entity", choices=Entity.values, default=Entity.CUSTOMER)
        parser.add_argument("--sample", type=int, default=50_000, help="records to estimate on")
        parser.add_argument(
            "--no-decisions", action="store_true", help="ignore the stewards' decisions"
        )

    def handle(self, *args, entity: str, sample: int, no_decisions: bool, **options):
        summary = reestimate_weights(entity, sample=sample, use_decisions=not no_decisions)
        decisions = summary["decisions"]
        systems = (
            f" ({summary['prior_same_system']:.3g} within a source system, "
            f"{summary['prior_other_system']:.3g} across systems)"
            if summary.get("prior_same_system")
            else ""
        )
        self.stdout.write(
            f"Re-estimated {entity} weights from {summary['records']} records, "
            f"{summary['blocked_pairs']} blocked pairs, {decisions['same']} 'same' and "
            f"{decisions['not_same']} 'not the same' decisions; "
            f"prior {summary['prior']:.3g}{systems}; "
            f"thresholds: auto-merge {summary['auto_merge_threshold']}, "
            f"review {summary['review_threshold']}."
        )
