"""Cross-references: what each system holds for a golden record, and its blocking keys."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from mdm.models.base import Entity


class SourceRecord(models.Model):
    """One record of one system (system, entity, external id) and the golden record it feeds.

    `attributes` are the canonical attributes flattened to the golden record's attribute names;
    `raw` is the system's payload as received; `profile` the normalised view matching uses;
    `fingerprint` hashes the attributes so an unchanged redelivery is a no-op.
    """

    entity = models.CharField(max_length=10, choices=Entity.choices)
    system = models.CharField(max_length=40)
    external_id = models.CharField(max_length=255)
    attributes = models.JSONField(default=dict)
    # The system's payload as received; DjangoJSONEncoder keeps Decimal money as exact text.
    raw = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    profile = models.JSONField(default=dict, blank=True)  # normalised fields for matching
    fingerprint = models.CharField(max_length=64)
    source_modified_at = models.DateTimeField(null=True, blank=True)
    customer = models.ForeignKey("mdm.Customer", null=True, blank=True, on_delete=models.PROTECT)
    product = models.ForeignKey("mdm.Product", null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "cross-reference"
        constraints = [
            models.UniqueConstraint(
                fields=["system", "entity", "external_id"], name="mdm_source_record_identity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.entity}:{self.external_id}"

    @property
    def golden_id(self):
        return self.customer_id if self.entity == Entity.CUSTOMER else self.product_id

    @property
    def golden(self):
        return self.customer if self.entity == Entity.CUSTOMER else self.product

    def set_golden(self, golden) -> None:
        if self.entity == Entity.CUSTOMER:
            self.customer = golden
        else:
            self.product = golden


class BlockingKey(models.Model):
    """A blocking key of a source record: records sharing a key are compared, no others."""

    entity = models.CharField(max_length=10, choices=Entity.choices)
    key = models.CharField(max_length=120)
    # No foreign-key constraint in PostgreSQL: a bulk chunk writes a million key rows of records
    # it wrote itself, and checking each at commit took 12.1 of a 100,000-record load's 87.7 s.
    # The rows are an index of the records: written with them, deleted with them by the ORM's
    # cascade, and `reindex_records` removes any left by a record deleted by hand in SQL.
    # (SQLite keeps its constraint, which costs nothing measurable there; see migration 0006.)
    source_record = models.ForeignKey(
        SourceRecord, on_delete=models.CASCADE, related_name="blocking_keys", db_constraint=False
    )

    class Meta:
        # The record id is in the index, so finding candidates (and counting a key's records)
        # reads the index alone, never the table: this is what keeps a match fast at 1,000,000.
        indexes = [
            models.Index(fields=["entity", "key", "source_record"], name="mdm_blocking_postings")
        ]

    def __str__(self) -> str:
        return self.key


class BlockingLock(models.Model):
    """One row per blocking key ever seen: ingesting a record row-locks the rows of its keys.

    Two workers ingesting near-duplicates share at least one key, so the second waits until the
    first has committed its golden record and then finds it as a candidate (PostgreSQL). On
    SQLite the IMMEDIATE transaction already serialises writers.
    """

    entity = models.CharField(max_length=10, choices=Entity.choices)
    key = models.CharField(max_length=120)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "key"], name="mdm_blocking_lock_key")
        ]

    def __str__(self) -> str:
        return self.key
