"""Changelog of the router's state: one compacted topic, co-partitioned with the router's input.

Write path (per batch, after the batch's outputs were acknowledged): every
pending write is produced to partition *p* of the changelog for input
partition *p* (key = table tag + key, value = value, tombstone = delete) and
awaited; only then is it applied to the local store and the input offsets
committed.

Restore (on partition assignment, before the partition is processed): the
local copy of the partition is dropped and rebuilt from the changelog
partition, start to end, so a worker never trusts files another worker or an
earlier crash left behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer, TopicPartition

from streams.kafka.clients import make_consumer, send_batched
from streams.kafka.offsets import caught_up
from streams.settings import KafkaSettings
from streams.state.batch import TABLE_OF_TAG, TAGS, BatchState
from streams.state.store import StateStore


class ChangeloggedState:
    def __init__(self, store: StateStore, *, kafka: KafkaSettings, topic: str, producer: AIOKafkaProducer) -> None:
        self.store = store
        self._kafka = kafka
        self._topic = topic
        self._producer = producer

    def batch(self) -> BatchState:
        return BatchState(self.store)

    async def commit(self, batch: BatchState) -> None:
        """Write ``batch``'s pending writes to the changelog (acknowledged), then to the local store."""
        writes = list(batch.pending())
        if not writes:
            return
        futures = await send_batched(
            self._producer,
            ((self._topic, partition, TAGS[table] + key, value, ()) for table, partition, key, value in writes),
        )
        await asyncio.gather(*futures)
        self.store.write(writes)

    async def apply(self, writes: list[tuple[str, int, bytes, bytes | None]]) -> None:
        """Changelog then local store, for writes made outside a batch (e.g. retention deletes)."""
        batch = BatchState(self.store)
        for table, partition, key, value in writes:
            batch.put(table, partition, key, value)
        await self.commit(batch)

    async def restore(self, partitions: Sequence[int]) -> tuple[int, float]:
        """Rebuild ``partitions`` from the changelog; return (entries applied, seconds)."""
        started = time.monotonic()
        for partition in partitions:
            self.store.drop_partition(partition)
        if not partitions:
            return 0, 0.0
        consumer = make_consumer(self._kafka, group_id=None, max_poll_records=10_000)
        await consumer.start()
        applied = 0
        try:
            wanted = [TopicPartition(self._topic, p) for p in partitions]
            consumer.assign(wanted)
            await consumer.seek_to_beginning(*wanted)
            ends = await consumer.end_offsets(wanted)
            pending = {tp for tp in wanted if ends[tp] > 0}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=500)
                writes = []
                for tp, messages in batch.items():
                    for message in messages:
                        if message.key is None or not message.key:
                            continue
                        table = TABLE_OF_TAG.get(message.key[:1])
                        if table is not None:
                            writes.append((table, tp.partition, message.key[1:], message.value))
                self.store.write(writes)
                applied += len(writes)
                for tp in list(pending):
                    if await caught_up(consumer, tp, ends[tp]):
                        pending.discard(tp)
        finally:
            await consumer.stop()
        return applied, time.monotonic() - started
