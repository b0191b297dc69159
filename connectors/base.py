"""The two connector contracts: :class:`Source` brings a platform's records in, :class:`Sink` writes topics out.

Neither touches Kafka offsets or faust. A runner owns the Kafka side:
:class:`connectors.runtime.source_runner.SourceRunner` publishes what a source
polls and then saves the source's position; :class:`streams.sinks.SinkRunner`
reads a topic, hands batches to a sink, and commits offsets after the write.
A connector class is bound to its name and config model with
:func:`connectors.registry.register`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SinkRecord:
    """One record handed to a sink: where it was read, its bytes, and its decoded value."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    record: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.record["event_id"])

    @property
    def delivery_id(self) -> str:
        """What a subscriber deduplicates on: the observation (all reports of one movement share it)."""
        return str(self.record.get("observation_id") or self.record["event_id"])


class Sink(abc.ABC):
    """Writes records to a subscriber's target.

    Lifecycle: ``start()`` once, then ``write(batch)`` any number of times
    (never concurrently), then ``stop()`` once, also after a failed start.

    Guarantees the runner relies on:

    * ``write`` returns only when the whole batch is durable at the target.
      The runner commits the batch's offsets after that, never before.
    * ``write`` raises :class:`~connectors.errors.RetriableSinkError` when the
      same batch may succeed later: the runner retries it with exponential
      backoff, holding back later records of this subscription only.
    * ``write`` raises :class:`~connectors.errors.SinkRejectedError` when the
      target refused the batch for good: the runner dead-letters the batch
      (original bytes plus context) and moves on.
    * Any other exception is treated as retriable and counted as such.
    * Delivery is at-least-once: after a crash a batch may be written again.
      Sinks pass each event's identity to the target (or write idempotently on
      it) so the target can drop the repeat.
    """

    name: str

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections."""

    @abc.abstractmethod
    async def write(self, records: Sequence[SinkRecord]) -> None:
        """Write ``records`` durably, in order, or raise."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Close connections; must not raise."""


class SourceRecordError(Exception):
    """Why one native record cannot become events: a short ``reason`` (metric label) and a message.

    Not raised out of a source: it travels as data on :attr:`SourceRecord.error`
    and ends as a dead letter with the record's original bytes.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class KafkaMessage:
    """A record a source hands over already framed (the bridge): written as is to ``topic``."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One native record read by a source, with where it was read and what it became.

    ``partition`` and ``offset`` are the source's own position (Kafka Connect's
    source partition and source offset): after this record is published the
    runner saves ``offset`` for ``partition``, and a restarted source resumes
    after it. ``identity`` names the native record for good (file digest and
    line, table and key): it is the ``source_record`` of its events, so a record
    read twice across a crash yields the same events with the same identities.

    Exactly one of ``events`` (mapped EPCIS events, published on
    ``events.incoming``), ``messages`` (pre-framed Kafka records) or ``error``
    (the record cannot be mapped: dead-lettered with ``raw``) carries the outcome.
    A record may map to no events at all (a header row, a record the mapper
    skips on purpose): it still moves the position.
    """

    partition: str
    offset: Any
    identity: str
    raw: bytes
    events: tuple[dict[str, Any], ...] = ()
    context: tuple[Any, ...] = ()
    messages: tuple[KafkaMessage, ...] = ()
    error: SourceRecordError | None = None
    headers: tuple[tuple[str, bytes], ...] = field(default=())


class Source(abc.ABC):
    """Reads a platform's records and hands them to the runner, which publishes them and keeps the position.

    Lifecycle: ``start(positions)`` once with the last saved position of each
    source partition (empty on first start); then ``poll()`` and
    ``committed(records)`` alternate, never concurrently; ``stop()`` once, also
    after a failed start or a failure in between.

    Guarantees the runner gives and expects:

    * ``poll()`` returns the next records in order, or an empty sequence after
      waiting at most about ``poll.interval.ms``. It must return promptly when
      the runner is stopping (the runner cancels a poll that does not).
    * The runner publishes every record of a poll (events acknowledged by
      Kafka with acks=all, errors dead-lettered), *then* saves the positions,
      *then* calls ``committed(records)``. A source may act on its system only
      in ``committed`` (move a finished file, commit a remote consumer group):
      a crash before it makes the source read those records again, with the
      same identities (at-least-once; the bus drops the repeats by identity).
    * ``poll()`` raises :class:`~connectors.errors.SourceUnavailableError`
      when its system cannot be read: the runner retries with backoff within
      ``errors.retry.timeout`` and reports it as the last error. A record that
      cannot be mapped is *not* an exception: it is a :class:`SourceRecord`
      with ``error`` set.
    * ``lag()`` is the number of records known to be waiting, or None when
      the system cannot tell cheaply.
    """

    name: str

    @abc.abstractmethod
    async def start(self, positions: dict[str, Any]) -> None:
        """Open connections and resume after ``positions`` (source partition → last saved offset)."""

    @abc.abstractmethod
    async def poll(self) -> Sequence[SourceRecord]:
        """The next records, in order; empty after at most about one poll interval."""

    async def committed(self, records: Sequence[SourceRecord]) -> None:  # noqa: B027 - optional hook
        """``records`` are published and their positions saved: act on the source system if needed."""

    def lag(self) -> int | None:
        return None

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Close connections; must not raise."""
