"""Persistent state of one emulator: JSON documents by (kind, id) in SQLite, cached in memory.

Every emulator keeps its records here so a restarted sandbox still holds what the hub saw.
Reads come from the in-memory copy (fast list pages); writes go through to SQLite at once.
Documents returned by get()/all() are the stored objects: treat them as read-only and call
put() with a changed copy.
"""

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class StateStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, id TEXT NOT NULL,"
            " data TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (kind, id))"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._batch_depth = 0
        self._load()

    def _load(self) -> None:
        self._docs: dict[str, dict[str, dict]] = {}
        self._seq = 0
        for kind, doc_id, data, seq in self._db.execute(
            "SELECT kind, id, data, seq FROM docs ORDER BY seq"
        ):
            self._docs.setdefault(kind, {})[doc_id] = json.loads(data)
            self._seq = max(self._seq, seq)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many writes into one SQLite transaction (seeding, bulk jobs)."""
        with self.lock:
            if self._batch_depth == 0:
                self._db.execute("BEGIN")
            self._batch_depth += 1
            try:
                yield
            except BaseException:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    self._db.execute("ROLLBACK")
                    self._load()
                raise
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._db.execute("COMMIT")

    def get(self, kind: str, doc_id: str) -> dict | None:
        return self._docs.get(kind, {}).get(str(doc_id))

    def all(self, kind: str) -> list[dict]:
        """Every document of a kind, in insertion order."""
        with self.lock:
            return list(self._docs.get(kind, {}).values())

    def count(self, kind: str) -> int:
        return len(self._docs.get(kind, {}))

    def put(self, kind: str, doc_id: str, doc: dict) -> dict:
        """Insert or replace a document; an update keeps the document's place in the order."""
        doc_id = str(doc_id)
        data = json.dumps(doc, separators=(",", ":"), default=str)
        with self.lock:
            existing = self._docs.setdefault(kind, {})
            if doc_id in existing:
                self._db.execute(
                    "UPDATE docs SET data = ? WHERE kind = ? AND id = ?", (data, kind, doc_id)
                )
            else:
                self._seq += 1
                self._db.execute(
                    "INSERT INTO docs (kind, id, data, seq) VALUES (?, ?, ?, ?)",
                    (kind, doc_id, data, self._seq),
                )
            existing[doc_id] = doc
        return doc

    def delete(self, kind: str, doc_id: str) -> bool:
        doc_id = str(doc_id)
        with self.lock:
            found = self._docs.get(kind, {}).pop(doc_id, None) is not None
            self._db.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, doc_id))
        return found

    def next_id(self, counter: str, start: int = 1) -> int:
        """A persistent counter (invoice numbers, Salesforce id suffixes...)."""
        with self.lock:
            value = int(self.get_meta(counter, str(start - 1))) + 1
            self.set_meta(counter, str(value))
            return value

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def is_empty(self) -> bool:
        return not any(self._docs.values())

    def reset(self) -> None:
        with self.lock:
            self._db.execute("DELETE FROM docs")
            self._db.execute("DELETE FROM meta")
            self._docs = {}
            self._seq = 0

    def close(self) -> None:
        with self.lock:
            self._db.close()
