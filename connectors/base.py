"""The sink contract. (Sources arrive with the connector framework.)

A sink is driven by a runner (``streams.sinks.SinkRunner``) that owns the
Kafka consumer: the runner reads a subscription's topic, decodes records,
hands them to the sink in order, and commits offsets. Sinks never import
faust and never touch offsets.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
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
