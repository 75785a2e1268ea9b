"""Runtime state of the integration: sync watermarks per connection and entity."""

from django.db import models


class SyncWatermark(models.Model):
    """How far a connection's records of one entity have been pulled, and how the last run went."""

    connection_name = models.CharField(max_length=64)
    entity = models.CharField(max_length=20)
    # The newest source modification time seen; the next incremental pull starts just before it.
    high_water_mark = models.DateTimeField(null=True, blank=True)
    last_run_started_at = models.DateTimeField(null=True, blank=True)
    last_run_finished_at = models.DateTimeField(null=True, blank=True)
    last_summary = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection_name", "entity"], name="one_watermark_per_connection_entity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection_name} {self.entity}: {self.high_water_mark or 'never pulled'}"
