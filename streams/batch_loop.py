"""The batched consume loop every stream stage shares: one consumer group, one batch at a time.

Lifecycle: ``on_start`` creates the consumer and subscribes (with an optional
rebalance listener); a task fetches batches and hands each to :meth:`process`;
``on_shutdown`` — after mode cancelled that task — stops the consumer.

Guarantee: :meth:`process` commits the batch's offsets itself, after its
outputs are durable. If it raises, nothing of the batch was committed: the
loop rewinds every partition of the batch to its first offset and takes it
again after a pause, so a failing dependency holds the stage back and loses
nothing.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from mode import Service

from streams.kafka.clients import make_consumer
from streams.settings import KafkaSettings

logger = logging.getLogger(__name__)
Batch = Mapping[TopicPartition, list[ConsumerRecord]]


@dataclass(slots=True)
class LoopStats:
    """What the management API shows of a loop: records handled, batches retried, the last error."""

    records: int = 0
    batches: int = 0
    failed_batches: int = 0
    last_error: str | None = None
    last_error_at_ms: int | None = None

    def failed(self, exc: BaseException) -> None:
        self.failed_batches += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        self.last_error_at_ms = int(time.time() * 1000)


class BatchLoopService(Service):
    """Pause and resume (:meth:`pause`, :meth:`resume`) keep the group membership: the consumer's partitions
    are paused and polling goes on, so a paused loop does not rebalance its group and resumes where it was."""

    name_for_logs = "stage"

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        group_id: str,
        topics: Sequence[str],
        retry_pause_s: float = 1.0,
        max_records: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._kafka = kafka
        self._group_id = group_id
        self._topics = list(topics)
        self._retry_pause_s = retry_pause_s
        self._max_records = max_records
        self._consumer: AIOKafkaConsumer | None = None
        self.stats = LoopStats()
        self.paused = False
        self.reset_to: Literal["earliest", "latest"] | int | None = None
        """Set before start to move the group's offsets on the first assignment (start, end, or a time in ms)."""
        self.applied_reset: dict[TopicPartition, int] = {}

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        return self._consumer

    @property
    def group_id(self) -> str:
        return self._group_id

    @property
    def topics(self) -> list[str]:
        return list(self._topics)

    def lag(self) -> int | None:
        """Records fetched-known to be waiting on this loop's partitions (high watermark − position), if known."""
        consumer = self._consumer
        if consumer is None or not consumer.assignment():
            return None
        total = 0
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            position = consumer._subscription.subscription.assignment.state_value(tp)
            if high is None or position is None or position.position is None:
                return None
            total += max(0, int(high) - int(position.position))
        return total

    def after_poll(self, consumer: AIOKafkaConsumer) -> None:
        """Called after every poll, with or without records (e.g. to notice the first assignment)."""

    def rebalance_listener(self) -> ConsumerRebalanceListener | None:
        """Override to act on partition assignment and revocation."""
        return None

    async def on_start(self) -> None:
        overrides = {} if self._max_records is None else {"max_poll_records": self._max_records}
        self._consumer = make_consumer(self._kafka, group_id=self._group_id, **overrides)
        listener = self.rebalance_listener()
        if listener is None:
            self._consumer.subscribe(self._topics)
        else:
            self._consumer.subscribe(self._topics, listener=listener)
        await self._consumer.start()

    async def on_shutdown(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    @Service.task
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self.should_stop:
            self._apply_pause(consumer)
            batch = await consumer.getmany(timeout_ms=200, max_records=self._max_records)
            self.after_poll(consumer)
            if self.reset_to is not None and consumer.assignment():
                # as a member: brokers refuse commits from outside a group that still lists a stopped member
                await self._apply_reset(consumer, self.reset_to)
                continue
            if not batch:
                continue
            if self.paused:  # a fetch in flight when the pause began still returns: take those records again later
                for tp, messages in batch.items():
                    consumer.seek(tp, messages[0].offset)
                continue
            try:
                await self.process(consumer, batch)
                self.stats.batches += 1
                self.stats.records += sum(len(messages) for messages in batch.values())
            except Exception as exc:
                self.stats.failed(exc)
                logger.exception("%s batch failed; retrying from its first offset", self.name_for_logs)
                for tp, messages in batch.items():
                    consumer.seek(tp, messages[0].offset)
                await asyncio.sleep(self._retry_pause_s)

    async def _apply_reset(self, consumer: AIOKafkaConsumer, to: Literal["earliest", "latest"] | int) -> None:
        partitions = sorted(consumer.assignment())
        if to == "earliest":
            targets = dict(await consumer.beginning_offsets(partitions))
        elif to == "latest":
            targets = dict(await consumer.end_offsets(partitions))
        else:
            found = await consumer.offsets_for_times({tp: to for tp in partitions})
            ends = await consumer.end_offsets(partitions)
            targets = {tp: found[tp].offset if found.get(tp) is not None else ends[tp] for tp in partitions}
        for tp, offset in targets.items():
            consumer.seek(tp, int(offset))
        await consumer.commit({tp: int(offset) for tp, offset in targets.items()})
        self.applied_reset = {tp: int(offset) for tp, offset in targets.items()}
        self.reset_to = None
        logger.info("%s %s: offsets reset to %s", self.name_for_logs, self._group_id, to)

    def _apply_pause(self, consumer: AIOKafkaConsumer) -> None:
        assigned = consumer.assignment()
        paused = consumer.paused()
        if self.paused and assigned - paused:
            consumer.pause(*(assigned - paused))
        elif not self.paused and paused:
            consumer.resume(*paused)

    @abc.abstractmethod
    async def process(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        """Handle one batch and commit its offsets once its outputs are durable; raise to have it retried."""
