"""The sink runner: one consumer per subscription sink, commits only after the write is durable.

Each subscription with a sink gets its own consumer group, so a slow or
failing subscriber holds back only itself. Per batch: decode (failure → dead
letter, stage ``decode``), ``sink.write`` with exponential backoff on
retriable errors, dead-letter the batch (stage ``sink:<name>``) when the
target refuses it or the attempts run out, then commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from connectors.base import Sink, SinkRecord
from connectors.errors import SinkRejectedError
from schemas.codec import Deserializer
from streams.batch_loop import Batch, BatchLoopService
from streams.deadletter import DeadLetter, DeadLetterPublisher
from streams.failpoints import reach
from streams.metrics import DELIVERED_EVENTS, DELIVERIES, DELIVERY_SECONDS
from streams.settings import KafkaSettings

logger = logging.getLogger(__name__)


class RetryPolicy:
    def __init__(self, *, max_attempts: int, initial_s: float, max_s: float) -> None:
        self.max_attempts = max_attempts
        self.initial_s = initial_s
        self.max_s = max_s

    def pause(self, attempt: int) -> float:
        """Pause after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_s, self.initial_s * 2 ** (attempt - 1)))


class SinkRunner(BatchLoopService):
    """One subscription's sink behind its own consumer group (see :class:`~streams.batch_loop.BatchLoopService`)."""

    name_for_logs = "sink"

    def __init__(
        self,
        *,
        sink: Sink,
        kafka: KafkaSettings,
        group_id: str,
        topic: str,
        deserializer: Deserializer,
        dead_letters: DeadLetterPublisher,
        retry: RetryPolicy,
        max_batch: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(kafka=kafka, group_id=group_id, topics=[topic], max_records=max_batch, **kwargs)
        self.sink = sink
        self._deserializer = deserializer
        self._dead_letters = dead_letters
        self._retry = retry
        self.assigned_once = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self.assigned_once.is_set()

    async def on_start(self) -> None:
        await self.sink.start()
        await super().on_start()

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        await self.sink.stop()

    def after_poll(self, consumer: AIOKafkaConsumer) -> None:
        if consumer.assignment():
            self.assigned_once.set()

    async def process(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        """Per partition: write (or dead-letter) durably, then commit that partition."""
        for tp, messages in batch.items():
            await self._deliver(messages)
            await consumer.commit({tp: messages[-1].offset + 1})

    async def _deliver(self, messages: list[ConsumerRecord]) -> None:
        records: list[SinkRecord] = []
        letters: list[DeadLetter] = []
        for message in messages:
            try:
                record = await self._deserializer.decode_any(message.value)
            except Exception as exc:  # a record we cannot decode must not block or vanish
                letters.append(self._letter(message, "decode", "undecodable", exc))
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
        failure = await self._write_with_retries(records) if records else None
        if failure is not None:
            reason, error = failure
            by_offset = {m.offset: m for m in messages}
            letters.extend(self._letter(by_offset[r.offset], f"sink:{self.sink.name}", reason, error) for r in records)
        await self._dead_letters.publish(letters)

    async def _write_with_retries(self, records: list[SinkRecord]) -> tuple[str, Exception] | None:
        """Write; on success return None, else (reason, last error) for the dead letters."""
        name = self.sink.name
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                await self.sink.write(records)
                reach("sink.during-delivery")
            except SinkRejectedError as exc:
                DELIVERIES.labels(name, "rejected").inc()
                logger.warning("sink %s rejected %d records: %s", name, len(records), exc)
                return exc.reason, exc
            except Exception as exc:  # retriable by contract, whatever its class
                DELIVERIES.labels(name, "retry").inc()
                if attempt >= self._retry.max_attempts or self.should_stop:
                    if self.should_stop:
                        raise  # shutting down: leave the offsets uncommitted, redeliver after restart
                    logger.error("sink %s gave up after %d attempts: %s", name, attempt, exc)
                    return "retries-exhausted", exc
                await asyncio.sleep(self._retry.pause(attempt))
                continue
            finally:
                DELIVERY_SECONDS.labels(name).observe(time.perf_counter() - started)
            DELIVERIES.labels(name, "ok").inc()
            DELIVERED_EVENTS.labels(name).inc(len(records))
            return None

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
            connector=self.sink.name,
            original_headers=tuple(message.headers),
        )
