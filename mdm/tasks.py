"""Background jobs of the MDM app, as plain functions django-q2 can schedule by dotted path.

from django_q.tasks import schedule
schedule("mdm.tasks.reestimate_weights", "customer", schedule_type="D")
"""

from __future__ import annotations

import logging

from mdm.matching.estimate import estimate_from_database

logger = logging.getLogger(__name__)


def reestimate_weights(entity: str, *, sample: int = 50_000, use_decisions: bool = True) -> dict:
    """Re-estimate an entity's match weights from its records and the stewards' decisions.

    Returns a small JSON-able summary (django-q2 stores it as the task result).
    """
    settings = estimate_from_database(entity, sample=sample, use_decisions=use_decisions)
    weights = settings.weights
    summary = {
        "entity": entity,
        "records": weights.get("population", 0),
        "blocked_pairs": settings.weights_pairs,
        "prior": weights.get("prior"),
        # Apart for two records of one source system and of two systems (None: one system).
        "prior_same_system": weights.get("prior_same_system"),
        "prior_other_system": weights.get("prior_other_system"),
        "decisions": weights.get("decisions", {"same": 0, "not_same": 0}),
        "review_threshold": settings.review_threshold,
        "auto_merge_threshold": settings.auto_merge_threshold,
    }
    logger.info("mdm weights re-estimated", extra=summary)
    return summary
