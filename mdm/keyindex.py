"""The blocking keys an import run has written, in memory, so a chunk never asks the database.

A bulk import of 1,000,000 records in 50,000-row chunks spent a fifth of its time, and more with
every chunk, counting and reading the postings of each chunk's ~850,000 keys in a table that grew
to 17 million rows. The run knows those keys already: it wrote them. `RunKeys` keeps them as
sorted numpy arrays of 64-bit key hashes (counts of every key; record ids of retrieval keys), a
few hundred bytes per record instead of Python objects, and shared by forked workers without
being copied (nothing writes to an array's memory, unlike a Python object's reference count).

Records stored before the run began are still read from the database (ids up to `base_id`), so
a small import into a large hub loads nothing up front. Keys that reach the table by another
way during the run (the record-by-record fallback of a failed chunk, an update, a real-time
ingest between chunks) are read back by `catch_up`. Hashes are Python's own string hash: the
same in this process and its forks, which is all the index lives in. A collision (odds of any
at all about one in 370,000 with 10 million distinct keys) only adds a candidate or a count; it
decides nothing.
"""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

import numpy as np
import orjson
from django.db import connection
from django.db.models import Max

from mdm.bulkwrite import write_rows
from mdm.matching.profile import retrieval_mask
from mdm.models import BlockingKey, SourceRecord
from mdm.parallel import worker_count

_EMPTY = np.empty(0, dtype=np.int64)


def key_hashes(keys) -> np.ndarray:
    keys = list(keys)
    return np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))


def sorted_search(array: np.ndarray, values: np.ndarray, side: str = "left") -> np.ndarray:
    """`np.searchsorted(array, values)`, with the values looked up in ascending order.

    Each binary search of an array of millions of hashes misses the cache at most of its steps;
    in ascending order consecutive searches walk the same path. A chunk's 1,150,000 key hashes
    took 1.54 s against 12 million unsorted, 0.05 s sorted (plus 0.1 s to sort them): the part
    of a 1M import's chunks that grew with every chunk.
    """
    if len(values) < 2 or bool(np.all(values[1:] >= values[:-1])):
        return np.searchsorted(array, values, side=side)
    order = np.argsort(values, kind="stable")
    found = np.empty(len(values), dtype=np.intp)
    found[order] = np.searchsorted(array, values[order], side=side)
    return found


def _merge(keys: np.ndarray, values: np.ndarray, new_keys: np.ndarray, new_values: np.ndarray):
    """Insert sorted (key, value) pairs into sorted arrays, keeping them sorted."""
    if not len(new_keys):
        return keys, values
    at = np.searchsorted(keys, new_keys, side="right")
    return np.insert(keys, at, new_keys), np.insert(values, at, new_values)


class RunKeys:
    """Counts and postings of the blocking keys of the records this run has added."""

    def __init__(self, entity: str):
        self.entity = entity
        self.base_id = SourceRecord.objects.aggregate(top=Max("id"))["top"] or 0
        self.stored_before = BlockingKey.objects.filter(
            entity=entity, source_record_id__lte=self.base_id
        ).exists()
        self.base_population = SourceRecord.objects.filter(entity=entity).count()
        self.added = 0
        self.analyzed = 0  # the population when the import last refreshed planner statistics
        self.analysing = None  # waits for that refresh, while it runs beside the import
        self._top_record = self.base_id
        self._key_mark = self.current_mark()
        self._count_keys, self._counts = _EMPTY, _EMPTY  # unique hashes, ascending
        self._posting_keys, self._posting_ids = _EMPTY, _EMPTY  # hash ascending, then record
        self._pending: list[tuple] = []  # (ids, hashes, retrieval) added, not indexed yet

    def statistics_refreshed(self) -> None:
        """Wait for the statistics refresh running beside the import, if one is (and raise
        what it raised)."""
        waiting, self.analysing = self.analysing, None
        if waiting is not None:
            waiting()

    @property
    def population(self) -> int:
        return self.base_population + self.added

    def counts(self, hashes: np.ndarray) -> np.ndarray:
        """How many of the run's records hold each key (by hash). Pass sorted hashes where you
        have them: unsorted, they are sorted here first (see `sorted_search`)."""
        self._settle()
        if not len(self._count_keys):
            return np.zeros(len(hashes), dtype=np.int64)
        at = sorted_search(self._count_keys, hashes).clip(max=len(self._count_keys) - 1)
        return np.where(self._count_keys[at] == hashes, self._counts[at], 0)

    def postings(self) -> tuple[np.ndarray, np.ndarray]:
        """(key hashes, record ids) of the run's retrieval keys, hashes ascending, then ids.
        Forked workers share the arrays as they are (made into Python objects they were
        copied page by page, and cost 1.8 s of each 50,000-row chunk by the fifth)."""
        self._settle()
        return self._posting_keys, self._posting_ids

    def add(self, records) -> None:
        """Take in committed records: an iterable of (record id, keys)."""
        records = [(record_id, keys) for record_id, keys in records if keys]
        keys = [key for _, own in records for key in own]
        self.add_hashed(
            np.repeat(
                np.asarray([record_id for record_id, _ in records], dtype=np.int64),
                [len(own) for _, own in records],
            ),
            key_hashes(keys),
            retrieval_mask(keys),
        )

    def add_hashed(self, ids: np.ndarray, hashes: np.ndarray, retrieval: np.ndarray) -> None:
        """`add` for a chunk that has its keys hashed already: one entry per key, giving its
        record's id, its hash and whether it is a retrieval key (a 1M import spent 0.33-0.57 s
        of each chunk hashing and classifying its keys a second time).

        The keys are indexed when a later chunk first asks (`counts`, `postings`): the
        last chunk of an import, which nothing asks after, costs nothing to index (0.13 s of a
        10,000-record import)."""
        fresh = np.unique(ids[ids > self._top_record])
        self.added += len(fresh)
        self._top_record = max(int(fresh[-1]) if len(fresh) else 0, self._top_record)
        if len(ids):
            self._pending.append((ids, hashes, retrieval))

    def _settle(self) -> None:
        """Index the keys `add` took in since the last time."""
        pending, self._pending = self._pending, []
        for ids, hashes, retrieval in pending:
            self._index(ids, hashes, retrieval)

    def _index(self, ids: np.ndarray, hashes: np.ndarray, retrieval: np.ndarray) -> None:
        unique, counts = np.unique(hashes, return_counts=True)
        at = np.searchsorted(self._count_keys, unique).clip(max=max(len(self._count_keys) - 1, 0))
        known = (
            self._count_keys[at] == unique
            if len(self._count_keys)
            else np.zeros(len(unique), dtype=bool)
        )
        self._counts[at[known]] += counts[known]
        self._count_keys, self._counts = _merge(
            self._count_keys, self._counts, unique[~known], counts[~known]
        )
        ids, hashes = ids[retrieval], hashes[retrieval]
        order = np.lexsort((ids, hashes))
        self._posting_keys, self._posting_ids = _merge(
            self._posting_keys, self._posting_ids, hashes[order], ids[order]
        )

    @staticmethod
    def current_mark() -> int:
        """The newest key row's id: read inside a chunk's transaction, `mark` it after commit."""
        return BlockingKey.objects.aggregate(top=Max("id"))["top"] or 0

    def mark(self, key_id: int | None = None) -> None:
        """Every key row up to this id is known (taken in with `add`, or not the run's)."""
        self._key_mark = self.current_mark() if key_id is None else key_id

    def catch_up(self) -> None:
        """Take in keys that reached the table since the last mark by another way."""
        rows = (
            BlockingKey.objects.filter(
                entity=self.entity, id__gt=self._key_mark, source_record_id__gt=self.base_id
            )
            .order_by("source_record_id")
            .values_list("source_record_id", "key")
        )
        grouped: dict[int, list[str]] = {}
        for record_id, key in rows.iterator(chunk_size=10_000):
            grouped.setdefault(record_id, []).append(key)
        self.add(grouped.items())
        self.mark()


POSTINGS_INDEX = "mdm_blocking_postings"
_deferred = {"dropped": False}


def postings_index_present() -> bool:
    """Whether the key table's postings index exists now."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, BlockingKey._meta.db_table)
    return POSTINGS_INDEX in found


def defer_postings_index() -> bool:
    """Drop the key table's postings index before a first load into an empty key table.

    Kept up row by row, the index cost a fifth of a 1M SQLite import (17 million rows in key
    order, each insert a descent into a growing B-tree); built once at the end from sorted
    rows it costs far less. The load itself never needs it: the run's keys are in `RunKeys`,
    and there are no stored keys to look up. Returns whether it was dropped; callers build it
    again with `build_postings_index` (the next import also does, should this one be cut off).
    Until then real-time matching in other processes scans the key table: slow, still right.
    """
    if connection.in_atomic_block or BlockingKey.objects.exists():
        return False
    if not postings_index_present():
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(POSTINGS_INDEX)}")
    _deferred["dropped"] = True
    return True


def postings_index_deferred() -> bool:
    return _deferred["dropped"]


def build_postings_index(*, check: bool = False) -> bool:
    """Build the postings index if this process dropped it (or, with `check`, if it is missing
    for any reason: a load that was killed). Returns whether it was built."""
    if not (_deferred["dropped"] or check) or postings_index_present():
        _deferred["dropped"] = False
        return False
    index = next(index for index in BlockingKey._meta.indexes if index.name == POSTINGS_INDEX)
    statement = index.create_sql(BlockingKey, connection.schema_editor())
    pending = connection.vendor == "postgresql" and connection.in_atomic_block
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        if pending:  # rows this transaction wrote have deferred checks, which block the index
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if sqlite:  # sort the rows on all cores: 22.5 million rows in 15 s instead of 21-25 s
            cursor.execute(f"PRAGMA threads={worker_count()}")
        try:
            cursor.execute(str(statement))
        finally:
            if sqlite:
                cursor.execute("PRAGMA threads=0")
        if pending:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # as Django's foreign keys begin
    _deferred["dropped"] = False
    return True


def insert_keys(rows, *, in_key_order: bool = True) -> None:
    """Insert blocking keys, (entity, key, source record id) each, as plain rows: the ORM's
    per-value work dominates otherwise (text and integers only, so SQLite takes them as JSON).

    In key order the postings index grows at few places; while a first load has dropped it,
    record order (as they come) keeps the record-id index append-only and saves the sort.
    """
    if in_key_order:
        rows = sorted(rows, key=lambda row: row[1])
    if connection.vendor == "postgresql":
        _copy_by_record(rows)
    elif not in_key_order and connection.vendor == "sqlite":
        _insert_by_record(rows)
    else:
        write_rows(BlockingKey._meta.db_table, KEY_COLUMNS, rows, exact_json=True)


KEY_COLUMNS = ["entity", "key", "source_record_id"]
KEYS_PER_STATEMENT = 20_000
_GAP = 1000  # record ids without keys inside one statement, sent as empty lists


def _insert_by_record(rows) -> None:
    """`insert_keys` on SQLite for rows in record order: each statement takes one JSON array
    of the records' key lists (record ids counted up from the first one), unpacked by two
    `json_each`. Sent as a row per key, each row's text was parsed again for each of its three
    columns: the 235,955 key rows of a 10,000-record import took 0.36 s that way, 0.16 s
    this way (the statements alone, measured on a copy of the table)."""
    table = connection.ops.quote_name(BlockingKey._meta.db_table)
    statement = (
        f'INSERT INTO {table} ("entity", "key", "source_record_id") '  # noqa: S608 (a model's)
        "SELECT %s, keys.value, records.key + %s "
        "FROM json_each(%s) AS records, json_each(records.value) AS keys"
    )
    entity, first, lists, count = None, 0, [], 0
    with connection.cursor() as cursor:

        def flush() -> None:
            document = orjson.dumps(lists)
            if b"\\u0000" in document:  # SQLite's JSON functions would cut such text short
                spread = [
                    (entity, key, first + at) for at, keys in enumerate(lists) for key in keys
                ]
                write_rows(BlockingKey._meta.db_table, KEY_COLUMNS, spread)
            else:
                cursor.execute(statement, [entity, first, document.decode()])

        for (row_entity, record_id), group in groupby(rows, key=itemgetter(0, 2)):
            keys = [key for _, key, _ in group]
            at = record_id - first
            if lists and (
                row_entity != entity
                or not len(lists) <= at < len(lists) + _GAP
                or count >= KEYS_PER_STATEMENT
            ):
                flush()
                lists, count = [], 0
            if not lists:
                entity, first, at = row_entity, record_id, 0
            lists.extend([] for _ in range(at - len(lists)))
            lists.append(keys)
            count += len(keys)
        if lists:
            flush()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_by_record(rows) -> None:
    """`insert_keys` on PostgreSQL: COPY's text format made here, a record's keys joined into
    one string. Row by row through `write_row`, 1.18 million key rows (a 50,000-record
    chunk's) took 0.93 s of this process's CPU, 0.10 s this way (the server's share, about
    3 s, is the same). A key holding a character COPY must escape is escaped."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in KEY_COLUMNS)
    statement = f"COPY {quote(BlockingKey._meta.db_table)} ({names}) FROM STDIN"
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(statement) as copy,
    ):
        blocks, count = [], 0
        for (entity, record_id), group in groupby(rows, key=itemgetter(0, 2)):
            keys = [key for _, key, _ in group]
            head, tail = f"{entity}\t", f"\t{int(record_id)}\n"
            block = head + (tail + head).join(keys) + tail
            if (
                block.count("\t") != 2 * len(keys)
                or block.count("\n") != len(keys)
                or "\\" in block
                or "\r" in block
            ):
                block = "".join(head + key.translate(_COPY_ESCAPES) + tail for key in keys)
            blocks.append(block)
            count += len(keys)
            if count >= KEYS_PER_STATEMENT:
                copy.write("".join(blocks))
                blocks, count = [], 0
        if blocks:
            copy.write("".join(blocks))
