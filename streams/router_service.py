"""The router: the batched hot path from the canonical topic to subscription topics.

Runs as a mode service inside the faust worker (see :mod:`streams.app`), with
its own aiokafka consumer: faust's per-event stream path costs several times
the work itself (``../shared/reference/performance.md``), so this path works
in batches — decode, state, sends, commits. ``bench/pipeline.py`` measures it
against a plain aiokafka loop doing the same work.

Per consumed batch, in this order:

1. :class:`~streams.pipeline.Pipeline` decides every record (decode → dedupe
   → enrich → route → deliver once → encode); its state writes stay pending;
2. every output and dead letter is sent and awaited (acks=all);
3. the pending state goes to the changelog (awaited), then to the local store
   — a key is marked seen only after its outputs are acknowledged;
4. the input offsets are committed.

A crash before 3 re-processes the batch after restart (redelivery with the
same identities, which receivers drop by the idempotency header); a crash
between 3 and 4 re-reads a batch whose state already says "delivered", so
nothing is sent twice. If a send fails, nothing is committed: the batch is
taken again from its first offset after a pause.

State is partition-local in an on-disk store (:mod:`streams.state.store`),
co-partitioned with the input through one changelog topic, and rebuilt from
that changelog before a newly assigned partition is processed.
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

from streams.batch_loop import BatchLoopService
from streams.deadletter import DeadLetterPublisher
from streams.failpoints import reach
from streams.kafka.clients import send_batched
from streams.metrics import BATCH_SECONDS
from streams.pipeline import EVENT_ID_HEADER, BatchOutcome, Pipeline
from streams.settings import KafkaSettings
from streams.state.changelog import ChangeloggedState
from streams.state.retention import expired
from streams.steps.route import Router

__all__ = ["EVENT_ID_HEADER", "RouterService"]
logger = logging.getLogger(__name__)


class _RestoreOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: RouterService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._service.forget_partitions([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self._service.restore_partitions([tp.partition for tp in assigned])


class RouterService(BatchLoopService):
    name_for_logs = "router"

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        group_id: str,
        input_topic: str,
        pipeline: Pipeline,
        tables: ChangeloggedState,
        producer: AIOKafkaProducer,
        dead_letters: DeadLetterPublisher,
        retry_pause_s: float = 1.0,
        retention_ms: int = 30 * 24 * 3600 * 1000,
        sweep_interval_s: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(kafka=kafka, group_id=group_id, topics=[input_topic], retry_pause_s=retry_pause_s, **kwargs)
        self.pipeline = pipeline
        self.tables = tables
        self._producer = producer
        self._dead_letters = dead_letters
        self._retention_ms = retention_ms
        self._sweep_interval_s = sweep_interval_s
        self._owned: set[int] = set()
        self._lock = asyncio.Lock()
        self.assigned_once = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self.assigned_once.is_set()

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _RestoreOnAssign(self)

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        self.tables.store.close()

    async def swap(self, router: Router, subscription_topics: Mapping[str, str]) -> None:
        """Use new subscriptions from the next batch on (the batch in flight finishes with the old ones)."""
        async with self._lock:
            self.pipeline.set_router(router, subscription_topics)

    async def forget_partitions(self, partitions: Sequence[int]) -> None:
        async with self._lock:  # waits for the batch in flight to commit
            self._owned.difference_update(partitions)
            for partition in partitions:
                self.tables.store.drop_partition(partition)

    async def restore_partitions(self, partitions: Sequence[int]) -> None:
        async with self._lock:
            applied, seconds = await self.tables.restore(partitions)
            self._owned.update(partitions)
            logger.info(
                "router restored %d state entries for partitions %s in %.2fs", applied, sorted(partitions), seconds
            )
        self.assigned_once.set()

    async def sweep(self, now_ms: int | None = None) -> int:
        """Forget state older than the retention window on owned partitions; return entries removed."""
        cutoff = (int(time.time() * 1000) if now_ms is None else now_ms) - self._retention_ms
        removed = 0
        async with self._lock:  # between batches: a sweep never sees half a batch
            for partition in sorted(self._owned):
                writes = expired(self.tables.store, partition, cutoff)
                await self.tables.apply(writes)
                removed += len(writes)
        if removed:
            logger.info("router state retention removed %d entries older than %d ms", removed, self._retention_ms)
        return removed

    @Service.task
    async def _sweep_periodically(self) -> None:
        while not self.should_stop:
            await self.sleep(self._sweep_interval_s)
            if not self.should_stop:
                await self.sweep()

    async def process(self, consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        started = time.perf_counter()
        async with self._lock:
            owned = {tp: messages for tp, messages in batch.items() if tp.partition in self._owned}
            if not owned:
                return  # revoked while fetched: another worker owns these partitions now
            messages = [m for ms in owned.values() for m in ms]
            await self.pipeline.prepare(messages)
            state = self.tables.batch()
            outcome = BatchOutcome()
            self.pipeline.process(messages, state, int(time.time() * 1000), outcome)
            sends = await send_batched(
                self._producer, ((o.topic, None, o.key, o.value, o.headers) for o in outcome.outgoing)
            )
            await asyncio.gather(*sends)
            reach("router.after-send")
            await self._dead_letters.publish(outcome.dead_letters)
            await self.tables.commit(state)
            reach("router.after-state")
            await consumer.commit({tp: ms[-1].offset + 1 for tp, ms in owned.items()})
        BATCH_SECONDS.labels("router").observe(time.perf_counter() - started)
