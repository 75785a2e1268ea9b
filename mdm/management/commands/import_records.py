"""Bulk-load canonical customers or products from CSV: cross-references, matching, golden records.

Idempotent: a row whose attributes are unchanged is a no-op, so running the same file twice
changes nothing. A bad row is reported with its line number and reason and the rest continues.
Before a large first load (no weights estimated yet) the match weights are estimated from the
file itself, so the very first import already matches with weights fitted to its data.
A golden record that gains records in a later chunk keeps its values until the end of the
load, where each such record is worked out once; a load cut off before then leaves them to
the next import, which finishes them first (`PendingSurvivorship`).
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from contextlib import nullcontext
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connectors.canonical import Address, Customer, Product
from mdm.batch import (
    BatchItem,
    bulk_ingest,
    finish_survivorship,
    refresh_statistics,
    start_plan,
)
from mdm.bulkwrite import checkpoints_beside, queries_unlogged
from mdm.ingest import ingest_record
from mdm.keyindex import (
    RunKeys,
    build_postings_index,
    defer_postings_index,
    postings_index_deferred,
)
from mdm.matching.estimate import MAX_PROFILES, estimate_weights, store_weights
from mdm.matching.matcher import profile_and_keys
from mdm.matching.vectorised import Columns
from mdm.models import Entity, MatchSettings, PendingSurvivorship
from mdm.parallel import ahead, collector_paused, fork_map, shared
from mdm.records import customer_attributes, fingerprint, product_attributes

CUSTOMER_COLUMNS = (
    "source_system", "source_id", "company_name", "first_name", "last_name", "email", "phone",
    "address_line1", "address_line2", "city", "region", "postcode", "country",
)  # fmt: skip
PRODUCT_COLUMNS = (
    "source_system", "source_id", "sku", "name", "description", "unit_price", "currency",
    "tax_code", "stock", "active",
)  # fmt: skip
REQUIRED = ("source_system", "source_id")
ESTIMATE_FROM_FILE_ROWS = 1000
PIECE_ROWS = 5000  # rows read ahead are handed over in pieces of at most this many


class RowError(ValueError):
    """A row that cannot be imported; the message is the reason shown to the user."""


def customer_from_row(row: dict) -> Customer:
    return Customer(
        source_system=row["source_system"],
        external_id=row["source_id"],
        company_name=row.get("company_name") or "",
        first_name=row.get("first_name") or "",
        last_name=row.get("last_name") or "",
        email=row.get("email") or "",
        phone=row.get("phone") or "",
        billing_address=Address(
            lines=[line for line in (row.get("address_line1"), row.get("address_line2")) if line],
            city=row.get("city") or "",
            region=row.get("region") or "",
            postcode=row.get("postcode") or "",
            country=(row.get("country") or "").upper(),
        ),
    )


def _decimal(row: dict, column: str) -> Decimal | None:
    value = (row.get(column) or "").strip()
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise RowError(f"{column} {value!r} is not a number") from None


def product_from_row(row: dict) -> Product:
    active = (row.get("active") or "true").strip().lower()
    if active not in ("true", "false", "1", "0", "yes", "no"):
        raise RowError(f"active {active!r} is not true/false")
    return Product(
        source_system=row["source_system"],
        external_id=row["source_id"],
        sku=row.get("sku") or "",
        name=row.get("name") or "",
        description=row.get("description") or "",
        unit_price=_decimal(row, "unit_price"),
        currency=(row.get("currency") or "").upper(),
        tax_code=row.get("tax_code") or "",
        stock=_decimal(row, "stock"),
        active=active in ("true", "1", "yes"),
    )


class Command(BaseCommand):
    help = "Import canonical customers or products from a CSV file (idempotent)."
    # The system checks (a tenth of a second) ran with `migrate`; a load needs the time more.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--entity", choices=[e.value for e in Entity], required=True)
        parser.add_argument("file", help="CSV file with a header row ('-' for stdin)")
        parser.add_argument("--no-estimate", action="store_true", help="keep the current weights")
        parser.add_argument(
            "--per-record",
            action="store_true",
            help="ingest row by row through the real-time path instead of in bulk chunks",
        )
        parser.add_argument("--chunk", type=int, default=50_000, help="rows per bulk transaction")

    def handle(self, *args, entity: str, file: str, no_estimate: bool = False, **options):
        self.per_record, self.chunk = options.get("per_record", False), options.get("chunk", 50_000)
        self.entity = entity
        self.parse = customer_from_row if entity == Entity.CUSTOMER else product_from_row
        self.flatten = customer_attributes if entity == Entity.CUSTOMER else product_attributes
        with tempfile.TemporaryDirectory(prefix="concord-import-") as spool, queries_unlogged():
            if file == "-":  # read twice (sample, then load): keep standard input in a file
                file = str(Path(spool) / "stdin.csv")
                with open(file, "w", newline="", encoding="utf-8") as copy:
                    shutil.copyfileobj(sys.stdin, copy)
            self._import(file, no_estimate)

    def _import(self, file: str, no_estimate: bool) -> None:
        entity = self.entity
        settings = MatchSettings.for_entity(entity)
        errors: list[tuple[int, str]] = []
        self.prepared: dict[int, tuple] = {}
        self.plan = None  # a one-chunk file's `plan_bulk`, made while its weights are estimated
        self.run = RunKeys(entity)  # the keys this import writes, kept for its later chunks
        self.pending: set = set()  # golden records whose survivorship waits for the end
        total = 0
        chunks = read_ahead = None
        if not self.per_record and self._several_chunks(file):
            # Forked now, while the heap is small (see `ahead`): the file is read and prepared
            # in a process of its own, its first chunk while the weights are estimated.
            chunks = read_ahead = self._prefetched(file)
        if not no_estimate and not settings.weights:
            # First pass: count the rows and keep a uniform sample to estimate the weights from.
            rng = random.Random(1)
            sample: list[tuple[int, dict]] = []
            for total, (line, row) in enumerate(self._rows(file), start=1):
                if len(sample) < MAX_PROFILES:
                    sample.append((line, row))
                elif (slot := rng.randrange(total)) < MAX_PROFILES:
                    sample[slot] = (line, row)
            sample_errors: list[tuple[int, str]] = []
            parsed = self._parse(sample, sample_errors)
            if len(parsed) >= ESTIMATE_FROM_FILE_ROWS:
                whole = total <= MAX_PROFILES and chunks is None  # the sample is the whole file
                single = whole and total <= self.chunk  # one chunk: it need not be read again
                ready: list = []

                def plan() -> None:
                    """The file's one chunk, and its candidates, found beside the estimate
                    (`start_plan`)."""
                    self.plan = finish_plan()

                with collector_paused():
                    flat = [self.flatten(item) for _, item in parsed]
                    # Customers' comparison columns, made once for the estimate and the
                    # chunk's comparisons (each of their workers made them: 0.1-0.25 s of CPU
                    # apiece).
                    columns = None
                    if entity == Entity.CUSTOMER and single and not self.per_record:
                        columns = Columns()
                    prepared, digests = self._profiles(flat, columns)
                    if not single:
                        flat = []  # not kept through the estimate: 140 MB for 100,000 rows
                    profiles = [profile for profile, _ in prepared]
                    if single and not self.per_record:
                        ready.extend(self._ready(parsed, flat, prepared, digests))
                        items = [item for _, item in ready]
                        finish_plan = start_plan(entity, items, self.run, columns=columns)
                    weights = estimate_weights(
                        entity,
                        profiles,
                        keys=[k for _, k in prepared],
                        systems=[item.source_system.strip() for _, item in parsed],
                        meanwhile=plan if single and not self.per_record else None,
                        columns=columns,
                    )
                settings = store_weights(entity, weights, len(prepared))
                self.stdout.write(f"Estimated match weights from {len(prepared)} rows of the file.")
                if single:
                    ready = ready or self._ready(parsed, flat, prepared, digests)
                    chunks = iter([(total, ready, sample_errors)])
                elif whole:
                    self.prepared = {
                        line: profile for (line, _), profile in zip(parsed, prepared, strict=True)
                    }
                # The sample's profiles are let go where unused: held to the end of the load,
                # those of 100,000 rows kept 250 MB through it.
                del flat, prepared, digests, profiles, columns
            del sample, parsed
        outcomes: Counter = Counter()
        started = time.monotonic()
        done = rows_seen = 0
        if build_postings_index(check=True):
            self.stdout.write("Rebuilt the blocking-key index an earlier import left unbuilt.")
        # A first load builds the key table's index once at the end instead of row by row.
        if not self.per_record:
            defer_postings_index()
        if chunks is None:
            chunks = self._item_chunks(file, prepare=not self.per_record, size=self.chunk)
        # SQLite: a chunk's checkpoint on a thread beside the import's next steps, where they
        # leave a core idle. Not with a read-ahead process, which takes that core (1,000,000
        # records: 745.3 s with it, 706.0 s without; 200,000: 132.4 s and 140.8 s).
        beside = checkpoints_beside() if read_ahead is None else nullcontext(lambda: None)
        with beside as checkpoint:
            try:
                for count, items, chunk_errors in chunks:
                    rows_seen += count
                    errors.extend(chunk_errors)
                    with collector_paused():
                        items = [  # a one-chunk file's are made already (`_ready`)
                            (line, made if isinstance(made, BatchItem) else BatchItem(*made))
                            for line, made in items
                        ]
                        if self.per_record:
                            self._per_record(items, settings, outcomes, errors)
                        else:
                            self._bulk(items, settings, outcomes, errors)
                    del items
                    checkpoint()
                    done += count
                    self._progress(done, max(total, done), started)
            finally:
                self._build_deferred_index()
        self._finish_survivorship()
        if outcomes:
            refresh_statistics(entity, vacuum=True)  # PostgreSQL: plan lookups on fresh numbers
        for line, reason in sorted(errors):
            self.stderr.write(f"line {line}: {reason}")
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{count} {action}" for action, count in sorted(outcomes.items()))
        self.stdout.write(
            f"Imported {sum(outcomes.values())}/{rows_seen} rows in {elapsed:.1f}s "
            f"({summary or 'nothing'}); {len(errors)} error(s)."
        )

    def _rows(self, file: str):
        """(line number, row) of every data row; the header is checked first."""
        with self._open(file) as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in REQUIRED if column not in (reader.fieldnames or [])]
            if missing:
                raise CommandError(f"{file}: missing column(s): {', '.join(missing)}")
            for row in reader:
                yield reader.line_num, row

    @staticmethod
    def _chunks(rows, size: int):
        chunk = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _parse(self, rows: list[tuple[int, dict]], errors: list) -> list[tuple[int, object]]:
        parsed = []
        for line, row in rows:
            try:
                if (
                    not (row.get("source_system") or "").strip()
                    or not (row.get("source_id") or "").strip()
                ):
                    raise RowError("source_system and source_id are required")
                parsed.append((line, self.parse(row)))
            except RowError as exc:
                errors.append((line, str(exc)))
        return parsed

    def _profiles(
        self, attributes: list[dict], columns: Columns | None = None
    ) -> tuple[list[tuple[dict, list[str]]], list[str]]:
        """(profile and blocking keys, fingerprint) of flattened rows, on all cores for a large
        file (one core in the read-ahead process, which may not fork). `columns`, if given,
        receive the profiles as they come in (while the workers make the rest)."""
        found = fork_map(
            _profile_of,
            range(len(attributes)),
            data={"entity": self.entity, "rows": attributes},
            each=None if columns is None else lambda part: columns.add([p for p, *_ in part]),
        )
        return [(profile, keys) for profile, keys, _ in found], [digest for *_, digest in found]

    def _several_chunks(self, file: str) -> bool:
        """Whether the file looks longer than a chunk, by its size and its first rows' length
        (a guess: either answer loads the same; it only decides how)."""
        try:
            size = os.path.getsize(file)
            with open(file, "rb") as handle:
                head = handle.read(1 << 16)
        except OSError:
            return False  # reading it fails later, with the reason
        rows = head.count(b"\n")
        if len(head) < size and rows:
            rows = size * rows // len(head)
        return rows > self.chunk + 1

    def _prefetched(self, file: str):
        """The prepared chunks of a file of several, read and prepared in a process of its own
        while this one matches and writes the chunk before (see `ahead`). They come in pieces
        of at most PIECE_ROWS rows, so that the process holds one piece, not a chunk, in memory.
        """
        pieces = -(-self.chunk // PIECE_ROWS)
        size = -(-self.chunk // pieces)  # the pieces of a chunk are of one size
        # Forked here, not when the first chunk is asked for (after the sample and estimate).
        made = ahead(lambda: self._item_chunks(file, prepare=True, size=size), depth=pieces + 1)
        return self._regrouped(made)

    def _regrouped(self, made):
        """Chunks of `self.chunk` rows from the pieces `_prefetched` made."""
        count, items, errors = 0, [], []
        for piece_count, piece_items, piece_errors in made:
            count += piece_count
            items.extend(piece_items)
            errors.extend(piece_errors)
            if count >= self.chunk:
                yield count, items, errors
                count, items, errors = 0, [], []
        if count:
            yield count, items, errors

    def _item_chunks(self, file: str, *, prepare: bool, size: int):
        """(rows read, [(line, BatchItem fields)], [(line, reason)]) for each chunk of the
        file; with `prepare`, each item's profile, keys and fingerprint are worked out too.
        Needs no database, so it may run in a process of its own. Items are plain tuples
        (`BatchItem(*fields)`), which travel between processes at four times the speed of a
        dataclass (unpickled in 0.44 s against 1.7 s for 50,000 customers)."""
        for chunk in self._chunks(self._rows(file), size):
            errors: list[tuple[int, str]] = []
            with collector_paused():
                parsed = self._parse(chunk, errors)
                items = [(line, _batch_item(item, self.flatten(item))) for line, item in parsed]
                if prepare:
                    missing = [item for line, item in items if line not in self.prepared]
                    computed, digests = self._profiles([item.attributes for item in missing])
                    for item, prepared, digest in zip(missing, computed, digests, strict=True):
                        item.prepared, item.digest = prepared, digest
                    for line, item in items:
                        if item.prepared is None:
                            item.prepared = self.prepared.pop(line)  # used once: let it go
                            item.digest = fingerprint(item.attributes)
                fields = [(line, _fields(item)) for line, item in items]
            yield len(chunk), fields, errors

    @staticmethod
    def _ready(
        parsed: list, flat: list[dict], prepared: list, digests: list[str]
    ) -> list[tuple[int, BatchItem]]:
        """The items of a file the weights were estimated on whole, from that pass's parsed
        rows, attributes, profiles and fingerprints (reading the file again took 0.2 s of a
        10,000-record import)."""
        ready = []
        with collector_paused():
            for (line, parsed_item), attributes, profile, digest in zip(
                parsed, flat, prepared, digests, strict=True
            ):
                item = _batch_item(parsed_item, attributes)
                item.prepared, item.digest = profile, digest
                ready.append((line, item))
        return ready

    def _per_record(self, items, settings, outcomes, errors) -> None:
        # A fallback after a failed chunk: the real-time path needs the index (which the chunk
        # may have built and lost in its rollback).
        build_postings_index(check=True)
        for line, item in items:
            try:
                result = ingest_record(
                    self.entity,
                    item.system,
                    item.external_id,
                    item.attributes,
                    item.modified,
                    raw={"line": line},
                    settings=settings,
                )
                outcomes[result.action.value] += 1
            except Exception as exc:
                errors.append((line, f"{type(exc).__name__}: {exc}"))

    def _bulk(self, items, settings, outcomes, errors) -> None:
        plan, self.plan = self.plan, None  # made for these items, if any: used once
        try:
            batch = plan.items if plan is not None else [item for _, item in items]
            counted = bulk_ingest(  # a plan is made for a file of one chunk: the last
                self.entity, batch, settings, self.run, self.pending, plan, last=plan is not None
            )
            outcomes.update({action.value: count for action, count in counted.items()})
        except Exception as exc:
            # One bad record must not sink the chunk: go record by record to find it.
            self.stderr.write(
                f"The bulk load of rows {items[0][0]}-{items[-1][0]} failed "
                f"({type(exc).__name__}: {exc}); loading them one by one instead (slower)."
            )
            self._per_record(items, settings, outcomes, errors)  # the next chunk catches up

    def _build_deferred_index(self) -> None:
        """The key index a first load left for its end, if it did; then wait for a statistics
        refresh running beside the import (whose last one overlaps the build)."""
        try:
            if postings_index_deferred():
                self.stderr.write("Building the blocking-key index (once, after a first load)...")
                began = time.monotonic()
                build_postings_index()
                self.stderr.write(
                    f"Built the blocking-key index in {time.monotonic() - began:.1f}s."
                )
        finally:
            self.run.statistics_refreshed()

    def _finish_survivorship(self) -> None:
        """The survivorship of the golden records that gained records in a chunk after the
        one that created them, or before this import began (and of those an import cut off
        before it got here left), once for each."""
        if not PendingSurvivorship.objects.filter(entity=self.entity).exists():
            return
        began = time.monotonic()
        self.stderr.write("Updating the golden records that gained records during the load...")

        def progress(done: int, total: int) -> None:
            self._bar(done, total, began, "golden records")

        with collector_paused():  # as in the chunks: the heap of a large load is big
            count = finish_survivorship(self.entity, progress)
        self.stdout.write(
            f"Updated {count} golden record(s) that gained records "
            f"in {time.monotonic() - began:.1f}s."
        )

    def _open(self, file: str):
        try:
            return open(file, newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc

    def _progress(self, done: int, total: int, started: float) -> None:
        self._bar(done, total, started, "rows")

    def _bar(self, done: int, total: int, started: float, what: str) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        rate = done / max(time.monotonic() - started, 1e-9)
        bar = "#" * filled + "-" * (width - filled)
        self.stderr.write(f"[{bar}] {done}/{total} {what}, {rate:.0f} {what}/s")


def _batch_item(parsed, attributes: dict) -> BatchItem:
    """The batch item of a parsed row (a `Customer` or `Product`) and its flattened attributes."""
    return BatchItem(
        parsed.source_system.strip(),
        parsed.external_id.strip(),
        attributes,
        parsed.source_modified_at,
    )


def _fields(item: BatchItem) -> tuple:
    """`BatchItem(*_fields(item))` is `item` again."""
    return (
        item.system,
        item.external_id,
        item.attributes,
        item.modified,
        item.prepared,
        item.digest,
    )


def _profile_of(index: int) -> tuple[dict, list[str], str]:
    data = shared()
    attributes = data["rows"][index]
    return *profile_and_keys(data["entity"], attributes), fingerprint(attributes)
