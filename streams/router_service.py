"""The router: the batched hot path from the canonical topic to subscription topics.

Runs as a mode service inside the faust worker (see :mod:`streams.app`), with
its own aiokafka consumer: faust's per-event stream path costs several times
the work itself (``../shared/reference/performance.md``), so this path works in
batches — decode, state, sends, commits.

Per consumed batch, in this order:

1. decode each record (failure → dead letter, stage ``decode``);
2. ``dedupe``: an identity already routed from this partition, or earlier in
   the batch, is dropped as a duplicate (counted);
3. ``route``: send the original bytes to every matching subscription topic
   (no match → dropped as ``no-subscriber``, counted);
4. await every send and dead letter (acks=all);
5. write the new identities to the changelog partition of the input partition
   and await it — a key is marked seen only after its outputs are acknowledged;
6. commit the batch's offsets, then update the in-memory state.

A crash between 4 and 5 re-routes the batch after restart (redelivery, with
the same identity in the header); between 5 and 6 the changelog already knows
the identities, so nothing is sent twice. If a send fails, the batch is
retried from its first offset after a pause; nothing is committed past it.

State is partition-local (the changelog is co-partitioned with the input) and
restored from the changelog before a newly assigned partition is processed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from mode import Service

from schemas.codec import Deserializer
from schemas.errors import WireFormatError
from streams.deadletter import DeadLetter, DeadLetterPublisher
from streams.kafka.clients import make_consumer
from streams.metrics import BATCH_SECONDS, DROPPED_EVENTS, ROUTED_EVENTS, STEP_OUTCOMES
from streams.settings import KafkaSettings
from streams.steps.route import Router

logger = logging.getLogger(__name__)
EVENT_ID_HEADER = "tracebus-event-id"


class _RestoreOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: RouterService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._service.forget_partitions([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self._service.restore_partitions([tp.partition for tp in assigned])


class RouterService(Service):
    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        group_id: str,
        input_topic: str,
        changelog_topic: str,
        subscription_topics: Mapping[str, str],
        router: Router,
        producer: AIOKafkaProducer,
        deserializer: Deserializer,
        dead_letters: DeadLetterPublisher,
        retry_pause_s: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._kafka = kafka
        self._group_id = group_id
        self._input_topic = input_topic
        self._changelog_topic = changelog_topic
        self._subscription_topics = dict(subscription_topics)
        self._router = router
        self._producer = producer
        self._deserializer = deserializer
        self._dead_letters = dead_letters
        self._retry_pause_s = retry_pause_s
        self._seen: dict[int, set[str]] = {}
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self.assigned_once = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self.assigned_once.is_set()

    async def on_start(self) -> None:
        self._consumer = make_consumer(self._kafka, group_id=self._group_id)
        self._consumer.subscribe([self._input_topic], listener=_RestoreOnAssign(self))
        await self._consumer.start()

    async def on_shutdown(self) -> None:
        # after mode cancelled the consume task, so no getmany runs on a stopped consumer
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def forget_partitions(self, partitions: Sequence[int]) -> None:
        async with self._lock:  # waits for the batch in flight to commit
            for partition in partitions:
                self._seen.pop(partition, None)

    async def restore_partitions(self, partitions: Sequence[int]) -> None:
        async with self._lock:
            started = time.monotonic()
            restored = await self._read_changelog(partitions)
            for partition in partitions:
                self._seen[partition] = restored.get(partition, set())
            logger.info(
                "router restored %d identities for partitions %s in %.2fs",
                sum(len(s) for s in restored.values()),
                sorted(partitions),
                time.monotonic() - started,
            )
        self.assigned_once.set()

    async def _read_changelog(self, partitions: Sequence[int]) -> dict[int, set[str]]:
        if not partitions:
            return {}
        consumer = make_consumer(self._kafka, group_id=None)
        await consumer.start()
        try:
            wanted = [TopicPartition(self._changelog_topic, p) for p in partitions]
            consumer.assign(wanted)
            await consumer.seek_to_beginning(*wanted)
            ends = await consumer.end_offsets(wanted)
            restored: dict[int, set[str]] = {p: set() for p in partitions}
            pending = {tp for tp in wanted if ends[tp] > 0}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=500)
                for tp, messages in batch.items():
                    restored[tp.partition].update(m.key.decode() for m in messages if m.key is not None)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
            return restored
        finally:
            await consumer.stop()

    @Service.task
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self.should_stop:
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                continue
            try:
                await self.process(consumer, batch)
            except Exception:
                # Nothing of this batch was committed: rewind and take it again after a pause.
                logger.exception("router batch failed; retrying from its first offset")
                for tp, messages in batch.items():
                    consumer.seek(tp, messages[0].offset)
                await asyncio.sleep(self._retry_pause_s)

    async def process(self, consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        started = time.perf_counter()
        async with self._lock:
            sends: list[asyncio.Future[Any]] = []
            letters: list[DeadLetter] = []
            new_ids: list[tuple[int, str]] = []
            offsets: dict[TopicPartition, int] = {}
            for tp, messages in batch.items():
                if tp.partition not in self._seen:
                    continue  # revoked while this batch was fetched: another worker owns it now
                seen = self._seen[tp.partition]
                in_batch: set[str] = set()
                for message in messages:
                    offsets[tp] = message.offset + 1
                    await self._handle(message, seen, in_batch, sends, letters, new_ids)
            await asyncio.gather(*sends)
            await self._dead_letters.publish(letters)
            stamp = str(int(time.time() * 1000)).encode()
            changelog = [
                await self._producer.send(self._changelog_topic, stamp, key=identity.encode(), partition=partition)
                for partition, identity in new_ids
            ]
            await asyncio.gather(*changelog)
            if offsets:
                await consumer.commit(offsets)
            for partition, identity in new_ids:
                self._seen[partition].add(identity)
        BATCH_SECONDS.labels("router").observe(time.perf_counter() - started)

    async def _handle(
        self,
        message: ConsumerRecord,
        seen: set[str],
        in_batch: set[str],
        sends: list[asyncio.Future[Any]],
        letters: list[DeadLetter],
        new_ids: list[tuple[int, str]],
    ) -> None:
        try:
            record = await self._deserializer.decode_any(message.value)
        except WireFormatError as exc:
            STEP_OUTCOMES.labels("decode", "fail").inc()
            letters.append(self._letter(message, "decode", "undecodable", exc))
            return
        except Exception as exc:  # never lose the event: anything unexpected is dead-lettered
            STEP_OUTCOMES.labels("decode", "fail").inc()
            letters.append(self._letter(message, "decode", "unexpected-error", exc))
            return
        identity = record["event_id"]
        if identity in seen or identity in in_batch:
            STEP_OUTCOMES.labels("dedupe", "drop").inc()
            DROPPED_EVENTS.labels("dedupe", "duplicate").inc()
            return
        in_batch.add(identity)
        new_ids.append((message.partition, identity))
        try:
            targets = self._router.route(record)
        except Exception as exc:
            STEP_OUTCOMES.labels("route", "fail").inc()
            letters.append(self._letter(message, "route", "unexpected-error", exc))
            return
        if not targets:
            STEP_OUTCOMES.labels("route", "drop").inc()
            DROPPED_EVENTS.labels("route", "no-subscriber").inc()
            return
        STEP_OUTCOMES.labels("route", "emit").inc()
        headers = list(message.headers)
        for name in targets:
            sends.append(
                await self._producer.send(
                    self._subscription_topics[name], message.value, key=message.key, headers=headers
                )
            )
            ROUTED_EVENTS.labels(name).inc()

    def _letter(self, message: ConsumerRecord, stage: str, reason: str, exc: Exception) -> DeadLetter:
        return DeadLetter(
            key=message.key,
            value=message.value,
            stage=stage,
            reason=reason,
            message=str(exc),
            error_class=type(exc).__name__,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            original_headers=tuple(message.headers),
        )
