"""State retention: entries older than the window are deleted locally and tombstoned on the changelog."""

from __future__ import annotations

import struct

import orjson

from streams.settings import KafkaSettings
from streams.state.batch import OBSERVATIONS, SEEN, TABLES
from streams.state.changelog import ChangeloggedState
from streams.state.retention import expired
from streams.state.store import StateStore
from streams.testing import RecordingProducer

DAY = 86_400_000


def seen(at: int) -> bytes:
    return struct.pack(">q", at) + b"ni:///sha-256;x"


def observation(opened: int) -> bytes:
    return orjson.dumps({"id": "x", "t": 0, "s": opened, "provenance": [], "delivered": [], "corrections": {}})


async def test_old_entries_are_tombstoned_and_removed_recent_ones_stay() -> None:
    store = StateStore(None, TABLES)
    try:
        store.write(
            [
                (SEEN, 0, b"old", seen(1 * DAY)),
                (SEEN, 0, b"new", seen(40 * DAY)),
                (SEEN, 1, b"other-partition", seen(1 * DAY)),
                (OBSERVATIONS, 0, b"old-obs", observation(2 * DAY)),
                (OBSERVATIONS, 0, b"new-obs", observation(39 * DAY)),
            ]
        )
        writes = expired(store, 0, cutoff_ms=41 * DAY - 30 * DAY)
        assert sorted((table, key) for table, _, key, _ in writes) == [(OBSERVATIONS, b"old-obs"), (SEEN, b"old")]
        assert all(value is None for *_, value in writes)
        producer = RecordingProducer()
        state = ChangeloggedState(
            store,
            kafka=KafkaSettings(bootstrap_servers="unused:1"),
            topic="t.state",
            producer=producer,
        )
        await state.apply(writes)
        tombstones = sorted((r.key, r.partition, r.value) for r in producer.sent)
        assert tombstones == [(b"o" + b"old-obs", 0, None), (b"s" + b"old", 0, None)]
        assert store.get(SEEN, 0, b"old") is None
        assert store.get(SEEN, 0, b"new") is not None
        assert store.get(SEEN, 1, b"other-partition") is not None  # only the swept partition
        assert store.get(OBSERVATIONS, 0, b"new-obs") is not None
    finally:
        store.close()
