"""The golden customer: one row per real customer, whatever each system calls it."""

from django.db import models

from mdm.models.base import Entity, GoldenRecord

ADDRESS_PARTS = ("line1", "line2", "city", "region", "postcode", "country")


class Customer(GoldenRecord):
    ENTITY = Entity.CUSTOMER
    # Names of the surviving attributes; identical to the flat canonical attribute names.
    ATTRIBUTES = (
        "company_name",
        "first_name",
        "last_name",
        "email",
        "phone",
        *(f"billing_{part}" for part in ADDRESS_PARTS),
        *(f"shipping_{part}" for part in ADDRESS_PARTS),
        "vat_number",
        "emails",
        "phones",
        "custom_attributes",
    )

    company_name = models.CharField(max_length=255, blank=True, db_index=True)
    first_name = models.CharField(max_length=120, blank=True)
    last_name = models.CharField(max_length=120, blank=True, db_index=True)
    email = models.CharField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=40, blank=True)
    billing_line1 = models.CharField(max_length=255, blank=True)
    billing_line2 = models.CharField(max_length=255, blank=True)
    billing_city = models.CharField(max_length=120, blank=True)
    billing_region = models.CharField(max_length=120, blank=True)
    billing_postcode = models.CharField(max_length=20, blank=True, db_index=True)
    billing_country = models.CharField(max_length=2, blank=True, db_index=True)
    shipping_line1 = models.CharField(max_length=255, blank=True)
    shipping_line2 = models.CharField(max_length=255, blank=True)
    shipping_city = models.CharField(max_length=120, blank=True)
    shipping_region = models.CharField(max_length=120, blank=True)
    shipping_postcode = models.CharField(max_length=20, blank=True)
    shipping_country = models.CharField(max_length=2, blank=True)
    vat_number = models.CharField(max_length=40, blank=True)
    # Aggregated attributes: every distinct valid email / phone seen for this customer.
    emails = models.JSONField(default=list, blank=True)
    phones = models.JSONField(default=list, blank=True)
    custom_attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "golden customer"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.label} [{str(self.id)[:8]}]"

    @property
    def label(self) -> str:
        """What a steward calls the record: the company, else the person, else the email."""
        person = " ".join(part for part in (self.first_name, self.last_name) if part)
        return self.company_name or person or self.email or "(no name)"

    def source_records(self):
        return self.sourcerecord_set.all()
