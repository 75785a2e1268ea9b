"""List connections, or create/update the three demo connections from a running sandbox."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connectors.models import Connection, ConnectionKind

DEFAULT_STATE_DIR = settings.VAR_DIR / "sandbox"


def _from_endpoints(kind: str, entry: dict, ca_bundle: str) -> dict:
    """Connection fields and secrets for one system's endpoints.json entry."""
    options = {"ca_bundle": ca_bundle, "control_url": entry.get("control_url", "")}
    secrets = {"password": entry.get("password", "")}
    fields = {"username": entry.get("username", ""), "client_id": ""}
    if kind == ConnectionKind.KASHFLOW:
        base_url = entry["base_url"]
        secrets["memorable_word"] = entry.get("memorable_word", "")
    elif kind == ConnectionKind.SALESFORCE:
        base_url = entry["login_url"]
        fields["client_id"] = entry.get("client_id", "")
        secrets["client_secret"] = entry.get("client_secret", "")
        options["api_version"] = entry.get("api_version", "59.0")
        key_path = entry.get("jwt_private_key_path")
        if key_path and Path(key_path).exists():
            secrets["private_key"] = Path(key_path).read_text()
    else:
        base_url = entry["base_url"]
        options["webhook_public_key"] = entry.get("webhook_public_key", "")
    return {"base_url": base_url, "options": options, "secrets": secrets, **fields}


class Command(BaseCommand):
    help = (
        "Without arguments, list the connections. With --from-sandbox [STATE_DIR], create or "
        "update the kashflow, salesforce and magento connections from the sandbox's "
        "endpoints.json."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from-sandbox",
            nargs="?",
            const=str(DEFAULT_STATE_DIR),
            metavar="STATE_DIR",
            help=f"sandbox state directory (default {DEFAULT_STATE_DIR})",
        )

    def handle(self, *args, from_sandbox=None, **options):
        if from_sandbox:
            self.from_sandbox(Path(from_sandbox))
        for connection in Connection.objects.all():
            flag = "enabled " if connection.enabled else "disabled"
            self.stdout.write(
                f"{connection.name:<16} {connection.kind:<11} {flag} {connection.base_url}"
            )
        if not Connection.objects.exists():
            self.stdout.write(
                "No connections yet. Add one in the admin, or run "
                "`python manage.py connections --from-sandbox` while the sandbox runs."
            )

    @transaction.atomic
    def from_sandbox(self, state_dir: Path) -> None:
        path = state_dir / "endpoints.json"
        if not path.exists():
            raise CommandError(
                f"{path} does not exist. Start the sandboxes first: python manage.py sandbox"
            )
        try:
            endpoints = json.loads(path.read_text())
        except ValueError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        for kind in ConnectionKind.values:
            if kind not in endpoints:
                continue
            values = _from_endpoints(kind, endpoints[kind], endpoints["ca_bundle"])
            secrets = values.pop("secrets")
            connection, created = Connection.objects.get_or_create(
                name=kind, defaults={"kind": kind, **values}
            )
            if connection.kind != kind:
                raise CommandError(
                    f"a connection named {kind!r} exists with kind {connection.kind!r}; "
                    "rename it in the admin first"
                )
            for field, value in values.items():
                setattr(connection, field, value)
            connection.enabled = True
            for name, value in secrets.items():
                connection.set_secret(name, value)
            connection.save()
            self.stdout.write(f"{'Created' if created else 'Updated'} connection {kind}")
