"""Read a topic to its true end: replay, the reconciliation report, conformance kits and tests."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from streams.kafka.clients import make_consumer
from streams.kafka.offsets import caught_up
from streams.settings import KafkaSettings

Seek = Callable[[AIOKafkaConsumer, list[TopicPartition]], Awaitable[None]]


async def read_to_end(
    consumer: AIOKafkaConsumer, topic: str, *, start: Seek | None = None, timeout_s: float | None = None
) -> list[ConsumerRecord]:
    """Every record of ``topic`` from ``start`` (default: the beginning) to the high watermark, in fetch order.

    ``consumer`` is started and has no group. The end is the high watermark, not ListOffsets alone (the
    embedded broker's ListOffsets end is short of the true end: :func:`streams.kafka.offsets.caught_up`).
    Raises :class:`TimeoutError` rather than return part of the topic.
    """
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer.topics()  # refresh metadata once
        partitions = consumer.partitions_for_topic(topic)
    tps = [TopicPartition(topic, p) for p in sorted(partitions or ())]
    if not tps:
        return []
    consumer.assign(tps)
    if start is None:
        await consumer.seek_to_beginning(*tps)
    else:
        await start(consumer, tps)
    ends = await consumer.end_offsets(tps)
    messages: list[ConsumerRecord] = []
    pending = {tp for tp in tps if not await caught_up(consumer, tp, ends[tp])}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while pending:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{topic}: not read to its end within {timeout_s}s")
        batch = await consumer.getmany(*pending, timeout_ms=300)
        for records in batch.values():
            messages.extend(records)
        for tp in list(pending):
            if await caught_up(consumer, tp, ends[tp]):
                pending.discard(tp)
    return messages


async def read_topic(kafka: KafkaSettings, topic: str, *, timeout_s: float = 60.0) -> list[ConsumerRecord]:
    """Every record of ``topic``, ordered by partition and offset (a consumer of its own, no group)."""
    consumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    try:
        messages = await read_to_end(consumer, topic, timeout_s=timeout_s)
    finally:
        await consumer.stop()
    messages.sort(key=lambda m: (m.partition, m.offset))
    return messages
