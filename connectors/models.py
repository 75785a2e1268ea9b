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
