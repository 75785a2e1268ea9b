"""The three built-in roles exist and hold the permissions their work needs, and no more."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from connectors.models import Connection, ConnectionKind
from hub.roles import AUDITOR, DATA_STEWARD, INTEGRATION_OPERATOR


@pytest.fixture
def kashflow(db) -> Connection:
    return Connection.objects.create(
        name="kf", kind=ConnectionKind.KASHFLOW, base_url="https://kf.test/v2"
    )


@pytest.mark.django_db
def test_migration_creates_the_three_roles():
    names = set(Group.objects.values_list("name", flat=True))
    assert {DATA_STEWARD, INTEGRATION_OPERATOR, AUDITOR} <= names


@pytest.mark.django_db
def test_auditor_holds_only_view_permissions():
    codenames = set(Group.objects.get(name=AUDITOR).permissions.values_list("codename", flat=True))
    assert "view_connection" in codenames
    assert codenames and all(code.startswith("view_") for code in codenames)


def test_auditor_can_read_but_not_change_a_connection(client, auditor, kashflow):
    client.force_login(auditor)
    change_url = reverse("admin:connectors_connection_change", args=[kashflow.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert 'type="submit"' not in page.content.decode().split('id="content"')[1].split("</form>")[0]

    response = client.post(change_url, {"name": "renamed", "kind": "kashflow"})
    assert response.status_code == 403
    assert client.get(reverse("admin:connectors_connection_add")).status_code == 403
    delete_url = reverse("admin:connectors_connection_delete", args=[kashflow.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    kashflow.refresh_from_db()
    assert kashflow.name == "kf"


def test_steward_cannot_reconfigure_a_connection(client, steward, kashflow):
    client.force_login(steward)
    assert client.get(reverse("admin:connectors_connection_add")).status_code == 403
    assert steward.has_perm("connectors.view_connection")
    assert not steward.has_perm("connectors.change_connection")


def test_operator_can_add_a_connection(client, operator):
    client.force_login(operator)
    response = client.post(
        reverse("admin:connectors_connection_add"),
        {
            "name": "shop",
            "kind": "magento",
            "base_url": "https://shop.test/rest",
            "enabled": "on",
            "options": "{}",
            "field_mappings-TOTAL_FORMS": "0",
            "field_mappings-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert Connection.objects.filter(name="shop").exists()
    assert operator.has_perm("django_q.change_schedule")
