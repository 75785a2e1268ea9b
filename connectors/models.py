"""Connection: one configured external system, with its credentials encrypted at rest."""

import json

from django.db import models
from fernet_fields import EncryptedTextField

# The secrets a connection may hold, with their admin labels. Which ones a kind needs is the
# connector's business; the model only stores them encrypted and never hands them to a form.
SECRET_FIELDS: dict[str, str] = {
    "password": "Password",
    "client_secret": "Client secret",
    "memorable_word": "Memorable word",
    "private_key": "Private key (PEM, for the JWT bearer flow)",
    "access_token": "API token",
}


class ConnectionKind(models.TextChoices):
    KASHFLOW = "kashflow", "Kashflow"
    SALESFORCE = "salesforce", "Salesforce"
    MAGENTO = "magento", "Magento 2 / Adobe Commerce"


class Connection(models.Model):
    name = models.SlugField(
        max_length=64, unique=True, help_text="Short unique name used by commands and logs."
    )
    kind = models.CharField(max_length=20, choices=ConnectionKind.choices)
    base_url = models.URLField(
        max_length=500, help_text="API root, e.g. https://api.kashflow.com/v2"
    )
    enabled = models.BooleanField(default=True, db_index=True)
    username = models.CharField(max_length=255, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="Non-secret settings for this connection, as JSON (timeouts, rate limits...).",
    )
    # JSON object {secret name: value}, Fernet-encrypted as one blob. Only set_secret/get_secret
    # touch it; it is never put into a form, a log line or a fixture.
    encrypted_secrets = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def __repr__(self) -> str:
        # Never let a secret reach a traceback or a log through repr().
        return f"<Connection {self.name} kind={self.kind}>"

    def _secrets(self) -> dict[str, str]:
        return json.loads(self.encrypted_secrets) if self.encrypted_secrets else {}

    def get_secret(self, name: str) -> str:
        """The stored secret, or "" when it is not set."""
        return self._secrets().get(name, "")

    def set_secret(self, name: str, value: str) -> None:
        """Store (or with an empty value, remove) a secret; call save() afterwards."""
        if name not in SECRET_FIELDS:
            raise ValueError(f"unknown secret {name!r}; expected one of {sorted(SECRET_FIELDS)}")
        stored = self._secrets()
        if value:
            stored[name] = value
        else:
            stored.pop(name, None)
        self.encrypted_secrets = json.dumps(stored, sort_keys=True) if stored else ""

    def secret_names(self) -> list[str]:
        """Which secrets are set (names only, never values)."""
        return sorted(self._secrets())


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed (calls flow)"
    OPEN = "open", "Open (calls refused)"
    HALF_OPEN = "half_open", "Half-open (one trial call)"


class ConnectionState(models.Model):
    """Runtime health of one connection, shared by every worker: breaker, rate limit, allowance.

    Keyed by the connection's name (not a foreign key) so the HTTP layer can guard a
    connection that is being tested before it is saved.
    """

    key = models.CharField(max_length=64, unique=True)
    breaker_state = models.CharField(
        max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Client-side token bucket (tokens refill at the policy's rate up to its burst).
    tokens = models.FloatField(default=-1.0)  # -1: never used, start full
    tokens_updated_at = models.FloatField(default=0.0)  # time.time() of the last refill
    # The system's own daily allowance, as last reported (Salesforce Sforce-Limit-Info).
    api_used = models.PositiveIntegerField(null=True, blank=True)
    api_limit = models.PositiveIntegerField(null=True, blank=True)
    api_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "connection health"
        verbose_name_plural = "connection health"

    def __str__(self) -> str:
        return f"{self.key}: {self.get_breaker_state_display()}"


class MappedEntity(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PRODUCT = "product", "Product"


class FieldMapping(models.Model):
    """One extra or custom field of a connection's records, mapped to a golden attribute."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="field_mappings"
    )
    entity = models.CharField(max_length=20, choices=MappedEntity.choices)
    source_path = models.CharField(
        max_length=255,
        help_text="Path in the system's record: Industry, custom_attributes.tier, "
        "CustomTextBoxes[Name=Region].Value",
    )
    target_attribute = models.CharField(
        max_length=63, help_text="Golden attribute to fill (lower_case_with_underscores)."
    )
    transforms = models.JSONField(
        default=list,
        blank=True,
        help_text='Steps from a fixed set, e.g. [{"op": "trim"}, {"op": "case", "mode": "upper"}]',
    )
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["connection", "entity", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "entity", "target_attribute"],
                name="one_mapping_per_target_attribute",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.connection.name} {self.entity}: {self.source_path} -> {self.target_attribute}"
        )

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from connectors.field_mapping import ATTRIBUTE_NAME, parse_path, validate_steps

        errors = {}
        try:
            parse_path(self.source_path)
        except ValidationError as exc:
            errors["source_path"] = exc.messages
        if not ATTRIBUTE_NAME.match(self.target_attribute or ""):
            errors["target_attribute"] = [
                "use lower-case letters, digits and underscores, starting with a letter"
            ]
        try:
            validate_steps(self.transforms)
        except ValidationError as exc:
            errors["transforms"] = exc.messages
        if errors:
            raise ValidationError(errors)
