"""The three built-in roles (Django groups) and the permissions each one holds.

A role is described by rules over (app label, action) rather than a list of permission
codenames, so models added by later issues fall into the right roles without editing this file.
"""

from django.db.models import Q

DATA_STEWARD = "Data steward"
INTEGRATION_OPERATOR = "Integration operator"
AUDITOR = "Auditor"

# Which actions each role has per app label. "*" means every app not listed.
ROLE_RULES: dict[str, dict[str, set[str]]] = {
    # Stewards curate golden records; they may look at, but not reconfigure, the integrations.
    DATA_STEWARD: {
        "mdm": {"view", "add", "change", "delete"},
        "hub": {"view"},
        "connectors": {"view"},
    },
    # Operators run the integrations: connections, queues, schedules, retries.
    INTEGRATION_OPERATOR: {
        "hub": {"view", "add", "change", "delete"},
        "connectors": {"view", "add", "change", "delete"},
        "django_q": {"view", "add", "change", "delete"},
        "mdm": {"view"},
    },
    # Auditors read everything the hub holds and change nothing.
    AUDITOR: {
        "hub": {"view"},
        "connectors": {"view"},
        "mdm": {"view"},
        "django_q": {"view"},
        "admin": {"view"},
    },
}


def role_permissions(permission_model, role: str):
    """The Permission queryset a role should hold."""
    condition = Q(pk__in=[])
    for app_label, actions in ROLE_RULES[role].items():
        for action in actions:
            condition |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
    return permission_model.objects.filter(condition)


def sync_roles(group_model, permission_model) -> None:
    """Create the role groups if missing and give each exactly the permissions its rules allow.

    Takes the models as arguments so a data migration can pass its historical models.
    """
    for role in ROLE_RULES:
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.set(role_permissions(permission_model, role))


def sync_roles_after_migrate(sender, **kwargs) -> None:
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    # post_migrate fires once per app and each app's permissions are created in its own turn,
    # so wait for the last app to have them all.
    if sender.name != list(apps.get_app_configs())[-1].name:
        return
    sync_roles(Group, Permission)
