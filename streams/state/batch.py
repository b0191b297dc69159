"""A batch's view of the state: reads fall through to the store, writes stay pending until the batch commits.

The processor applies ``pending`` only after every output of the batch was
acknowledged (then to the changelog, then to the local store), so a key is
never marked seen for an output that was not written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from streams.state.store import StateStore

SEEN: Final = "seen"
OBSERVATIONS: Final = "observations"
TABLES: Final = (SEEN, OBSERVATIONS)
# one changelog topic for all tables: its key starts with the table's tag
TAGS: Final = {SEEN: b"s", OBSERVATIONS: b"o"}
TABLE_OF_TAG: Final = {tag: table for table, tag in TAGS.items()}


class BatchState:
    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._pending: dict[tuple[str, int, bytes], bytes | None] = {}

    def get(self, table: str, partition: int, key: bytes) -> bytes | None:
        slot = (table, partition, key)
        if slot in self._pending:
            return self._pending[slot]
        return self._store.get(table, partition, key)

    def put(self, table: str, partition: int, key: bytes, value: bytes | None) -> None:
        self._pending[(table, partition, key)] = value

    def pending(self) -> Iterator[tuple[str, int, bytes, bytes | None]]:
        for (table, partition, key), value in self._pending.items():
            yield table, partition, key, value

    def __len__(self) -> int:
        return len(self._pending)
