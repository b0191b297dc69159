"""The sink runner: one consumer per subscription sink, commits only after the write is durable.

Each subscription with a sink gets its own consumer group, so a slow or
failing subscriber holds back only itself. Per partition of a batch (the
*main lane*):

1. decode each record (failure → dead letter, stage ``decode``);
2. with a retry topic (:mod:`streams.retry_lane`): a record whose key
   (trace key) has an event parked is parked too, untried, behind it;
3. write the others with a few in-line attempts and exponential backoff;
   the target refusing them (:class:`~connectors.errors.SinkRejectedError`)
   dead-letters them at once (stage ``sink:<name>``); attempts running out
   parks them all, in order, on the retry topic — or, without one,
   dead-letters them (reason ``retries-exhausted``);
4. once the parks and dead letters are acknowledged, commit the partition.

Per-key order holds for each subscriber: an event is written only when no
earlier event of its key waits on the retry topic, and the retry lane
delivers a key's events in their delivery-topic order. The parking lot
(:mod:`streams.parking`) is rebuilt from the retry topic whenever this runner
is assigned partitions, before it processes any of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from connectors.base import Sink, SinkRecord
from connectors.errors import SinkRejectedError
from schemas.codec import Deserializer
from streams.batch_loop import Batch, BatchLoopService
from streams.deadletter import DeadLetter, DeadLetterPublisher
from streams.failpoints import reach
from streams.metrics import DELIVERED_EVENTS, DELIVERIES, DELIVERY_SECONDS, PARKED_EVENTS, PARKED_KEYS
from streams.parking import HELD_BEHIND, Outcome, ParkInfo, ParkingLot, RetryPolicy, hold_behind
from streams.retry_lane import RetryLane, RetryTopic, now_ms
from streams.settings import KafkaSettings

__all__ = ["RetryPolicy", "RetryTopic", "SinkRunner"]
logger = logging.getLogger(__name__)


class _Ownership(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: SinkRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._runner.revoked({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self._runner.assigned({tp.partition for tp in assigned})


class SinkRunner(BatchLoopService):
    """One subscription's sink behind its own consumer group (see :class:`~streams.batch_loop.BatchLoopService`).

    ``retry`` governs the in-line attempts. With ``retry_topic``, a batch whose
    in-line attempts fail is parked there and retried by a :class:`RetryLane`
    in this runner; without it, the batch is dead-lettered.
    """

    name_for_logs = "sink"

    def __init__(
        self,
        *,
        sink: Sink,
        kafka: KafkaSettings,
        group_id: str,
        topic: str | Sequence[str],
        deserializer: Deserializer,
        dead_letters: DeadLetterPublisher,
        retry: RetryPolicy,
        max_batch: int,
        retry_topic: RetryTopic | None = None,
        **kwargs: Any,
    ) -> None:
        topics = [topic] if isinstance(topic, str) else list(topic)
        if retry_topic is not None and len(topics) != 1:
            raise ValueError("a sink with a retry topic reads exactly one topic (its subscription's)")
        super().__init__(kafka=kafka, group_id=group_id, topics=topics, max_records=max_batch, **kwargs)
        self.sink = sink
        self._deserializer = deserializer
        self._dead_letters = dead_letters
        self._retry = retry
        self._lock = asyncio.Lock()  # a batch in flight, or a rebalance: never both
        self._owned: set[int] = set()
        self.lot = ParkingLot()
        self.lane: RetryLane | None = None
        if retry_topic is not None:
            self.lane = RetryLane(
                retry_topic,
                kafka=kafka,
                name=sink.name,
                origin_topic=topics[0],
                lot=self.lot,
                deserializer=deserializer,
                dead_letters=dead_letters,
                write=self._write_once,
                max_batch=max_batch,
                paused=lambda: self.paused,
            )
        self.assigned_once = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self.assigned_once.is_set()

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _Ownership(self)

    async def on_start(self) -> None:
        await self.sink.start()
        if self.lane is not None:
            await self.lane.start()
        await super().on_start()

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        if self.lane is not None:
            await self.lane.stop()
        await self.sink.stop()

    async def revoked(self, partitions: set[int]) -> None:
        async with self._lock:  # waits for the batch in flight to commit
            self._owned -= partitions
            if self.lane is not None:
                await self.lane.halt()
                self.lot.forget(partitions)
                await self.lane.resume(self._owned, rebuild=set())

    async def assigned(self, partitions: set[int]) -> None:
        """Rebuild the parking lot of new partitions before the main lane processes any of their records."""
        async with self._lock:
            new, gone = partitions - self._owned, self._owned - partitions
            self._owned = set(partitions)
            if self.lane is not None:
                await self.lane.halt()
                self.lot.forget(gone)
                await self.lane.resume(self._owned, rebuild=new)
        self.assigned_once.set()

    async def process(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        """Per partition: write, park or dead-letter durably, then commit that partition."""
        async with self._lock:
            for tp, messages in batch.items():
                if tp.partition not in self._owned:
                    continue  # revoked while fetched: another worker owns it now
                await self._deliver(tp.partition, messages)
                await consumer.commit({tp: messages[-1].offset + 1})

    async def _deliver(self, partition: int, messages: list[ConsumerRecord]) -> None:
        records: list[SinkRecord] = []
        letters: list[DeadLetter] = []
        for message in messages:
            try:
                record = await self._deserializer.decode_any(message.value)
            except Exception as exc:  # a record we cannot decode must not block or vanish
                letters.append(self._letter(message, "decode", "undecodable", str(exc), type(exc).__name__))
                continue
            records.append(
                SinkRecord(
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    key=message.key,
                    value=message.value,
                    headers=tuple(message.headers),
                    record=record,
                )
            )
        lane = self.lane
        items = [(r.key, r.offset) for r in records]
        held = hold_behind(self.lot, partition, items) if lane is not None else [False] * len(records)
        parks = [
            (r, ParkInfo(r.offset, 0, 0, HELD_BEHIND, held_behind=True))
            for r, h in zip(records, held, strict=True)
            if h
        ]
        to_write = [r for r, h in zip(records, held, strict=True) if not h]
        outcome = await self._write_with_retries(to_write) if to_write else Outcome("ok")
        if outcome.kind == "failed" and lane is not None:
            not_before = now_ms() + int(lane.config.policy.pause(1) * 1000)
            for r in to_write:
                self.lot.park(partition, r.key, r.offset)  # before the produce: see ParkingLot
                parks.append((r, ParkInfo(r.offset, 0, not_before, outcome.message)))
        elif outcome.kind != "ok":
            by_offset = {m.offset: m for m in messages}
            stage = f"sink:{self.sink.name}"
            letters.extend(
                self._letter(by_offset[r.offset], stage, outcome.reason, outcome.message, outcome.error_class)
                for r in to_write
            )
        if parks:
            assert lane is not None
            await self._park(lane, partition, sorted(parks, key=lambda p: p[0].offset))
        await self._dead_letters.publish(letters)

    async def _park(self, lane: RetryLane, partition: int, parks: list[tuple[SinkRecord, ParkInfo]]) -> None:
        """Append to the retry topic, same partition index, and wait for the broker's acknowledgement."""
        producer, topic = lane.config.producer, lane.config.topic
        sends = [
            await producer.send(topic, r.value, key=r.key, partition=partition, headers=info.headers(r.headers))
            for r, info in parks
        ]
        await asyncio.gather(*sends)
        for _, info in parks:
            PARKED_EVENTS.labels(self.sink.name, HELD_BEHIND if info.held_behind else "retriable").inc()
        PARKED_KEYS.labels(self.sink.name).set(self.lot.parked_keys())

    async def _write_once(self, sink: Sink, records: Sequence[SinkRecord]) -> None:
        """One write, counted; the failpoint ``sink.during-delivery`` sits after it returned."""
        name = self.sink.name
        started = time.perf_counter()
        try:
            await sink.write(records)
            reach("sink.during-delivery")
        except SinkRejectedError:
            DELIVERIES.labels(name, "rejected").inc()
            raise
        except Exception:
            DELIVERIES.labels(name, "retry").inc()
            raise
        finally:
            DELIVERY_SECONDS.labels(name).observe(time.perf_counter() - started)
        DELIVERIES.labels(name, "ok").inc()
        DELIVERED_EVENTS.labels(name).inc(len(records))

    async def _write_with_retries(self, records: list[SinkRecord]) -> Outcome:
        """The in-line attempts: ``ok``, ``rejected`` (final), or ``failed`` once the attempts ran out."""
        name = self.sink.name
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._write_once(self.sink, records)
            except SinkRejectedError as exc:
                logger.warning("sink %s rejected %d records: %s", name, len(records), exc)
                return Outcome("rejected", exc.reason, str(exc), type(exc).__name__)
            except Exception as exc:  # retriable by contract, whatever its class
                if self.should_stop:
                    raise  # shutting down: leave the offsets uncommitted, redeliver after restart
                if attempt >= self._retry.max_attempts:
                    logger.warning(
                        "sink %s: %d records failed %d attempts in line: %s", name, len(records), attempt, exc
                    )
                    return Outcome("failed", "retries-exhausted", f"{type(exc).__name__}: {exc}", type(exc).__name__)
                await asyncio.sleep(self._retry.pause(attempt))
                continue
            return Outcome("ok")

    def _letter(self, message: ConsumerRecord, stage: str, reason: str, text: str, error_class: str) -> DeadLetter:
        return DeadLetter(
            key=message.key,
            value=message.value,
            stage=stage,
            reason=reason,
            message=text,
            error_class=error_class,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            connector=self.sink.name,
            original_headers=tuple(message.headers),
        )
