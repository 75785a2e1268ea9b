"""MDM models, split by aggregate; re-exported here so `from mdm.models import X` works."""

from mdm.models.base import Entity, GoldenRecord, GoldenStatus
from mdm.models.configuration import (
    DEFAULT_THRESHOLDS,
    MatchSettings,
    SurvivorshipRule,
    SurvivorshipRuleKind,
)
from mdm.models.customer import Customer
from mdm.models.history import HistoryAction, HistoryEntry, PendingSurvivorship, Provenance
from mdm.models.product import Product
from mdm.models.source import BlockingKey, BlockingLock, SourceRecord
from mdm.models.stewardship import (
    DecisionKind,
    Merge,
    PairDecision,
    ReviewStatus,
    ReviewTask,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "BlockingKey",
    "BlockingLock",
    "Customer",
    "DecisionKind",
    "Entity",
    "GoldenRecord",
    "GoldenStatus",
    "HistoryAction",
    "HistoryEntry",
    "MatchSettings",
    "Merge",
    "PairDecision",
    "PendingSurvivorship",
    "Product",
    "Provenance",
    "ReviewStatus",
    "ReviewTask",
    "SourceRecord",
    "SurvivorshipRule",
    "SurvivorshipRuleKind",
]

GOLDEN_MODELS = {Entity.CUSTOMER: Customer, Entity.PRODUCT: Product}


def golden_model(entity: str) -> type[GoldenRecord]:
    """The golden model class of an entity."""
    return GOLDEN_MODELS[Entity(entity)]
