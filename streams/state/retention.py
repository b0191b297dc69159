"""Retention of the router's state: identities and observations older than the window are forgotten.

The dedup window (default 30 days) bounds both the disk and the changelog: a
sweep deletes every ``seen`` entry first seen before the cutoff and every
observation opened before it, and writes a tombstone for each to the
changelog so that compaction drops them there too. A repeat of an event older
than the window is then routed again — the window is the promise, and it is
configurable (``TRACEBUS_DEDUPE_RETENTION_S``).
"""

from __future__ import annotations

import struct
from typing import Final

import orjson

from streams.state.batch import OBSERVATIONS, SEEN
from streams.state.store import StateStore

_TIME: Final = struct.Struct(">q")


def expired(store: StateStore, partition: int, cutoff_ms: int) -> list[tuple[str, int, bytes, bytes | None]]:
    """Deletes (as writes with value None) for every entry of ``partition`` older than ``cutoff_ms``."""
    writes: list[tuple[str, int, bytes, bytes | None]] = []
    for key, value in store.items(SEEN, partition):
        if _TIME.unpack_from(value)[0] < cutoff_ms:
            writes.append((SEEN, partition, key, None))
    for key, value in store.items(OBSERVATIONS, partition):
        observation = orjson.loads(value)
        if int(observation.get("s", observation["t"])) < cutoff_ms:
            writes.append((OBSERVATIONS, partition, key, None))
    return writes
