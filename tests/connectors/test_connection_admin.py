"""The admin accepts secrets but never shows one back."""

import pytest
from django.urls import reverse

from connectors.models import Connection, ConnectionKind

SECRET = "never-show-me-9f8e7d"
EMPTY_INLINE = {"field_mappings-TOTAL_FORMS": "0", "field_mappings-INITIAL_FORMS": "0"}


@pytest.fixture
def stored(db) -> Connection:
    conn = Connection(name="kf", kind=ConnectionKind.KASHFLOW, base_url="https://kf.test/v2")
    conn.set_secret("password", SECRET)
    conn.set_secret("private_key", "-----BEGIN PRIVATE KEY-----\nMIIsecretkey\n")
    conn.save()
    return conn


def _form_data(**overrides) -> dict:
    data = {
        "name": "kf",
        "kind": "kashflow",
        "base_url": "https://kf.test/v2",
        "enabled": "on",
        "username": "demo",
        "client_id": "",
        "options": "{}",
        **EMPTY_INLINE,
    }
    data.update(overrides)
    return data


def test_change_page_does_not_show_stored_secrets(client, superuser, stored):
    client.force_login(superuser)
    page = client.get(reverse("admin:connectors_connection_change", args=[stored.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert SECRET not in html
    assert "MIIsecretkey" not in html
    assert "Stored. Leave blank to keep it" in html


def test_blank_secret_keeps_the_stored_one(client, superuser, stored):
    client.force_login(superuser)
    url = reverse("admin:connectors_connection_change", args=[stored.pk])
    response = client.post(url, _form_data(username="changed"))
    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.username == "changed"
    assert stored.get_secret("password") == SECRET


def test_new_secret_replaces_and_clear_removes(client, superuser, stored):
    client.force_login(superuser)
    url = reverse("admin:connectors_connection_change", args=[stored.pk])
    client.post(url, _form_data(password="rotated-1", clear_secrets=["private_key"]))
    stored.refresh_from_db()
    assert stored.get_secret("password") == "rotated-1"
    assert stored.secret_names() == ["password"]


def test_a_rejected_form_does_not_echo_the_typed_secret(client, superuser, stored):
    client.force_login(superuser)
    url = reverse("admin:connectors_connection_change", args=[stored.pk])
    response = client.post(
        url, _form_data(base_url="not a url", password="typed-secret-1", private_key="PEMTYPED")
    )
    assert response.status_code == 200  # the form comes back with an error
    html = response.content.decode()
    assert "Enter a valid URL" in html
    assert "typed-secret-1" not in html and "PEMTYPED" not in html
    stored.refresh_from_db()
    assert stored.get_secret("password") == SECRET


def test_add_connection_through_admin_encrypts_secret(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:connectors_connection_add"),
        _form_data(name="mage", kind="magento", base_url="https://shop.test/rest", password="pw1"),
    )
    assert response.status_code == 302
    assert Connection.objects.get(name="mage").get_secret("password") == "pw1"


def test_operator_sees_breaker_state_and_can_close_it(client, operator):
    from connectors.models import BreakerState, ConnectionState

    ConnectionState.objects.create(
        key="kf", breaker_state=BreakerState.OPEN, consecutive_failures=5, last_error="boom"
    )
    client.force_login(operator)
    listing = client.get(reverse("admin:connectors_connectionstate_changelist"))
    assert listing.status_code == 200
    assert "Open (calls refused)" in listing.content.decode()
    state = ConnectionState.objects.get(key="kf")
    response = client.post(
        reverse("admin:connectors_connectionstate_changelist"),
        {"action": "close_breaker", "_selected_action": [state.pk]},
    )
    assert response.status_code == 302
    state.refresh_from_db()
    assert state.breaker_state == BreakerState.CLOSED
