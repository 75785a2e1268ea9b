"""Settings come from the environment; production refuses to start without real keys."""

import os
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured

from hub.settings import BASE_DIR, database_from_url, envbool
from tests.conftest import ROOT, manage_py


def test_postgres_url_is_parsed():
    db = database_from_url("postgresql://user:p%40ss@db.example:5433/concord")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "concord",
        "user",
        "p@ss",
        "db.example",
        "5433",
    )


def test_sqlite_url_uses_wal_and_a_busy_timeout(tmp_path):
    db = database_from_url(f"sqlite:///{tmp_path}/hub.sqlite3")
    assert db["NAME"] == f"{tmp_path}/hub.sqlite3"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["timeout"] >= 5


def test_relative_sqlite_url_is_under_the_project():
    db = database_from_url("sqlite:///var/relative-test.sqlite3")
    assert db["NAME"] == str(BASE_DIR / "var" / "relative-test.sqlite3")


def test_unknown_database_scheme_is_an_error():
    with pytest.raises(ImproperlyConfigured, match="mysql"):
        database_from_url("mysql://x/y")


def test_envbool_rejects_typos(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        envbool("SOME_FLAG", "False")


def _check(tmp_path, **env_overrides) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "FERNET_KEYS", "SECRET_KEY_FILE", "FERNET_KEYS_FILE")
    }
    env.update(CONCORD_VAR_DIR=str(tmp_path), **env_overrides)
    return subprocess.run(
        manage_py("check"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_keys(tmp_path):
    result = _check(tmp_path, DEBUG="False")
    assert result.returncode != 0
    assert "SECRET_KEY is missing or too weak" in result.stderr
    assert not (tmp_path / "secret_key").exists()  # nothing generated behind the operator's back


def test_production_refuses_a_default_key(tmp_path):
    result = _check(tmp_path, DEBUG="False", SECRET_KEY="change-me", FERNET_KEYS="x" * 40)
    assert result.returncode != 0
    assert "SECRET_KEY is missing or too weak" in result.stderr


def test_production_refuses_missing_fernet_key(tmp_path):
    result = _check(tmp_path, DEBUG="False", SECRET_KEY="k" * 50)
    assert result.returncode != 0
    assert "FERNET_KEYS is missing or too weak" in result.stderr


def test_production_starts_with_keys_from_files(tmp_path):
    (tmp_path / "sk").write_text("s" * 50)
    result = _check(
        tmp_path,
        DEBUG="False",
        SECRET_KEY_FILE=str(tmp_path / "sk"),
        FERNET_KEYS="f" * 44,
        ALLOWED_HOSTS="hub.example",
    )
    assert result.returncode == 0, result.stderr


def test_laptop_generates_keys_once(tmp_path):
    assert _check(tmp_path, DEBUG="True").returncode == 0
    first = (tmp_path / "secret_key").read_text()
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert _check(tmp_path, DEBUG="True").returncode == 0
    assert (tmp_path / "secret_key").read_text() == first
    assert (tmp_path / "fernet_key").exists()
