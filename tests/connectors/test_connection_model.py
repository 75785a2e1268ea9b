"""Connection credentials are encrypted at rest."""

import pytest
from django.db import connection as db_connection

from connectors.models import Connection, ConnectionKind

SECRET = "s3cret-Kashflow-password-4711"


def _raw_column(pk: int) -> bytes:
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_secrets FROM connectors_connection WHERE id = %s", [pk])
        return bytes(cursor.fetchone()[0])


@pytest.mark.django_db
def test_secret_is_not_stored_in_clear_text():
    conn = Connection(name="kf", kind=ConnectionKind.KASHFLOW, base_url="https://kf.test/v2")
    conn.set_secret("password", SECRET)
    conn.save()

    raw = _raw_column(conn.pk)
    assert SECRET.encode() not in raw
    assert b"password" not in raw  # not even the names of the secrets leak
    assert raw.startswith(b"gAAAAA")  # a Fernet token

    assert Connection.objects.get(pk=conn.pk).get_secret("password") == SECRET


@pytest.mark.django_db
def test_secret_can_be_removed_and_names_listed():
    conn = Connection(name="sf", kind=ConnectionKind.SALESFORCE, base_url="https://sf.test")
    conn.set_secret("client_secret", "abc")
    conn.set_secret("password", "def")
    conn.save()
    conn.set_secret("password", "")
    conn.save()

    reloaded = Connection.objects.get(pk=conn.pk)
    assert reloaded.secret_names() == ["client_secret"]
    assert reloaded.get_secret("password") == ""


def test_unknown_secret_name_is_refused():
    with pytest.raises(ValueError, match="unknown secret"):
        Connection(name="x").set_secret("pasword", "typo")


def test_repr_never_shows_a_secret():
    conn = Connection(name="kf", kind=ConnectionKind.KASHFLOW)
    conn.set_secret("password", SECRET)
    assert SECRET not in repr(conn) and SECRET not in str(conn)
