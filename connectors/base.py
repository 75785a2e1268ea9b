"""The contract every connector implements, and the registry that finds one by kind.

A connector turns one Connection into canonical reads and writes; nothing above it knows a
system's field names. Methods a connector cannot offer raise NotImplementedError loudly.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.module_loading import import_string

from connectors.canonical import Customer, Product
from connectors.errors import ConcordError
from connectors.http import HttpPolicy, ResilientSession
from connectors.models import Connection

CONNECTORS = {
    "kashflow": "connectors.kashflow.connector.KashflowConnector",
    "salesforce": "connectors.salesforce.connector.SalesforceConnector",
    "magento": "connectors.magento.connector.MagentoConnector",
}


@dataclass
class ConnectionCheck:
    """What "Test connection" reports."""

    ok: bool
    latency_ms: float = 0.0
    detail: str = ""
    allowance: str = ""  # e.g. "412 of 15000 daily API requests used"
    error: str = ""
    extra: dict = field(default_factory=dict)

    def summary(self) -> str:
        if not self.ok:
            return f"failed: {self.error}"
        parts = [f"ok in {self.latency_ms:.0f} ms", self.detail]
        if self.allowance:
            parts.append(self.allowance)
        return "; ".join(part for part in parts if part)


class Connector:
    """Base class: subclasses implement the read methods their system offers."""

    kind = ""
    #: True when iter_* can ask the system for changes since a time; else the caller compares.
    incremental = False

    def __init__(self, connection: Connection):
        self.connection = connection
        self.session = ResilientSession(
            connection.name,
            verify=connection.options.get("ca_bundle") or True,
            policy=HttpPolicy.from_options(connection.options),
            read_allowance=self.read_allowance,
        )

    def read_allowance(self, response) -> tuple[int, int] | None:
        """(used, limit) of the system's API allowance from a response, if it reports one."""
        return None

    def check(self) -> ConnectionCheck:
        """Authenticate, read one record, report latency and the remaining allowance."""
        started = time.monotonic()
        try:
            detail = self.read_one()
        except ConcordError as exc:
            return ConnectionCheck(ok=False, error=str(exc))
        latency = (time.monotonic() - started) * 1000
        return ConnectionCheck(
            ok=True, latency_ms=latency, detail=detail, allowance=self.allowance_text()
        )

    def allowance_text(self) -> str:
        from connectors.resilience import connection_state

        state = connection_state(self.connection.name)
        if not state.api_limit:
            return ""
        return f"{state.api_used} of {state.api_limit} daily API requests used"

    def apply_field_mappings(self, entity: str, payload: dict, record) -> None:
        """Fill record.custom_attributes from the raw payload with the connection's configured
        field mappings (extra and custom fields). Call it at the end of every *_to_canonical."""
        from connectors.field_mapping import apply_field_mappings

        apply_field_mappings(self.connection, entity, payload, record)

    def read_one(self) -> str:
        """Authenticate and read one record; return a short description of it."""
        raise NotImplementedError

    def sample_payload(self, entity: str) -> dict:
        """One raw record of `entity` ("customer" or "product") as the system sends it, for the
        field-mapping preview."""
        raise NotImplementedError(f"{self.kind} cannot fetch a sample {entity} yet")

    def iter_customers(self, since: datetime | None = None) -> Iterator[Customer]:
        raise NotImplementedError

    def iter_products(self, since: datetime | None = None) -> Iterator[Product]:
        raise NotImplementedError


def connector_for(connection: Connection) -> Connector:
    """The connector of a connection's kind, imported only when first needed."""
    try:
        path = CONNECTORS[connection.kind]
    except KeyError:
        raise ValueError(f"no connector for kind {connection.kind!r}") from None
    return import_string(path)(connection)
