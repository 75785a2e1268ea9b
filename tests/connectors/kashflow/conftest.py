"""Fixtures for the Kashflow sandbox contract tests: a logged-in client and settings that undo."""

import csv
import itertools
from decimal import Decimal
from pathlib import Path

import pytest
import requests

_unique = itertools.count(1)


def unique(prefix: str) -> str:
    """A code no other test uses (the sandbox is shared by the whole test session)."""
    return f"{prefix}{next(_unique):04d}"


def start_login(sandbox, **body) -> requests.Response:
    endpoints = sandbox.endpoints
    payload = body or {"UserName": endpoints["username"], "Password": endpoints["password"]}
    return sandbox.session().post(f"{endpoints['base_url']}/sessiontoken", json=payload, timeout=10)


def answer_positions(word: str, requested: list[dict]) -> list[dict]:
    return [
        {"Position": item["Position"], "Value": word[item["Position"] - 1]} for item in requested
    ]


def log_in(sandbox) -> str:
    """Both login steps with the right answers; returns the session token."""
    first = start_login(sandbox).json()
    word = sandbox.endpoints["memorable_word"]
    second = sandbox.session().put(
        f"{sandbox.endpoints['base_url']}/sessiontoken",
        json={
            "TemporaryToken": first["TemporaryToken"],
            "MemorableWordList": answer_positions(word, first["MemorableWordList"]),
        },
        timeout=10,
    )
    assert second.status_code == 200, second.text
    return second.json()["SessionToken"]


class KashflowApi:
    """requests against the sandbox's /v2 base, with a KfToken header."""

    def __init__(self, sandbox, token: str):
        self.base_url = sandbox.endpoints["base_url"]
        self.session = sandbox.session()
        self.session.headers.update(
            {
                "Authorization": f"KfToken {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            }
        )

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url(path), timeout=kwargs.pop("timeout", 10), **kwargs)

    def post(self, path: str, json=None, **kwargs) -> requests.Response:
        return self.session.post(self.url(path), json=json, timeout=10, **kwargs)

    def put(self, path: str, json=None) -> requests.Response:
        return self.session.put(self.url(path), json=json, timeout=10)

    def delete(self, path: str, json=None) -> requests.Response:
        return self.session.delete(self.url(path), json=json, timeout=10)

    def create_customer(self, **fields) -> dict:
        body = {"Name": "Test Customer Ltd", **fields}
        response = self.post("/customers", body)
        assert response.status_code == 201, response.text
        return decimal_json(response)


def decimal_json(response: requests.Response):
    """The body with numbers as Decimal, the way a money-safe client reads it."""
    return response.json(parse_float=Decimal)


@pytest.fixture
def api(kashflow_sandbox) -> KashflowApi:
    return KashflowApi(kashflow_sandbox, log_in(kashflow_sandbox))


@pytest.fixture
def sandbox_settings(kashflow_sandbox):
    """Change emulator settings for one test; the previous values come back afterwards."""
    session = kashflow_sandbox.session()
    url = f"{kashflow_sandbox.endpoints['control_url']}/settings"
    before = session.get(url, timeout=10).json()

    def change(**settings) -> dict:
        return kashflow_sandbox.control("settings", settings).json()

    yield change
    kashflow_sandbox.control("settings", before)
    kashflow_sandbox.control("account/unlock")


@pytest.fixture
def truth_rows(kashflow_sandbox) -> list[dict]:
    path = Path(kashflow_sandbox.sandboxes.state_dir) / "truth.csv"
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["system"] == "kashflow"]


@pytest.fixture
def stocked_product(api) -> dict:
    """A fresh stock-managed product of this test's own."""
    response = api.post(
        "/products",
        {
            "Code": unique("TST-"),
            "Name": "Test Walnut Shelf",
            "Price": 12.50,
            "VATRate": 20,
            "ManageStockLevel": True,
            "QuantityInStock": 40,
        },
    )
    assert response.status_code == 201, response.text
    return decimal_json(response)
