"""One picture of the hub: golden records, cross-references, review work, queues, connections."""

from django.db.models import Count

from connectors.models import Connection, ConnectionState
from hub import health
from hub.models import SyncWatermark
from mdm.models import (
    Customer,
    Entity,
    GoldenStatus,
    PendingSurvivorship,
    Product,
    ReviewStatus,
    ReviewTask,
    SourceRecord,
)
from mdm.reindex import sample_staleness


def hub_status() -> dict:
    from django_q.models import Failure

    golden = {}
    for label, model in (("customers", Customer), ("products", Product)):
        counts = dict(
            model.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
        )
        golden[label] = {
            "active": counts.get(GoldenStatus.ACTIVE, 0),
            "merged_away": counts.get(GoldenStatus.MERGED, 0),
            # Gained records in an import that is running or was cut off (see the model).
            "pending_survivorship": PendingSurvivorship.objects.filter(entity=model.ENTITY)
            .values("golden_id")
            .distinct()
            .count(),
        }
    crossrefs = {
        f"{system}/{entity}": count
        for system, entity, count in SourceRecord.objects.values_list("system", "entity")
        .annotate(n=Count("pk"))
        .values_list("system", "entity", "n")
        .order_by("system", "entity")
    }
    states = {state.key: state for state in ConnectionState.objects.all()}
    watermarks: dict[str, dict] = {}
    for mark in SyncWatermark.objects.all():
        watermarks.setdefault(mark.connection_name, {})[mark.entity] = {
            "last_pull": mark.last_run_finished_at.isoformat()
            if mark.last_run_finished_at
            else None,
            "summary": {k: v for k, v in mark.last_summary.items() if k != "rejections"},
        }
    connections = []
    for connection in Connection.objects.all():
        state = states.get(connection.name)
        connections.append(
            {
                "name": connection.name,
                "kind": connection.kind,
                "enabled": connection.enabled,
                "breaker": state.breaker_state if state else "closed",
                "consecutive_failures": state.consecutive_failures if state else 0,
                "last_error": (state.last_error[:200] if state else "") or "",
                "api_allowance": (
                    f"{state.api_used}/{state.api_limit}" if state and state.api_limit else None
                ),
                "pulls": watermarks.get(connection.name, {}),
            }
        )
    broker = health.check_broker()
    keys = {}
    for entity in Entity.values:
        checked, stale = sample_staleness(entity, size=100)
        keys[entity] = {"sampled": checked, "out_of_date": stale}
    return {
        "golden": golden,
        "cross_references": crossrefs,
        "open_review_tasks": ReviewTask.objects.filter(status=ReviewStatus.OPEN).count(),
        "queued_tasks": broker.get("queued"),
        "failed_tasks": Failure.objects.count(),
        "connections": connections,
        "blocking_keys": keys,
        "health": {"database": health.check_database()["ok"], "broker": broker["ok"]},
    }
