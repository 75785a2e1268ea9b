"""Shared personas and helpers: the three roles, a superuser, and subprocess plumbing."""

import os
import socket
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from hub.roles import AUDITOR, DATA_STEWARD, INTEGRATION_OPERATOR

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage_py(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def require_service(available: bool, what: str) -> None:
    """Skip on a laptop without the service; fail under CI, where it must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI but is not available")
    pytest.skip(f"{what} is not available on this machine")


def _user_in_role(username: str, role: str) -> User:
    user = User.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def steward(db) -> User:
    return _user_in_role("steward", DATA_STEWARD)


@pytest.fixture
def operator(db) -> User:
    return _user_in_role("operator", INTEGRATION_OPERATOR)


@pytest.fixture
def auditor(db) -> User:
    return _user_in_role("auditor", AUDITOR)


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")


def database_url_for_subprocess() -> str:
    """A DATABASE_URL for a child process that points at the test database of this run."""
    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    auth = settings_dict["USER"] or ""
    if settings_dict["PASSWORD"]:
        auth += f":{settings_dict['PASSWORD']}"
    host = settings_dict["HOST"] or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgresql://{auth}@{host}{port}/{settings_dict['NAME']}"


def subprocess_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url_for_subprocess())
    env.update(overrides)
    return env
