"""Run the whole hub in the foreground for a demo: migrate, admin user, web server and worker.

Ctrl-C (SIGINT) or SIGTERM stops every child process; one that does not stop within the grace
period is killed, so nothing is left running behind the terminal.
"""

import json
import os
import secrets
import shlex
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
from django.core.management.base import BaseCommand, CommandError

from hub.tasks import ensure_pull_schedule

DEMO_USERNAME = "admin"
STOP_GRACE_SECONDS = 6


class Command(BaseCommand):
    help = "Set up and run the demo hub (web server + django-q2 cluster) until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--no-sandbox", action="store_true", help="do not start the sandboxes (real systems)"
        )
        parser.add_argument(
            "--sandbox-args",
            default=os.environ.get("SANDBOX_ARGS", ""),
            help='extra arguments for `manage.py sandbox`, e.g. "--customers 500"',
        )

    def handle(self, *args, port: int, host: str, no_sandbox: bool, sandbox_args: str, **options):
        self.stdout.write("Migrating the database...")
        call_command("migrate", interactive=False, verbosity=0)
        username, password = ensure_demo_admin(settings.VAR_DIR / "demo-admin.json")
        # Keep pulling every connection while the hub runs, sandbox or real systems alike.
        ensure_pull_schedule()

        children: list[tuple[str, subprocess.Popen]] = []
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            if not no_sandbox:
                children.append(self.start_sandbox(sandbox_args, lambda: stopping))
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
            if not no_sandbox and not stopping:
                # The first pull runs beside the web server: the admin fills up as it goes.
                self.stdout.write("Pulling customers and products from the sandboxes...")
                children.append(("first pull", subprocess.Popen(self.manage("pull"))))
            while not stopping:
                for name, child in children:
                    if child.poll() is None:
                        continue
                    if name == "first pull":
                        state = "done" if child.returncode == 0 else "failed (see above)"
                        self.stdout.write(f"First pull {state}; pulling again every 5 minutes.")
                        children.remove((name, child))
                        break
                    self.stderr.write(f"{name} exited with code {child.returncode}; stopping.")
                    stopping = True
                time.sleep(0.2)
        finally:
            self.stdout.write("Stopping...")
            stop_children(children)
            self.stdout.write("Stopped.")

    @staticmethod
    def manage(*args: str) -> list[str]:
        return [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]

    def processes(self, host: str, port: int) -> list[tuple[str, list[str]]]:
        return [
            ("web server", self.manage("runserver", f"{host}:{port}", "--noreload")),
            ("worker", self.manage("qcluster")),
        ]

    def start_sandbox(self, extra_args: str, stopping) -> tuple[str, subprocess.Popen]:
        """Start the sandboxes, wait for their endpoints, point the connections at them."""
        state_dir = settings.VAR_DIR / "sandbox"
        endpoints = state_dir / "endpoints.json"
        started = time.time()
        self.stdout.write("Starting the Kashflow, Salesforce and Magento sandboxes...")
        child = subprocess.Popen(
            self.manage("sandbox", "--state-dir", str(state_dir), *shlex.split(extra_args))
        )
        while not (endpoints.exists() and endpoints.stat().st_mtime >= started - 1):
            if child.poll() is not None or stopping():
                raise CommandError(
                    "the sandboxes did not start (see above); if the ports are taken, "
                    'run with SANDBOX_ARGS="--base-port 0"'
                )
            time.sleep(0.2)
        call_command("connections", from_sandbox=str(state_dir), stdout=self.stdout)
        return ("sandboxes", child)


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
