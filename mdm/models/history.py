"""Provenance of every surviving value and the history of every golden record change."""

from django.conf import settings
from django.db import models

from mdm.models.base import Entity


class Provenance(models.Model):
    """Where each surviving value of one golden record came from, one row per golden record.

    `attributes` maps an attribute name to {"value", "source_record_id", "rule"}; a single row
    (not one per attribute) keeps a million golden records at a million provenance rows.
    """

    entity = models.CharField(max_length=10, choices=Entity.choices)
    golden_id = models.UUIDField()
    attributes = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "provenance"
        constraints = [
            models.UniqueConstraint(fields=["entity", "golden_id"], name="mdm_provenance_golden")
        ]

    def __str__(self) -> str:
        return f"provenance of {self.golden_id}"

    def of(self, attribute: str) -> dict:
        """{"value", "source_record_id", "rule"} of one attribute ({} if unknown)."""
        return self.attributes.get(attribute, {})


class HistoryAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Values updated"
    SOURCE_ATTACHED = "source_attached", "Source record attached"
    MERGED = "merged", "Merged (survivor)"
    MERGED_AWAY = "merged_away", "Merged away (tombstone)"
    UNMERGED = "unmerged", "Unmerged"
    PINNED = "pinned", "Value pinned"
    UNPINNED = "unpinned", "Value unpinned"
    DECIDED = "decided", "Steward decision"


class HistoryEntry(models.Model):
    """One change of a golden record: what changed (before/after), who did it and why."""

    entity = models.CharField(max_length=10, choices=Entity.choices)
    golden_id = models.UUIDField()
    action = models.CharField(max_length=20, choices=HistoryAction.choices)
    changes = models.JSONField(default=dict, blank=True)  # {attribute: [before, after]}
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    reason = models.CharField(max_length=255, blank=True)
    related_golden_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "history entries"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["entity", "golden_id"], name="mdm_history_golden")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.golden_id}"

    @property
    def who(self) -> str:
        return self.actor.get_username() if self.actor_id else "system"


class PendingSurvivorship(models.Model):
    """A golden record that gained source records in a batch import whose survivorship is
    left for the end of the import (`mdm.batch.finish_survivorship`).

    A record of a million-row load gains records in several chunks; worked out once at the
    end instead of after each chunk, its values are computed once. The row is written in the
    same transaction as the records it gained, so an import cut off in between leaves it
    behind, and the next import finishes it first. Until then the golden record shows the
    values it had before the import.
    """

    entity = models.CharField(max_length=10, choices=Entity.choices)
    golden_id = models.UUIDField()

    class Meta:
        verbose_name_plural = "pending survivorship"
        indexes = [models.Index(fields=["entity", "golden_id"], name="mdm_pending_golden")]

    def __str__(self) -> str:
        return f"survivorship due for {self.golden_id}"
