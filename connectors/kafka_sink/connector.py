"""``kafka-sink``: a subscription's events on a plain Kafka topic, for departments that consume Kafka directly.

The target topic (``target.topic``, a full name) may live on the bus's own
cluster (the default) or another one (``target.bootstrap.servers``; the
bus's client settings — security, timeouts — are reused). Values are either

* ``epcis-json``: the event as an EPCIS 2.0 JSON-LD object with its own
  ``@context`` (no schema registry needed to read it), or
* ``avro``: the bus's Confluent-framed Avro bytes, unchanged (magic byte,
  schema id of the bus's registry, Avro binary).

The key is the record's key (the trace key), so one product's events stay in
one partition and in order. Headers: ``tracebus.event.id`` (the identity),
``tracebus.observation.id`` (what a consumer deduplicates on: the
observation, or the event itself when it was reported once) and
``content-type``.

Lifecycle and guarantees: the producer (acks=all) starts in ``start()`` and
stops in ``stop()``. ``write`` sends the whole batch and returns only when
every record is acknowledged; a Kafka error is a
:class:`~connectors.errors.RetriableSinkError` (the batch is sent again:
at-least-once, repeats carry the same identity headers), a record too large
for the target is a :class:`~connectors.errors.SinkRejectedError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Final, Literal

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError
from pydantic import Field

from connectors.base import Sink, SinkRecord
from connectors.config import SinkConfig
from connectors.epcis_export.document import standalone_event
from connectors.errors import RetriableSinkError, SinkRejectedError
from connectors.registry import ConnectorContext, register
from streams.kafka.clients import make_producer
from streams.settings import KafkaSettings

logger = logging.getLogger(__name__)

EVENT_ID_HEADER: Final = "tracebus.event.id"
OBSERVATION_ID_HEADER: Final = "tracebus.observation.id"
CONTENT_TYPE_HEADER: Final = "content-type"
CONTENT_TYPES: Final = {
    "epcis-json": b"application/ld+json",
    "avro": b"application/avro; framing=confluent",
}

ValueFormat = Literal["epcis-json", "avro"]


class KafkaSinkConfig(SinkConfig):
    """Keys of ``kafka-sink``."""

    target_topic: str = Field(
        alias="target.topic", pattern=r"^[A-Za-z0-9._-]{1,249}$", description="full name of the topic written to"
    )
    target_bootstrap_servers: str | None = Field(
        default=None,
        alias="target.bootstrap.servers",
        min_length=1,
        description="cluster of the target topic; default: the bus's own cluster",
    )
    value_format: ValueFormat = Field(
        default="epcis-json",
        alias="value.format",
        description="epcis-json: EPCIS 2.0 JSON-LD event; avro: the bus's Confluent-framed Avro bytes as they are",
    )


@register(
    name="kafka-sink",
    kind="sink",
    transport="kafka",
    config=KafkaSinkConfig,
    conformance="connectors.kafka_sink.conformance:KafkaSinkKit",
)
class KafkaSink(Sink):
    """Events on a plain Kafka topic (EPCIS JSON-LD or the original Avro), keyed by trace key, acks=all."""

    def __init__(self, name: str, *, kafka: KafkaSettings, topic: str, value_format: ValueFormat) -> None:
        self.name = name
        self.topic = topic
        self.value_format: ValueFormat = value_format
        self._kafka = kafka
        self._producer: AIOKafkaProducer | None = None

    @classmethod
    def create(cls, config: KafkaSinkConfig, context: ConnectorContext) -> KafkaSink:
        kafka = context.kafka
        if config.target_bootstrap_servers is not None:
            kafka = kafka.model_copy(update={"bootstrap_servers": config.target_bootstrap_servers})
        return cls(config.name, kafka=kafka, topic=config.target_topic, value_format=config.value_format)

    def __repr__(self) -> str:
        return f"KafkaSink(name={self.name!r}, topic={self.topic!r}, servers={self._kafka.bootstrap_servers!r})"

    async def start(self) -> None:
        producer = make_producer(self._kafka)
        self._producer = producer
        await producer.start()

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):  # stop must not raise; nothing is left to flush that matters
                await producer.stop()

    def _value(self, record: SinkRecord) -> bytes:
        if self.value_format == "avro":
            return record.value
        return orjson.dumps(standalone_event(record.record))

    def _headers(self, record: SinkRecord) -> list[tuple[str, bytes]]:
        return [
            (EVENT_ID_HEADER, record.event_id.encode()),
            (OBSERVATION_ID_HEADER, record.delivery_id.encode()),
            (CONTENT_TYPE_HEADER, CONTENT_TYPES[self.value_format]),
        ]

    async def write(self, records: Sequence[SinkRecord]) -> None:
        if not records:
            return
        producer = self._producer
        if producer is None:
            raise RuntimeError("KafkaSink.write before start()")
        try:
            values = [self._value(r) for r in records]
        except (KeyError, TypeError, ValueError) as exc:
            raise SinkRejectedError(f"{self.name}: cannot render EPCIS: {exc}", reason="unrenderable") from exc
        pending: list[asyncio.Future[object]] = []
        failure: BaseException | None = None
        try:
            for record, value in zip(records, values, strict=True):
                sent = await producer.send(self.topic, value=value, key=record.key, headers=self._headers(record))
                pending.append(sent)
        except KafkaError as exc:  # refused before sending: too large, unknown topic metadata timeout
            failure = exc
        # await every acknowledgement, also after a failure, so no result is left unobserved
        outcomes = await asyncio.gather(*pending, return_exceptions=True)
        failure = failure or next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is None:
            return
        if isinstance(failure, MessageSizeTooLargeError | RecordTooLargeError):
            raise SinkRejectedError(f"{self.name}: {self.topic}: {failure}", reason="too-large") from failure
        if isinstance(failure, KafkaError):
            raise RetriableSinkError(f"{self.name}: {self.topic}: {type(failure).__name__}: {failure}") from failure
        raise failure
