"""`manage.py demo` (what `make demo` runs) serves the admin and stops cleanly on Ctrl-C."""

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time

import requests

from tests.conftest import ROOT, free_port, manage_py


def _pids_in_group(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    with open(f"/proc/{entry}/stat") as stat:
                        if stat.read().split(") ")[1].split()[0] != "Z":
                            pids.append(int(entry))
            except (ProcessLookupError, FileNotFoundError, PermissionError):
                pass
    return pids


def test_demo_serves_the_admin_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(
        CONCORD_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/demo.sqlite3",
        PORT=str(port),
        SANDBOX_ARGS="--base-port 0 --customers 40 --products 10",
    )
    # A session of its own stands in for the terminal: Ctrl-C signals the whole group.
    demo = subprocess.Popen(
        manage_py("demo"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read_output():
        for line in demo.stdout:
            lines.append(line)
            if "Press Ctrl-C to stop" in line:
                ready.set()

    threading.Thread(target=read_output, daemon=True).start()
    try:
        assert ready.wait(120), "".join(lines)
        output = "".join(lines)
        credentials_file = tmp_path / "demo-admin.json"
        assert oct(credentials_file.stat().st_mode & 0o777) == "0o600"
        credentials = json.loads(credentials_file.read_text())
        assert f"password: {credentials['password']}" in output

        session = requests.Session()
        login_url = f"http://127.0.0.1:{port}/admin/login/"
        session.get(login_url, timeout=10)
        response = session.post(
            login_url,
            data={
                "username": credentials["username"],
                "password": credentials["password"],
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": login_url},
            timeout=10,
        )
        assert response.status_code == 200
        assert "Site administration" in response.text or "Master data hub" in response.text
        assert "Log out" in response.text
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        # The sandboxes run and the demo connections point at them.
        assert (tmp_path / "sandbox" / "endpoints.json").exists()
        connections = session.get(f"http://127.0.0.1:{port}/admin/connectors/connection/")
        for kind in ("kashflow", "salesforce", "magento"):
            assert f">{kind}<" in connections.text
        # ...and a django-q2 schedule keeps pulling while the demo runs.
        with sqlite3.connect(tmp_path / "demo.sqlite3") as database:
            schedules = database.execute("SELECT func FROM django_q_schedule").fetchall()
        assert ("hub.tasks.pull_all",) in schedules
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        started = time.monotonic()
        demo.wait(timeout=30)
        stopped_after = time.monotonic() - started
    assert stopped_after < 10, f"took {stopped_after:.1f}s to stop"
    deadline = time.monotonic() + 5
    while _pids_in_group(demo.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _pids_in_group(demo.pid) == [], "child processes left running after Ctrl-C"
