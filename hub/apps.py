"""App config for the integration runtime."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class HubConfig(AppConfig):
    name = "hub"
    verbose_name = "Integration runtime"

    def ready(self) -> None:
        from hub.roles import sync_roles_after_migrate

        # Roles are created by a data migration; this keeps their permissions complete as later
        # migrations add models (a new model's permissions exist only after post_migrate).
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="hub.sync_roles")
