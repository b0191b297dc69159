"""Replay: re-publish dead-lettered records after a fix, or reprocess a time range of canonical events.

Neither duplicates what subscribers already have: replayed records carry the
``tracebus-replay`` header, which lets a repeat past exact dedup but not past
the once-per-subscriber check, so only subscriptions that lack an observation
receive it. A dead letter of a sink (stage ``sink:<name>``) goes back to that
subscription's delivery topic and is delivered again to that subscriber only,
with the same identities in its idempotency headers.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.deadletter import HEADER_PREFIX, read_context
from streams.kafka.clients import make_consumer, make_producer
from streams.kafka.offsets import caught_up
from streams.pipeline import REPLAY_HEADER
from streams.settings import KafkaSettings


@dataclass(slots=True)
class ReplayReport:
    scanned: int = 0
    republished: Counter[str] = field(default_factory=Counter)  # by target topic
    skipped: int = 0


async def _read_all(
    consumer: AIOKafkaConsumer, topic: str, start: Callable[[list[TopicPartition]], Any] | None = None
) -> list[Any]:
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    if not partitions:
        await consumer.topics()  # refresh metadata once
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    if start is None:
        await consumer.seek_to_beginning(*partitions)
    else:
        await start(partitions)
    ends = await consumer.end_offsets(partitions)
    pending = {tp for tp in partitions if not await caught_up(consumer, tp, ends[tp])}
    messages: list[Any] = []
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=500)
        for records in batch.values():
            messages.extend(records)
        for tp in list(pending):
            if await caught_up(consumer, tp, ends[tp]):
                pending.discard(tp)
    return messages


async def replay_dead_letters(
    kafka: KafkaSettings,
    deadletter_topic: str,
    *,
    stage: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    """Re-publish dead letters (optionally only of one stage or reason) to the topic they were read from."""
    report = ReplayReport()
    consumer = make_consumer(kafka, group_id=None)
    producer = make_producer(kafka)
    await consumer.start()
    await producer.start()
    try:
        sends = []
        for message in await _read_all(consumer, deadletter_topic):
            report.scanned += 1
            context = read_context(message.headers)
            target = context.get("topic")
            if (
                target is None
                or (stage and context.get("stage") != stage)
                or (reason and context.get("reason") != reason)
            ):
                report.skipped += 1
                continue
            headers = [(k, v) for k, v in message.headers if not k.startswith(HEADER_PREFIX) and k != REPLAY_HEADER]
            headers.append((REPLAY_HEADER, b"deadletter"))
            report.republished[target] += 1
            if not dry_run:
                sends.append(await producer.send(target, message.value, key=message.key, headers=headers))
        await asyncio.gather(*sends)
    finally:
        await consumer.stop()
        await producer.stop()
    return report


async def replay_range(
    kafka: KafkaSettings, topic: str, *, from_ms: int, to_ms: int, dry_run: bool = False
) -> ReplayReport:
    """Re-publish the records of ``topic`` whose Kafka timestamp is in [from_ms, to_ms] to the same topic."""
    report = ReplayReport()
    consumer = make_consumer(kafka, group_id=None)
    producer = make_producer(kafka)
    await consumer.start()
    await producer.start()

    async def from_time(partitions: list[TopicPartition]) -> None:
        offsets = await consumer.offsets_for_times({tp: from_ms for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            found = offsets.get(tp)
            consumer.seek(tp, found.offset if found is not None else ends[tp])

    try:
        sends = []
        for message in await _read_all(consumer, topic, from_time):
            report.scanned += 1
            if not from_ms <= message.timestamp <= to_ms:
                report.skipped += 1
                continue
            headers = [(k, v) for k, v in message.headers if k != REPLAY_HEADER] + [(REPLAY_HEADER, b"range")]
            report.republished[topic] += 1
            if not dry_run:
                sends.append(await producer.send(topic, message.value, key=message.key, headers=headers))
        await asyncio.gather(*sends)
    finally:
        await consumer.stop()
        await producer.stop()
    return report
