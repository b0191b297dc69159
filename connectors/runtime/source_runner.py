"""The source runner: polls a source, publishes what it read, then saves the source's position.

Per poll, in this order (the order is the guarantee):

1. every event of every record is published to ``events.incoming`` as an
   ``incoming_event`` envelope (key: the record's identity, so repeats of one
   native record meet on one partition), every pre-framed message to its
   topic, every record that could not be mapped to the dead-letter topic
   (original bytes, stage ``source:<name>``, the mapper's reason, or
   ``unencodable`` when its events cannot be written as envelopes) — and all of
   it acknowledged by Kafka (acks=all);
2. the position of each source partition is saved (:class:`~connectors.positions.SourcePositions`);
3. the source's ``committed`` hook runs.

A crash between 1 and 2 makes the restarted source read those records again:
they are published again with the same identities (their events hash the
same), and the router drops the repeats and counts them. Nothing read is lost.

A poll that raises :class:`~connectors.errors.SourceUnavailableError` (or any
error) is retried with exponential backoff, and so is a publish that fails
(the same records are published again; the source is not polled until they
are through); after ``errors.retry.timeout`` of
continuous failure the runner marks itself FAILED and stops polling until
restarted. With ``errors.tolerance: none`` an unmappable record fails the
connector instead of being dead-lettered (records before it are published).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from mode import Service

from connectors.base import Source, SourceRecord, SourceRecordError
from connectors.config import SourceConfig
from connectors.positions import SourcePositions
from connectors.runtime.status import ConnectorState, RunnerStats
from schemas.codec import TopicSerializer
from streams.deadletter import DeadLetter, DeadLetterPublisher
from streams.failpoints import reach
from streams.ingest_service import incoming_record
from streams.metrics import SOURCE_EVENTS, SOURCE_RECORDS

logger = logging.getLogger(__name__)
SOURCE_HEADER = "tracebus.source.connector"
RECORD_HEADER = "tracebus.source.record"


class SourceFailedError(Exception):
    """The source stopped for good (retry timeout, or a bad record under ``errors.tolerance: none``)."""


class SourceRunner(Service):
    def __init__(
        self,
        *,
        source: Source,
        config: SourceConfig,
        producer: AIOKafkaProducer,
        incoming: TopicSerializer,
        dead_letters: DeadLetterPublisher,
        positions: SourcePositions,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.config = config
        self._producer = producer
        self._incoming = incoming
        self._dead_letters = dead_letters
        self.positions = positions
        self.stats = RunnerStats()
        self.paused = False
        self.source_started = asyncio.Event()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def lag(self) -> int | None:
        return self.source.lag()

    @property
    def ready(self) -> bool:
        return self.source_started.is_set()

    @property
    def state(self) -> ConnectorState:
        if self.stats.failed:
            return "FAILED"
        if not self.source_started.is_set():
            return "UNASSIGNED"
        return "PAUSED" if self.paused else "RUNNING"

    async def on_start(self) -> None:
        await self.source.start(self.positions.load())
        self.source_started.set()

    async def on_stop(self) -> None:
        await self.source.stop()

    @Service.task
    async def _run(self) -> None:
        failing_since: float | None = None
        attempt = 0
        pending: Sequence[SourceRecord] = ()  # polled but not yet published: published again, never re-polled
        while not self.should_stop and not self.stats.failed:
            if self.paused:
                await asyncio.sleep(0.1)
                continue
            try:
                if not pending:
                    pending = await self.source.poll()
                    continue  # a pause that began during the poll holds these records back
                if pending:
                    await self.publish(pending)
                    pending = ()
                failing_since, attempt = None, 0
            except SourceFailedError as exc:
                self._fail(exc)
            except Exception as exc:  # retried: a down system must hold the source back, not end it
                self.stats.error(exc)
                attempt += 1
                failing_since = failing_since or time.monotonic()
                if (time.monotonic() - failing_since) * 1000 > self.config.errors_retry_timeout:
                    self._fail(exc)
                    break
                pause = min(self.config.errors_retry_delay_max_ms / 1000, 0.2 * 2 ** min(attempt, 20))
                logger.warning("source %s: %s; retrying in %.1fs", self.config.name, exc, pause)
                await asyncio.sleep(pause)

    def _fail(self, exc: BaseException) -> None:
        self.stats.error(exc)
        self.stats.failed = True
        logger.error("source %s failed: %s (restart it to try again)", self.config.name, exc)

    async def publish(self, records: Sequence[SourceRecord]) -> None:
        """Steps 1–3 of the module docstring for one poll's records."""
        name = self.config.name
        done: list[SourceRecord] = []
        sends = []
        letters: list[DeadLetter] = []
        events = 0
        failure: SourceFailedError | None = None
        for record in records:
            problem = record.error
            if problem is None:
                headers = [(SOURCE_HEADER, name.encode()), (RECORD_HEADER, record.identity.encode()), *record.headers]
                encoded, problem = self._encode(record)
                for value in encoded:
                    sends.append(
                        await self._producer.send(
                            self._incoming.topic, value, key=record.identity.encode(), headers=headers
                        )
                    )
                events += len(encoded)
            if problem is not None:
                if self.config.errors_tolerance == "none":
                    failure = SourceFailedError(f"record {record.identity}: {problem.reason}: {problem}")
                    break
                letters.append(self._letter(record, problem))
            for message in record.messages:
                sends.append(
                    await self._producer.send(
                        message.topic, message.value, key=message.key, headers=list(message.headers)
                    )
                )
            done.append(record)
        await asyncio.gather(*sends)
        await self._dead_letters.publish(letters)
        reach("source.after-publish")
        latest: dict[str, Any] = {}
        for record in done:
            latest[record.partition] = record.offset
        await asyncio.to_thread(self.positions.save, latest)
        await self.source.committed(done)
        self.stats.count(records=len(done), events=events, dead_letters=len(letters))
        SOURCE_RECORDS.labels(name, "published").inc(len(done) - len(letters))
        SOURCE_RECORDS.labels(name, "dead-lettered").inc(len(letters))
        SOURCE_EVENTS.labels(name).inc(events)
        if failure is not None:
            raise failure

    def _encode(self, record: SourceRecord) -> tuple[list[bytes], SourceRecordError | None]:
        """The record's events as ``incoming_event`` envelopes, all or none: one that the wire contract cannot
        carry (a value JSON cannot write) makes the whole native record a dead letter, never a stalled source."""
        try:
            return [
                self._incoming.serialize(
                    incoming_record(
                        event,
                        source=self.config.name,
                        reporter=self.config.reporting_name,
                        context=record.context,
                        source_record=record.identity,
                    )
                )
                for event in record.events
            ], None
        except Exception as exc:  # whatever the cause, the native record ends as a dead letter
            problem = SourceRecordError("unencodable", f"{type(exc).__name__}: {exc}")
            return [], problem

    def _letter(self, record: SourceRecord, problem: SourceRecordError) -> DeadLetter:
        return DeadLetter(
            key=record.identity.encode(),
            value=record.raw,
            stage=f"source:{self.config.name}",
            reason=problem.reason,
            message=str(problem),
            error_class=type(problem).__name__,
            connector=self.config.name,
            original_headers=(
                (RECORD_HEADER, record.identity.encode()),
                ("tracebus.source.partition", record.partition.encode()),
            ),
        )
