"""The golden product: one row per real product; the SKU is its natural identity."""

from django.db import models

from mdm.models.base import Entity, GoldenRecord


class Product(GoldenRecord):
    ENTITY = Entity.PRODUCT
    ATTRIBUTES = (
        "sku",
        "name",
        "description",
        "unit_price",
        "currency",
        "tax_code",
        "stock",
        "active",
    )

    sku = models.CharField(max_length=64, blank=True, db_index=True)
    name = models.CharField(max_length=255, blank=True, db_index=True)
    description = models.TextField(blank=True)
    unit_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    tax_code = models.CharField(max_length=40, blank=True)
    stock = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "golden product"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.sku or '(no sku)'} {self.name}".strip() + f" [{str(self.id)[:8]}]"

    def source_records(self):
        return self.sourcerecord_set.all()
