"""Steward-editable configuration: match thresholds and weights, survivorship rules."""

from django.core.exceptions import ValidationError
from django.db import models

from mdm.models.base import Entity

# Defaults that work out of the box; stewards tune them per entity in the admin.
DEFAULT_THRESHOLDS = {
    Entity.CUSTOMER: (0.95, 0.60),
    # Products merge automatically only on an identical SKU; a fuzzy name only proposes a review.
    Entity.PRODUCT: (0.99, 0.70),
}


class MatchSettings(models.Model):
    """Per entity: the auto-merge and review thresholds, and the estimated field weights."""

    entity = models.CharField(max_length=10, choices=Entity.choices, unique=True)
    auto_merge_threshold = models.FloatField(
        help_text="Match probability at or above which records merge automatically."
    )
    review_threshold = models.FloatField(
        help_text="Match probability at or above which a review task is created."
    )
    calibrate_review_threshold = models.BooleanField(
        default=True,
        help_text="Set the review threshold from the data each time the weights are estimated: "
        "the probability above which 95% of the expected matches not merged automatically lie "
        "(never below 0.01). Untick to keep a threshold set by hand.",
    )
    keep_households_apart = models.BooleanField(
        default=False,
        help_text="Customers only. Two people who share a surname and an address but whose given "
        "names clearly differ go to review, never merge automatically: spouses and siblings "
        "stay apart, but a record whose given name was entered wrongly waits for a steward.",
    )
    weights = models.JSONField(
        default=dict, blank=True, help_text="m/u probabilities per field and level (estimated)."
    )
    weights_estimated_at = models.DateTimeField(null=True, blank=True)
    weights_pairs = models.PositiveIntegerField(default=0, help_text="Pairs used by the estimate.")

    class Meta:
        verbose_name = "match settings"
        verbose_name_plural = "match settings"

    def __str__(self) -> str:
        return f"Matching of {self.get_entity_display().lower()}s"

    def clean(self) -> None:
        if not 0 < self.review_threshold <= self.auto_merge_threshold <= 1:
            raise ValidationError(
                "Thresholds must satisfy 0 < review threshold <= auto-merge threshold <= 1."
            )

    @classmethod
    def for_entity(cls, entity: str) -> "MatchSettings":
        found = cls.objects.filter(entity=entity).first()
        if found:
            return found
        auto, review = DEFAULT_THRESHOLDS[Entity(entity)]
        return cls(entity=entity, auto_merge_threshold=auto, review_threshold=review)


class SurvivorshipRuleKind(models.TextChoices):
    SOURCE_PRIORITY = "source_priority", "Source priority (trust per system)"
    MOST_RECENT = "most_recent", "Most recent"
    MOST_FREQUENT = "most_frequent", "Most frequent"
    LONGEST = "longest", "Most complete / longest"
    MINIMUM = "min", "Minimum"
    MAXIMUM = "max", "Maximum"
    AGGREGATE = "aggregate", "Aggregate (keep all)"


class SurvivorshipRule(models.Model):
    """How one attribute of one entity survives; attributes without a row use the defaults.

    `source_trust` maps a source system label to a trust in [0, 1] (systems not listed: 0.5);
    trust halves every `half_life_days` of a value's age.
    """

    entity = models.CharField(max_length=10, choices=Entity.choices)
    attribute = models.CharField(max_length=60)
    rule = models.CharField(max_length=20, choices=SurvivorshipRuleKind.choices)
    source_trust = models.JSONField(default=dict, blank=True)
    half_life_days = models.PositiveIntegerField(default=365)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "attribute"], name="mdm_survivorship_rule")
        ]

    def __str__(self) -> str:
        return f"{self.entity}.{self.attribute}: {self.get_rule_display()}"
