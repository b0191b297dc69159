"""Partition-local tables on local disk (LMDB), the production store of the router's state.

Why LMDB: lookups cost ~1 µs, a batch of writes is one transaction, and the
data lives in a memory-mapped file, so worker memory stays bounded: the OS
keeps hot pages cached and can drop cold ones (``bench/pipeline.py`` measures
the peak RSS of 1,000,000 keys).

Layout: one LMDB database per table; every key is prefixed with its input
partition (2 bytes, big-endian), so a revoked partition's state is dropped
with one range delete and restored from its changelog partition alone.

The local files are a cache of the changelog topics, never the truth: a
worker restores a partition from its changelog whenever it is assigned one
(see :mod:`streams.state.changelog`).
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import lmdb

_PARTITION: Final = struct.Struct(">H")
DEFAULT_MAP_SIZE: Final = 64 * 1024**3  # address space only; the file grows with the data


def partition_prefix(partition: int) -> bytes:
    return _PARTITION.pack(partition)


class StateStore:
    """Tables of bytes → bytes per input partition.

    Lifecycle: construct (opens or creates the directory), use, ``close()``.
    Not thread-safe; one event loop task writes at a time (the processor holds
    a lock around each batch).
    """

    def __init__(self, path: Path | None, tables: Sequence[str], *, map_size: int = DEFAULT_MAP_SIZE) -> None:
        self._owned_tmp = path is None
        self.path = Path(tempfile.mkdtemp(prefix="tracebus-state-")) if path is None else path
        self.path.mkdir(parents=True, exist_ok=True)
        # sync=False: durability comes from the changelog topic, not from the local file
        self._env = lmdb.open(
            str(self.path), map_size=map_size, max_dbs=len(tables) + 1, sync=False, metasync=False, readahead=False
        )
        self._tables: dict[str, Any] = {name: self._env.open_db(name.encode()) for name in tables}
        # one read transaction serves every lookup between two writes: opening one per lookup cost more than
        # the lookup itself (profile of the router's batch); any write ends it, so reads never see a stale snapshot
        self._reader: Any = None

    def _read_txn(self) -> Any:
        if self._reader is None:
            self._reader = self._env.begin()
        return self._reader

    def _end_read(self) -> None:
        if self._reader is not None:
            self._reader.abort()
            self._reader = None

    @property
    def tables(self) -> list[str]:
        return list(self._tables)

    def get_many(self, table: str, partition: int, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        prefix = partition_prefix(partition)
        found: dict[bytes, bytes] = {}
        with self._env.begin(db=self._tables[table]) as txn:
            for key in keys:
                value = txn.get(prefix + key)
                if value is not None:
                    found[key] = bytes(value)
        return found

    def get(self, table: str, partition: int, key: bytes) -> bytes | None:
        value = self._read_txn().get(partition_prefix(partition) + key, db=self._tables[table])
        return None if value is None else bytes(value)

    def write(self, writes: Iterable[tuple[str, int, bytes, bytes | None]]) -> None:
        """Apply (table, partition, key, value or None to delete) in one transaction."""
        self._end_read()
        with self._env.begin(write=True) as txn:
            for table, partition, key, value in writes:
                full = partition_prefix(partition) + key
                db = self._tables[table]
                if value is None:
                    txn.delete(full, db=db)
                else:
                    txn.put(full, value, db=db)

    def items(self, table: str, partition: int) -> Iterator[tuple[bytes, bytes]]:
        prefix = partition_prefix(partition)
        with self._env.begin(db=self._tables[table]) as txn:
            cursor = txn.cursor()
            if not cursor.set_range(prefix):
                return
            for key, value in cursor:
                if not key.startswith(prefix):
                    break
                yield bytes(key[len(prefix) :]), bytes(value)

    def drop_partition(self, partition: int) -> int:
        """Delete every key of ``partition`` in every table; return how many."""
        prefix = partition_prefix(partition)
        dropped = 0
        self._end_read()
        with self._env.begin(write=True) as txn:
            for db in self._tables.values():
                cursor = txn.cursor(db=db)
                if not cursor.set_range(prefix):
                    continue
                while cursor.key().startswith(prefix):
                    dropped += 1
                    if not cursor.delete():
                        break
        return dropped

    def count(self, table: str) -> int:
        with self._env.begin(db=self._tables[table]) as txn:
            return int(txn.stat(self._tables[table])["entries"])

    def close(self) -> None:
        self._end_read()
        self._env.close()
        if self._owned_tmp:
            shutil.rmtree(self.path, ignore_errors=True)
