"""/healthz reports the database and the broker, and answers 503 when either is down."""

import json
import os
import subprocess
import sys

import pytest
import redis
from django_q.brokers.redis_broker import Redis

from hub import health
from tests.conftest import ROOT, free_port


@pytest.mark.django_db
def test_healthy_hub_answers_200_with_both_checks(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "ok"
    assert report["database"]["ok"] is True
    assert report["broker"]["ok"] is True
    assert report["broker"]["queued"] >= 0


@pytest.mark.django_db
def test_unreachable_broker_gives_503(client, monkeypatch):
    class DeadRedis(Redis):
        @staticmethod
        def get_connection(list_key=None):
            return redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)

    monkeypatch.setattr(health, "broker", lambda: DeadRedis(list_key="concord"))
    response = client.get("/healthz")
    assert response.status_code == 503
    report = response.json()
    assert report["broker"] == {"ok": False, "broker": "deadredis", "error": "ConnectionError"}
    assert report["database"]["ok"] is True


def test_unreachable_database_gives_503():
    # A real hub process pointed at a PostgreSQL port where nothing listens.
    env = dict(os.environ, DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    env.pop("REDIS_URL", None)
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client(HTTP_HOST='localhost').get('/healthz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "hub.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 503
    assert outcome["body"]["database"]["ok"] is False
    assert outcome["body"]["status"] == "unavailable"


def test_the_browser_icon_is_served_instead_of_a_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
