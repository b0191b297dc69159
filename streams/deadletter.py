"""The dead-letter topic: original bytes, unchanged, plus context headers.

Header names follow Kafka Connect's ``__connect.errors.*`` set under our own
prefix, so operators who know Connect read them at sight::

    tracebus.errors.stage                 the named step or stage that failed (also the metric label)
    tracebus.errors.reason                short machine-readable reason (metric label)
    tracebus.errors.exception.class.name  the error's class
    tracebus.errors.exception.message     human-readable message
    tracebus.errors.topic / .partition / .offset   where the record was read
    tracebus.errors.connector.name        the sink or source involved, if any
    tracebus.errors.timestamp             when it was dead-lettered (ms since epoch)

The original headers are kept too. ``publish`` returns after the broker
acknowledged, so a caller may commit the input offset afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from streams.metrics import DEAD_LETTERS

HEADER_PREFIX = "tracebus.errors."


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    stage: str
    reason: str
    message: str
    error_class: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    connector: str | None = None
    original_headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)

    def headers(self) -> list[tuple[str, bytes]]:
        context = {
            "stage": self.stage,
            "reason": self.reason,
            "exception.class.name": self.error_class,
            "exception.message": self.message[:2000],
            "timestamp": str(int(time.time() * 1000)),
        }
        if self.topic is not None:
            context["topic"] = self.topic
        if self.partition is not None:
            context["partition"] = str(self.partition)
        if self.offset is not None:
            context["offset"] = str(self.offset)
        if self.connector is not None:
            context["connector.name"] = self.connector
        own = [(HEADER_PREFIX + name, value.encode()) for name, value in context.items()]
        kept = [(k, v) for k, v in self.original_headers if not k.startswith(HEADER_PREFIX)]
        return kept + own


def read_context(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """The dead-letter context of a record's headers, without the prefix."""
    return {k[len(HEADER_PREFIX) :]: v.decode() for k, v in headers if k.startswith(HEADER_PREFIX)}


class DeadLetterPublisher:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self.topic = topic

    async def publish(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        futures = [
            await self._producer.send(self.topic, letter.value, key=letter.key, headers=letter.headers())
            for letter in letters
        ]
        await asyncio.gather(*futures)
        for letter in letters:
            DEAD_LETTERS.labels(letter.stage, letter.reason).inc()
