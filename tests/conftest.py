"""Shared personas and helpers: the three roles, a superuser, and subprocess plumbing."""

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Group, User

from connectors.sandbox.runner import SandboxSet
from hub.roles import AUDITOR, DATA_STEWARD, INTEGRATION_OPERATOR

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _fresh_key_counts():
    """Each test counts its own blocking keys: no common key's count kept from another test."""
    from mdm.matching import blocking

    blocking._large_counts.clear()
    yield
    blocking._large_counts.clear()


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


def https_session(ca_bundle) -> requests.Session:
    """A requests session that trusts only the sandbox CA.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override
    `session.verify`; trust_env=False stops that (loopback needs no proxy either).
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_bundle)
    return session


@dataclass
class RunningSandbox:
    """One emulator started for the test session: its endpoints entry and a way to drive it."""

    system: str
    endpoints: dict  # this system's entry of endpoints.json
    ca_bundle: str
    sandboxes: SandboxSet

    @property
    def emulator(self):
        return self.sandboxes.emulator(self.system)

    def session(self) -> requests.Session:
        return https_session(self.ca_bundle)

    def control(self, path: str, payload: dict | None = None) -> requests.Response:
        """POST to the emulator's /__sandbox__/ control API."""
        response = self.session().post(
            f"{self.endpoints['control_url']}/{path}", json=payload or {}, timeout=30
        )
        assert response.status_code < 300, response.text
        return response


def _running(tmp_path_factory, system: str):
    sandboxes = SandboxSet(
        tmp_path_factory.mktemp(f"sandbox-{system}"),
        systems=[system],
        base_port=0,
        seed=7,
        customers=SANDBOX_TEST_CUSTOMERS,
        products=SANDBOX_TEST_PRODUCTS,
    )
    document = sandboxes.start()
    return sandboxes, RunningSandbox(system, document[system], document["ca_bundle"], sandboxes)


# Small worlds keep the suite fast; the benchmarks use the full 2,000 customers.
SANDBOX_TEST_CUSTOMERS = 60
SANDBOX_TEST_PRODUCTS = 20


@pytest.fixture(scope="session")
def kashflow_sandbox(tmp_path_factory):
    sandboxes, running = _running(tmp_path_factory, "kashflow")
    yield running
    sandboxes.stop()


@pytest.fixture(scope="session")
def salesforce_sandbox(tmp_path_factory):
    sandboxes, running = _running(tmp_path_factory, "salesforce")
    yield running
    sandboxes.stop()


@pytest.fixture(scope="session")
def magento_sandbox(tmp_path_factory):
    sandboxes, running = _running(tmp_path_factory, "magento")
    yield running
    sandboxes.stop()


def connection_for(sandbox: RunningSandbox, name: str | None = None):
    """A saved Connection pointing at a running sandbox, as `connections --from-sandbox` makes."""
    from connectors.management.commands.connections import _from_endpoints
    from connectors.models import Connection

    values = _from_endpoints(sandbox.system, dict(sandbox.endpoints), sandbox.ca_bundle)
    secrets = values.pop("secrets")
    connection = Connection(name=name or sandbox.system, kind=sandbox.system, **values)
    for secret, value in secrets.items():
        connection.set_secret(secret, value)
    connection.save()
    return connection
