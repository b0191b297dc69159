"""The router's state survives a worker: a fresh store rebuilt from the changelog has every entry."""

from __future__ import annotations

import struct

import pytest

from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_producer
from streams.kafka.topics import ConcreteTopic, apply_topics
from streams.state.batch import OBSERVATIONS, SEEN, TABLES
from streams.state.changelog import ChangeloggedState
from streams.state.store import StateStore
from tests.integration.conftest import TEST_KAFKA, unique_namespace

pytestmark = pytest.mark.integration


async def test_restore_reads_the_whole_changelog_not_just_what_list_offsets_says(broker: EmbeddedBroker) -> None:
    # 10,040 entries: the restore reads 10,000 records per fetch, and the broker's ListOffsets answer can
    # point inside the last record batch; the restore must still read the batch's tail
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    topic = f"{unique_namespace()}.state.router"
    await apply_topics(kafka, [ConcreteTopic(topic, 2, {"cleanup.policy": "compact"})])
    producer = make_producer(kafka)
    await producer.start()
    writer = StateStore(None, TABLES)
    reader = StateStore(None, TABLES)
    try:
        written = ChangeloggedState(writer, kafka=kafka, topic=topic, producer=producer)
        stamp = struct.pack(">q", 1)
        entries: list[tuple[str, int, bytes, bytes | None]] = [
            (SEEN, 0, f"k{i}".encode(), stamp) for i in range(10_040)
        ]
        entries += [(OBSERVATIONS, 1, f"o{i}".encode(), b"{}") for i in range(37)]
        for start in range(0, len(entries), 1_007):  # record batches that do not line up with the fetch size
            await written.apply(entries[start : start + 1_007])
            if start == 0:
                await written.apply([(SEEN, 0, b"k7", None)])  # a tombstone: deleted again on restore
        restored = ChangeloggedState(reader, kafka=kafka, topic=topic, producer=producer)
        applied, _ = await restored.restore([0, 1])
        assert applied == len(entries) + 1
        assert reader.count(SEEN) == 10_039
        assert reader.count(OBSERVATIONS) == 37
        assert reader.get(SEEN, 0, b"k10039") == stamp
        assert reader.get(SEEN, 0, b"k7") is None
    finally:
        writer.close()
        reader.close()
        await producer.stop()
