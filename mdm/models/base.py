"""Vocabulary shared by the MDM models and the abstract golden record."""

import uuid

from django.db import models


class Entity(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PRODUCT = "product", "Product"


class GoldenStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    MERGED = "merged", "Merged (tombstone)"


class GoldenRecord(models.Model):
    """A golden record: a stable UUID that other systems store, never renumbered or reused.

    A merged-away record stays as a tombstone (`status=merged`, `merged_into` the survivor) so
    an id handed out once always leads somewhere. `pinned` holds steward-pinned values by
    attribute name; they survive source updates until unpinned.
    """

    ENTITY: Entity

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(
        max_length=10, choices=GoldenStatus.choices, default=GoldenStatus.ACTIVE, db_index=True
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="tombstones"
    )
    pinned = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def is_tombstone(self) -> bool:
        return self.status == GoldenStatus.MERGED

    def survivor(self):
        """The active record this id leads to (itself unless merged away)."""
        record = self
        seen = set()
        while record.merged_into_id and record.id not in seen:
            seen.add(record.id)
            record = record.merged_into
        return record

    def values(self) -> dict:
        """The surviving attribute values, keyed like the canonical flat attributes."""
        return {name: getattr(self, name) for name in self.ATTRIBUTES}

    def source_records(self):
        raise NotImplementedError
