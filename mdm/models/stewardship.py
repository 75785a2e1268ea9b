"""The steward's work: review tasks, pair decisions and the merges they can undo."""

from django.conf import settings
from django.db import models

from mdm.models.base import Entity


class ReviewStatus(models.TextChoices):
    OPEN = "open", "Open"
    MERGED = "merged", "Merged"
    NOT_SAME = "not_same", "Not the same"
    OBSOLETE = "obsolete", "Obsolete"


class ReviewTask(models.Model):
    """A candidate pair of golden records that scored between the two thresholds."""

    entity = models.CharField(max_length=10, choices=Entity.choices)
    left_id = models.UUIDField()
    right_id = models.UUIDField()
    probability = models.FloatField()
    explanation = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.OPEN, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-probability", "id"]
        indexes = [
            models.Index(fields=["entity", "status"], name="mdm_review_queue"),
            models.Index(fields=["left_id"], name="mdm_review_left"),
            models.Index(fields=["right_id"], name="mdm_review_right"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {str(self.left_id)[:8]} ~ {str(self.right_id)[:8]}"

    @classmethod
    def open_between(cls, entity: str, first, second) -> models.QuerySet:
        """The open tasks about this pair of golden records, either way round.

        Found through the left-id index first: asked with the status in the same query,
        SQLite without statistics took the queue index and read every open task of the
        entity, for each merge of a bulk import (a quarter of a 1,000,000-record load).
        """
        pair = {first, second}
        ids = [
            pk
            for pk, right in cls.objects.filter(left_id__in=pair).values_list("pk", "right_id")
            if right in pair
        ]
        return cls.objects.filter(pk__in=ids, entity=entity, status=ReviewStatus.OPEN)


class DecisionKind(models.TextChoices):
    SAME = "same", "The same"
    NOT_SAME = "not_same", "Not the same"


class PairDecision(models.Model):
    """A steward's judgement on a pair of golden ids; "not the same" suppresses it for good.

    Stored with the smaller id on the left so a pair has one row whichever way it is asked.
    """

    entity = models.CharField(max_length=10, choices=Entity.choices)
    left_id = models.UUIDField()
    right_id = models.UUIDField()
    decision = models.CharField(max_length=10, choices=DecisionKind.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    explanation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "left_id", "right_id"], name="mdm_pair_decision_pair"
            )
        ]
        indexes = [models.Index(fields=["right_id"], name="mdm_decision_right")]

    def __str__(self) -> str:
        return f"{self.get_decision_display()}: {self.left_id} / {self.right_id}"


class Merge(models.Model):
    """A merge of one golden record into another, with the snapshot that lets it be undone."""

    entity = models.CharField(max_length=10, choices=Entity.choices)
    survivor_id = models.UUIDField(db_index=True)
    merged_id = models.UUIDField(db_index=True)
    snapshot = models.JSONField(default=dict)
    probability = models.FloatField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{str(self.merged_id)[:8]} -> {str(self.survivor_id)[:8]}"
