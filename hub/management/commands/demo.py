"""Run the whole hub in the foreground for a demo: migrate, admin user, web server and worker.

Ctrl-C (SIGINT) or SIGTERM stops every child process; one that does not stop within the grace
period is killed, so nothing is left running behind the terminal.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_USERNAME = "admin"
STOP_GRACE_SECONDS = 6


class Command(BaseCommand):
    help = "Set up and run the demo hub (web server + django-q2 cluster) until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args, port: int, host: str, **options):
        self.stdout.write("Migrating the database...")
        call_command("migrate", interactive=False, verbosity=0)
        username, password = ensure_demo_admin(settings.VAR_DIR / "demo-admin.json")

        children: list[tuple[str, subprocess.Popen]] = []
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, argv in self.processes(host, port):
                children.append((name, subprocess.Popen(argv)))
            url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
            if wait_until_up(f"{url}/healthz", children, lambda: stopping):
                self.stdout.write(
                    self.style.SUCCESS(
                        f"\nConcord is running at {url}/admin/\n"
                        f"  username: {username}\n  password: {password}\n"
                        f"  (also in {settings.VAR_DIR / 'demo-admin.json'})\n"
                        "Press Ctrl-C to stop.\n"
                    )
                )
            while not stopping:
                for name, child in children:
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with code {child.returncode}; stopping.")
                        stopping = True
                time.sleep(0.2)
        finally:
            self.stdout.write("Stopping...")
            stop_children(children)
            self.stdout.write("Stopped.")

    def processes(self, host: str, port: int) -> list[tuple[str, list[str]]]:
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        return [
            ("web server", [*manage, "runserver", f"{host}:{port}", "--noreload"]),
            ("worker", [*manage, "qcluster"]),
        ]


def ensure_demo_admin(credentials_path: Path) -> tuple[str, str]:
    """Create (or reset) the demo superuser; write its login to a file only its owner can read."""
    password = secrets.token_urlsafe(12)
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=DEMO_USERNAME, defaults={"email": "admin@example.com"}
    )
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    credentials_path.parent.mkdir(parents=True, exist_ok=True)
    credentials_path.unlink(missing_ok=True)
    fd = os.open(credentials_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"username": DEMO_USERNAME, "password": password}, handle)
    return DEMO_USERNAME, password


def wait_until_up(url: str, children, stopping, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping():
        if any(child.poll() is not None for _, child in children):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own local URL)
                return True
        except urllib.error.HTTPError:
            return True  # it answers; /healthz explains what is unhealthy
        except OSError:
            time.sleep(0.3)
    return False


def stop_children(children) -> None:
    for _, child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for _, child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
