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
from streams.kafka.read import Seek, read_to_end
from streams.pipeline import REPLAY_HEADER
from streams.settings import KafkaSettings


@dataclass(slots=True)
class ReplayReport:
    scanned: int = 0
    republished: Counter[str] = field(default_factory=Counter)  # by target topic
    skipped: int = 0


# a record to re-publish: (target topic, headers) — or None to skip it
Selection = Callable[[Any], tuple[str, list[tuple[str, bytes]]] | None]


async def _republish(
    kafka: KafkaSettings, source_topic: str, select: Selection, *, seek: Seek | None, dry_run: bool
) -> ReplayReport:
    """Read ``source_topic`` to its end and re-publish what ``select`` picks, acknowledged before returning."""
    report = ReplayReport()
    consumer = make_consumer(kafka, group_id=None)
    producer = make_producer(kafka)
    await consumer.start()
    await producer.start()
    try:
        sends = []
        for message in await read_to_end(consumer, source_topic, start=seek):
            report.scanned += 1
            picked = select(message)
            if picked is None:
                report.skipped += 1
                continue
            target, headers = picked
            report.republished[target] += 1
            if not dry_run:
                sends.append(await producer.send(target, message.value, key=message.key, headers=headers))
        await asyncio.gather(*sends)
    finally:
        await consumer.stop()
        await producer.stop()
    return report


async def replay_dead_letters(
    kafka: KafkaSettings,
    deadletter_topic: str,
    *,
    stage: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    """Re-publish dead letters (optionally only of one stage or reason) to the topic they were read from."""

    def select(message: Any) -> tuple[str, list[tuple[str, bytes]]] | None:
        context = read_context(message.headers)
        target = context.get("topic")
        if target is None or (stage and context.get("stage") != stage) or (reason and context.get("reason") != reason):
            return None
        headers = [(k, v) for k, v in message.headers if not k.startswith(HEADER_PREFIX) and k != REPLAY_HEADER]
        return target, [*headers, (REPLAY_HEADER, b"deadletter")]

    return await _republish(kafka, deadletter_topic, select, seek=None, dry_run=dry_run)


async def replay_range(
    kafka: KafkaSettings, topic: str, *, from_ms: int, to_ms: int, dry_run: bool = False
) -> ReplayReport:
    """Re-publish the records of ``topic`` whose Kafka timestamp is in [from_ms, to_ms] to the same topic."""

    async def from_time(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        offsets = await consumer.offsets_for_times({tp: from_ms for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            found = offsets.get(tp)
            consumer.seek(tp, found.offset if found is not None else ends[tp])

    def select(message: Any) -> tuple[str, list[tuple[str, bytes]]] | None:
        if not from_ms <= message.timestamp <= to_ms:
            return None
        headers = [(k, v) for k, v in message.headers if k != REPLAY_HEADER]
        return topic, [*headers, (REPLAY_HEADER, b"range")]

    return await _republish(kafka, topic, select, seek=from_time, dry_run=dry_run)
