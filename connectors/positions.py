"""Source positions kept on local disk, so a restarted source resumes where it stopped.

Kafka Connect keeps source offsets in a Kafka topic; we keep them in a SQLite
file in the connector's state directory instead, because the embedded broker
forgets everything when it stops and a file-drop source must still not read a
file twice. Writes are transactions with ``synchronous=FULL``: once
:meth:`SourcePositions.save` returns, the position survives a crash of the
process or a power cut of the machine.

Besides positions, a source may keep *marks* — things it has finished with for
good, such as a processed file's digest — in the same file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (partition TEXT PRIMARY KEY, position TEXT NOT NULL, saved_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS marks (
    kind TEXT NOT NULL, key TEXT NOT NULL, detail TEXT NOT NULL, marked_at REAL NOT NULL, PRIMARY KEY (kind, key)
);
"""


class SourcePositions:
    """One connector instance's positions (source partition → JSON offset) and marks."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # the runner saves from a worker thread (never two at once): one connection, guarded by a lock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def in_dir(cls, state_dir: Path) -> SourcePositions:
        return cls(state_dir / "positions.sqlite")

    def load(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute("SELECT partition, position FROM positions").fetchall()
        return {partition: json.loads(position) for partition, position in rows}

    def save(self, positions: Mapping[str, Any]) -> None:
        """Write every position of ``positions`` in one durable transaction."""
        if not positions:
            return
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT INTO positions VALUES (?, ?, ?) ON CONFLICT(partition) DO UPDATE SET "
                "position = excluded.position, saved_at = excluded.saved_at",
                [(partition, json.dumps(position), now) for partition, position in positions.items()],
            )

    def reset(self, partitions: Iterable[str] | None = None) -> int:
        """Forget the given partitions' positions (all when None); the source reads them again from the start."""
        with self._transaction():
            if partitions is None:
                return self._db.execute("DELETE FROM positions").rowcount
            return sum(self._db.execute("DELETE FROM positions WHERE partition = ?", (p,)).rowcount for p in partitions)

    def mark(self, kind: str, key: str, detail: Mapping[str, Any]) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO marks VALUES (?, ?, ?, ?)", (kind, key, json.dumps(dict(detail)), time.time())
            )

    def marked(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT detail FROM marks WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def marks(self, kind: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT key, detail FROM marks WHERE kind = ?", (kind,)).fetchall()
        return {key: dict(json.loads(detail)) for key, detail in rows}

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()
