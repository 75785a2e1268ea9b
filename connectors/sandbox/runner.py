"""Start the emulators on loopback HTTPS ports and describe them in endpoints.json.

Used by `manage.py sandbox`, by `make demo` and by the test fixtures. Emulators are found by
dotted path and imported only when started, so one system can run without the others.
"""

import csv
import json
import logging
import os
import time
from pathlib import Path

from django.utils.module_loading import import_string

from connectors.sandbox.seed import build_world
from connectors.sandbox.server import Emulator, SandboxServer
from connectors.sandbox.state import StateStore
from connectors.sandbox.tls import ensure_tls

logger = logging.getLogger(__name__)

EMULATORS = {
    "kashflow": "connectors.kashflow.sandbox.KashflowEmulator",
    "salesforce": "connectors.salesforce.sandbox.SalesforceEmulator",
    "magento": "connectors.magento.sandbox.MagentoEmulator",
}
DEFAULT_BASE_PORT = 8441  # kashflow 8441, salesforce 8442, magento 8443


class SandboxSet:
    """Some or all of the three emulators, sharing one state directory and one local CA."""

    def __init__(
        self,
        state_dir: Path | str,
        *,
        systems: list[str] | None = None,
        host: str = "127.0.0.1",
        base_port: int = DEFAULT_BASE_PORT,
        seed: int = 42,
        customers: int = 2000,
        products: int = 200,
        reset: bool = False,
    ):
        self.state_dir = Path(state_dir)
        self.systems = systems or list(EMULATORS)
        unknown = set(self.systems) - set(EMULATORS)
        if unknown:
            raise ValueError(f"unknown sandbox systems {sorted(unknown)}; known: {list(EMULATORS)}")
        self.host = host
        self.base_port = base_port
        self.seed, self.customers, self.products = seed, customers, products
        self.reset = reset
        self.servers: dict[str, SandboxServer] = {}
        self.seeded: list[str] = []

    @property
    def endpoints_path(self) -> Path:
        return self.state_dir / "endpoints.json"

    def emulator(self, system: str) -> Emulator:
        return self.servers[system].emulator

    def start(self) -> dict:
        """Start every emulator (seeding empty ones) and return the endpoints document."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tls = ensure_tls(self.state_dir)
        context = tls.server_context()
        world = None
        truth_rows: list[tuple[str, str, str, str]] = []
        for system in self.systems:
            emulator_class = import_string(EMULATORS[system])
            store = StateStore(self.state_dir / f"{system}.sqlite3")
            if self.reset:
                store.reset()
            emulator = emulator_class(store, self.state_dir)
            port = self.base_port + list(EMULATORS).index(system) if self.base_port else 0
            server = SandboxServer(emulator, context, self.host, port)
            emulator.bind(server.origin)
            self.servers[system] = server
            if world is None:
                world = build_world(self.seed, self.customers, self.products)
            emulator.world = world
            if store.is_empty():
                started = time.monotonic()
                with store.batch():
                    emulator.bootstrap()
                    rows = emulator.seed(world)
                truth_rows += [
                    (system, entity, external_id, key) for entity, external_id, key in rows
                ]
                self.seeded.append(system)
                logger.info("seeded %s in %.2f s", system, time.monotonic() - started)
        if truth_rows:
            self._write_truth(truth_rows)
        for server in self.servers.values():
            server.start()
        document = {"ca_bundle": str(tls.ca_cert)}
        if self.endpoints_path.exists():
            # Keep the other systems' entries when only some are (re)started.
            document = {**json.loads(self.endpoints_path.read_text()), **document}
        for system, server in self.servers.items():
            document[system] = server.emulator.endpoints()
        self._write_private(self.endpoints_path, json.dumps(document, indent=2))
        return document

    def _write_truth(self, rows: list[tuple[str, str, str, str]]) -> None:
        path = self.state_dir / "truth.csv"
        kept = []
        if path.exists():  # rows of systems not seeded this time stay
            with path.open(newline="") as handle:
                kept = [
                    tuple(row.values())
                    for row in csv.DictReader(handle)
                    if row["system"] not in self.seeded
                ]
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["system", "entity", "external_id", "entity_key"])
            writer.writerows(kept + rows)

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        # endpoints.json holds the sandbox credentials: readable by its owner only.
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(path.with_suffix(".tmp"), path)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
            server.emulator.store.close()
        self.servers.clear()
