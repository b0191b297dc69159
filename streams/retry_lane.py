"""The retry lane of a sink: events parked on ``<ns>.retry.<subscription>``, tried again with backoff, in key order.

Why a retry topic. A batch whose in-line attempts fail
(:class:`~streams.sinks.SinkRunner`, a few short ones) must neither block the
subscriber's other keys for long nor be lost. So it is *parked*: appended to
the subscriber's retry topic — same bytes, same key, same partition index as
on ``deliver.<subscription>``, the original headers plus ``tracebus.retry.*``
(:mod:`streams.parking`) — and the main lane commits past it once the broker
acknowledged. Later events of a parked key are parked behind it untried
(header ``tracebus.retry.held-behind``); other keys keep flowing.

This lane reads the retry topic in order, per partition: it waits until a
record's ``not-before``, tries each key's due events as one write (so one
failing key spares the others), releases what was delivered, re-parks a
failure at the end of the topic with ``attempt + 1`` and an exponentially
longer ``not-before`` (bounded), and dead-letters it (stage
``sink:<name>``, reason ``retries-exhausted``) once the attempts run out. The
retry-topic offsets are committed only after every re-park and dead letter of
a pass was acknowledged. Per-key order across re-parks is the parking lot's
rule (:func:`streams.parking.plan_pass`): an event whose key has an earlier
event parked and not in this pass is re-parked behind it, untried.

Partition ownership. The lane has no consumer-group membership of its own: it
*assigns itself* the retry partitions whose delivery partitions the main lane
owns, and commits under ``<ns>-sink-<subscription>-retry``. With a separate
group the two assignments could differ between workers, and a worker's main
lane would decide "parked or not" from a lot that another worker's retry lane
releases. On every assignment of the main lane, and before the main lane
processes anything, the lot of the newly owned partitions is rebuilt by
reading the retry topic from the committed offset to the high watermark
(:func:`streams.kafka.offsets.caught_up`).

Costs, deliberately accepted: a partition of the retry topic is a queue, so
an event parked behind a long backoff delays younger parked events of other
keys on that partition (by at most ``webhook_retry_backoff_max_s``); events of
other keys that shared a failed main-lane batch are parked with it and are
delivered on the lane's first pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from connectors.base import Sink, SinkRecord
from connectors.errors import SinkRejectedError
from schemas.codec import Deserializer
from streams.deadletter import DeadLetter, DeadLetterPublisher
from streams.kafka.clients import make_consumer
from streams.kafka.offsets import caught_up
from streams.metrics import PARKED_EVENTS, PARKED_KEYS
from streams.parking import (
    Outcome,
    Parked,
    ParkInfo,
    ParkingLot,
    RetryPolicy,
    Verdict,
    key_groups,
    plan_pass,
    read_park,
    settle,
    strip_headers,
)
from streams.settings import KafkaSettings

logger = logging.getLogger(__name__)
Write = Callable[[Sink, Sequence[SinkRecord]], Awaitable[None]]
Queued = tuple[ConsumerRecord, ParkInfo | None]  # a fetched retry-topic record and its park (None: unreadable)
_QUEUED_MAX = 2_000  # records fetched ahead per partition before the lane pauses fetching it


@dataclass(frozen=True, slots=True)
class RetryTopic:
    """A sink's retry topic as the bus configures it.

    ``sink`` is a second instance of the runner's sink, used by this lane
    only: the two lanes write concurrently and a :class:`~connectors.base.Sink`
    is never written concurrently.
    """

    topic: str
    group_id: str
    producer: AIOKafkaProducer
    sink: Sink
    policy: RetryPolicy


def now_ms() -> int:
    return int(time.time() * 1000)


class RetryLane:
    """Lifecycle: ``start()``; then ``halt()`` and ``resume(owned, rebuild=...)`` around each
    rebalance of the main lane; ``stop()`` once. All calls come from the runner, under its lock."""

    def __init__(
        self,
        config: RetryTopic,
        *,
        kafka: KafkaSettings,
        name: str,
        origin_topic: str,
        lot: ParkingLot,
        deserializer: Deserializer,
        dead_letters: DeadLetterPublisher,
        write: Write,
        max_batch: int,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config = config
        self._kafka = kafka
        self._name = name
        self._origin_topic = origin_topic
        self._lot = lot
        self._deserializer = deserializer
        self._dead_letters = dead_letters
        self._write = write
        self._max_batch = max_batch
        self._paused = paused  # the runner paused: no attempts from the retry topic either
        self._hold_pause_ms = int(min(config.policy.initial_s, 1.0) * 1000)
        self._consumer: AIOKafkaConsumer | None = None
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.config.sink.start()
        self._consumer = make_consumer(self._kafka, group_id=self.config.group_id, max_poll_records=self._max_batch)
        await self._consumer.start()

    async def stop(self) -> None:
        await self.halt()
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        await self.config.sink.stop()

    async def halt(self) -> None:
        """Stop working (a pass in flight is abandoned uncommitted: it is taken again, at least once)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                pass
            except Exception:  # the worker logs its own failures; a dead one must not fail the rebalance
                logger.exception("sink %s retry lane ended with an error", self._name)

    async def resume(self, owned: set[int], *, rebuild: set[int]) -> None:
        """Rebuild the lot of ``rebuild`` from the topic, then work on ``owned``; retries until Kafka answers."""
        while True:
            try:
                parked = await self._rebuild(rebuild)
                break
            except Exception:
                logger.exception("sink %s: reading the retry topic failed; trying again", self._name)
                await asyncio.sleep(1.0)
        if rebuild:
            logger.info(
                "sink %s retry lane: %d events of %d keys parked on partitions %s",
                self._name,
                parked,
                self._lot.parked_keys(),
                sorted(rebuild),
            )
        PARKED_KEYS.labels(self._name).set(self._lot.parked_keys())
        if owned:
            self._worker = asyncio.ensure_future(self._work([self._tp(p) for p in sorted(owned)]))

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.config.topic, partition)

    async def _seek_committed(self, tps: Sequence[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        for tp in tps:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)

    async def _rebuild(self, partitions: set[int]) -> int:
        """Add to the lot every park from the committed offset to the end of ``partitions``; return how many."""
        consumer = self._consumer
        assert consumer is not None
        tps = [self._tp(p) for p in sorted(partitions)]
        if not tps:
            return 0
        consumer.assign(tps)
        await self._seek_committed(tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if not await caught_up(consumer, tp, ends[tp])}
        parked = 0
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=300)
            for tp, messages in batch.items():
                for message in messages:
                    info = read_park(message.headers)
                    if info is not None:
                        self._lot.park(tp.partition, message.key, info.origin)
                        parked += 1
            pending = {tp for tp in pending if not await caught_up(consumer, tp, ends[tp])}
        return parked

    async def _work(self, tps: list[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        consumer.assign(tps)
        while True:
            try:
                await self._seek_committed(tps)
                break
            except Exception:
                logger.exception("sink %s retry lane: reading committed offsets failed", self._name)
                await asyncio.sleep(1.0)
        queues: dict[TopicPartition, deque[Queued]] = {tp: deque() for tp in tps}
        while True:
            paused = self._paused()
            heads = [] if paused else [q[0][1] for q in queues.values() if q]
            wait_ms = min([200, *((h.not_before_ms if h else 0) - now_ms() for h in heads)])
            try:
                fetched = await consumer.getmany(timeout_ms=max(0, wait_ms), max_records=self._max_batch * 4)
            except Exception:  # a broker hiccup must not end the lane
                logger.exception("sink %s retry lane: fetch failed", self._name)
                await asyncio.sleep(1.0)
                continue
            for tp, messages in fetched.items():
                if tp in queues:
                    queues[tp].extend((m, read_park(m.headers)) for m in messages)
            for tp, queue in queues.items():
                due = [] if paused else self._due(queue)
                if due:
                    try:
                        await self._pass(consumer, tp, due)
                    except Exception:
                        logger.exception("sink %s retry pass failed; taking it again", self._name)
                        consumer.seek(tp, due[0][0].offset)
                        queue.clear()  # what was fetched behind it is fetched again from the seek
                        await asyncio.sleep(1.0)
                        continue
                    for _ in due:
                        queue.popleft()
                if len(queue) >= _QUEUED_MAX:
                    consumer.pause(tp)
                elif tp in consumer.paused() and len(queue) < _QUEUED_MAX // 2:
                    consumer.resume(tp)

    def _due(self, queue: deque[Queued]) -> list[Queued]:
        """The records at the head of ``queue`` whose time has come, at most one batch."""
        now = now_ms()
        due: list[Queued] = []
        for message, info in queue:
            if len(due) >= self._max_batch or (info is not None and info.not_before_ms > now):
                break
            due.append((message, info))
        return due

    async def _pass(self, consumer: AIOKafkaConsumer, tp: TopicPartition, due: list[Queued]) -> None:
        """Try, re-park, dead-letter, release, commit: one pass over due records of one partition."""
        letters = [self._unreadable(m) for m, info in due if info is None]
        records = [
            Parked(m.partition, m.offset, m.key, m.value, tuple(strip_headers(m.headers)), info)
            for m, info in due
            if info is not None
        ]
        verdicts = plan_pass(self._lot, records)
        outcomes = {key: await self._try(group) for key, group in key_groups(records, verdicts).items()}
        done = settle(records, verdicts, outcomes, self.config.policy, now_ms(), self._hold_pause_ms)
        producer = self.config.producer
        sends = [
            await producer.send(
                self.config.topic, r.value, key=r.key, partition=tp.partition, headers=info.headers(r.headers)
            )
            for r, info in done.repark
        ]
        await asyncio.gather(*sends)
        letters.extend(
            DeadLetter(
                key=x.record.key,
                value=x.record.value,
                stage=f"sink:{self._name}",
                reason=x.reason,
                message=x.message,
                error_class=x.error_class,
                topic=self._origin_topic,
                partition=x.record.partition,
                offset=x.record.info.origin,
                connector=self._name,
                original_headers=x.record.headers,
            )
            for x in done.letters
        )
        await self._dead_letters.publish(letters)
        for record in done.release:
            self._lot.release(record.partition, record.key, record.info.origin)
        for _, info in done.repark:
            PARKED_EVENTS.labels(self._name, "held-behind" if info.held_behind else "retry-failed").inc()
        PARKED_KEYS.labels(self._name).set(self._lot.parked_keys())
        await consumer.commit({tp: due[-1][0].offset + 1})
        skipped = sum(v is Verdict.SKIP for v in verdicts)
        if skipped:
            logger.info("sink %s retry lane skipped %d repeats of finished events", self._name, skipped)

    async def _try(self, group: list[Parked]) -> Outcome:
        """One write of one key's due events, in order: all delivered, or none."""
        try:
            records = [
                SinkRecord(
                    topic=self._origin_topic,
                    partition=r.partition,
                    offset=r.info.origin,
                    key=r.key,
                    value=r.value,
                    headers=r.headers,
                    record=await self._deserializer.decode_any(r.value),
                )
                for r in group
            ]
            await self._write(self.config.sink, records)
        except SinkRejectedError as exc:
            return Outcome("rejected", exc.reason, str(exc), type(exc).__name__)
        except Exception as exc:  # retriable by contract, whatever its class
            return Outcome("failed", "", f"{type(exc).__name__}: {exc}", type(exc).__name__)
        return Outcome("ok")

    def _unreadable(self, message: ConsumerRecord) -> DeadLetter:
        return DeadLetter(
            key=message.key,
            value=message.value,
            stage=f"sink:{self._name}",
            reason="unreadable-park",
            message="a retry-topic record without a valid tracebus.retry.origin-offset header",
            error_class="ValueError",
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            connector=self._name,
            original_headers=tuple(message.headers),
        )
