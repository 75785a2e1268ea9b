"""Run the Kashflow, Salesforce and Magento sandboxes until Ctrl-C."""

import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from connectors.sandbox.runner import DEFAULT_BASE_PORT, EMULATORS, SandboxSet


class Command(BaseCommand):
    help = (
        "Run HTTPS emulators of Kashflow, Salesforce and Magento on loopback and write "
        "STATE_DIR/endpoints.json (URLs, credentials, CA bundle)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--state-dir", type=Path, default=settings.VAR_DIR / "sandbox")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--products", type=int, default=200)
        parser.add_argument("--reset", action="store_true", help="forget all state and reseed")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--base-port",
            type=int,
            default=DEFAULT_BASE_PORT,
            help="kashflow on this port, salesforce +1, magento +2; 0 picks free ports",
        )
        parser.add_argument(
            "--only", action="append", choices=list(EMULATORS), help="run only these systems"
        )

    def handle(self, *args, **options):
        started = time.monotonic()
        sandboxes = SandboxSet(
            options["state_dir"],
            systems=options["only"],
            host=options["host"],
            base_port=options["base_port"],
            seed=options["seed"],
            customers=options["customers"],
            products=options["products"],
            reset=options["reset"],
        )
        try:
            endpoints = sandboxes.start()
        except OSError as exc:
            raise CommandError(
                f"could not start the sandboxes: {exc}. Is another sandbox running? "
                "Stop it or pass --base-port 0 for free ports."
            ) from exc
        elapsed = time.monotonic() - started
        seeded = ", ".join(sandboxes.seeded) or "none (state kept from the last run)"
        self.stdout.write(f"Sandboxes up in {elapsed:.1f} s; seeded: {seeded}")
        for system in sandboxes.servers:
            entry = endpoints[system]
            url = entry.get("base_url") or entry.get("login_url")
            self.stdout.write(f"  {system:<11} {url}")
        self.stdout.write(f"Endpoints and credentials: {sandboxes.endpoints_path}")
        self.stdout.write(
            f"Try: curl --cacert {endpoints['ca_bundle']} "
            f"{next(iter(sandboxes.servers.values())).origin}/__sandbox__/health"
        )
        self.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        finally:
            sandboxes.stop()
            self.stdout.write("Sandboxes stopped.")
