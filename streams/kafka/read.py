"""Read a topic to its true end (reports, conformance kits and tests), and canonical records for tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from streams.kafka.clients import make_consumer
from streams.kafka.offsets import caught_up
from streams.settings import KafkaSettings


async def read_topic(kafka: KafkaSettings, topic: str, *, timeout_s: float = 20.0) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the beginning to the high watermark (the embedded broker's
    ListOffsets end is short of the true end: :func:`streams.kafka.offsets.caught_up`)."""
    consumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions or ())]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        messages: list[ConsumerRecord] = []
        pending = {tp for tp in tps if not await caught_up(consumer, tp, ends[tp])}
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(*pending, timeout_ms=300)
            for records in batch.values():
                messages.extend(records)
            for tp in list(pending):
                if await caught_up(consumer, tp, ends[tp]):
                    pending.discard(tp)
        messages.sort(key=lambda m: (m.partition, m.offset))
        return messages
    finally:
        await consumer.stop()


def canonical_records(count: int, *, start: int = 0, reporter: str = "conformance") -> list[dict[str, Any]]:
    """``count`` valid canonical ``trace_event`` records with distinct identities and trace keys."""
    from streams.testing import movement_record

    return [
        movement_record(
            event_time=f"2026-11-20T{6 + (n % 12):02d}:{n % 60:02d}:00+08:00",
            trace_code=f"CONF{n:06d}",
            reporter=reporter,
        )
        for n in range(start, start + count)
    ]


async def settle(seconds: float) -> None:
    """Give the broker's fetch hop time (~0.3–0.5 s on the embedded broker) before reading back."""
    await asyncio.sleep(seconds)
