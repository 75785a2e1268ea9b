"""Pull records from a connection through the canonical mapping into the MDM.

Incremental where the system can filter by modification time (from the watermark, minus a small
overlap for clock skew and same-second writes); a full scan otherwise, in which unchanged
records cost nothing because the MDM skips an unchanged fingerprint. One bad record is
rejected with its reason and the pull goes on.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from connectors.base import connector_for
from connectors.errors import PermanentError
from connectors.models import Connection
from hub.models import SyncWatermark
from mdm.ingest import IngestAction, ingest_customer, ingest_product

logger = logging.getLogger(__name__)

ENTITIES = ("customer", "product")
OVERLAP = timedelta(minutes=2)
OUTCOME = {
    IngestAction.CREATED: "new",
    IngestAction.ATTACHED: "new",
    IngestAction.MERGED: "new",
    IngestAction.UPDATED: "changed",
    IngestAction.UNCHANGED: "unchanged",
    IngestAction.STALE: "unchanged",
}


@dataclass
class PullSummary:
    connection: str
    entity: str
    mode: str  # "incremental" or "full"
    counts: Counter = field(default_factory=Counter)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (external id, reason)

    def as_dict(self) -> dict:
        return {
            "mode": self.mode,
            "read": self.counts["read"],
            "new": self.counts["new"],
            "changed": self.counts["changed"],
            "unchanged": self.counts["unchanged"],
            "rejected": len(self.rejected),
            "rejections": [{"id": ext, "reason": why} for ext, why in self.rejected[:50]],
        }

    def line(self) -> str:
        data = self.as_dict()
        return (
            f"{self.connection} {self.entity}s ({self.mode}): read {data['read']}, "
            f"new {data['new']}, changed {data['changed']}, unchanged {data['unchanged']}, "
            f"rejected {data['rejected']}"
        )


def pull(
    connection: Connection,
    entity: str,
    *,
    full: bool = False,
    progress: Callable[[PullSummary], None] | None = None,
) -> PullSummary:
    """Read every record changed since the watermark (all with full=True) into the MDM."""
    if entity not in ENTITIES:
        raise ValueError(f"entity must be one of {ENTITIES}, not {entity!r}")
    connector = connector_for(connection)
    watermark, _ = SyncWatermark.objects.get_or_create(
        connection_name=connection.name, entity=entity
    )
    since = None
    if connector.incremental and not full and watermark.high_water_mark:
        since = watermark.high_water_mark - OVERLAP
    summary = PullSummary(connection.name, entity, "incremental" if since else "full")
    watermark.last_run_started_at = timezone.now()
    watermark.save(update_fields=["last_run_started_at"])

    records = (
        connector.iter_customers(since) if entity == "customer" else connector.iter_products(since)
    )
    ingest = ingest_customer if entity == "customer" else ingest_product
    newest = watermark.high_water_mark
    for record in records:
        summary.counts["read"] += 1
        try:
            result = ingest(record, raw=record.raw)
        except (ValueError, PermanentError) as exc:
            summary.rejected.append((record.external_id, str(exc)))
            logger.warning(
                "pull connection=%s entity=%s id=%s rejected: %s",
                connection.name,
                entity,
                record.external_id,
                exc,
            )
        else:
            summary.counts[OUTCOME.get(result.action, "changed")] += 1
        if record.source_modified_at and (newest is None or record.source_modified_at > newest):
            newest = record.source_modified_at
        if progress is not None and summary.counts["read"] % 25 == 0:
            progress(summary)
    watermark.high_water_mark = newest
    watermark.last_run_finished_at = timezone.now()
    watermark.last_summary = summary.as_dict()
    watermark.save()
    if progress is not None:
        progress(summary)
    return summary
