"""Conformance kit of the Kafka bridge: a second, real cluster plays the provincial bus.

:class:`SourceCluster` is that second bus in miniature — its own embedded
broker, its ``events.canonical`` topic and its registry (the embedded one on
its own ``schemas`` topic, or a Confluent-compatible one at a URL) — and
produces ``trace_event`` records to it the way the source bus would. The kit
and the bridge's integration tests both use it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.structs import ConsumerRecord

from connectors.bridge.source import provenance_identity
from connectors.testing.kit import SourceKit
from schemas.codec import Deserializer, TopicSerializer
from schemas.registry.base import SchemaRegistry
from schemas.registry.embedded import SHIPPED_SCHEMAS, EmbeddedRegistry
from schemas.registry.http import ConfluentRegistryClient
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_admin, make_producer
from streams.kafka.schema_log import KafkaSchemaLog
from streams.settings import KafkaSettings
from streams.testing import movement_record

CANONICAL_SCHEMA: Final = SHIPPED_SCHEMAS / "trace_event" / "v3.avsc"
# Tansu's group join takes seconds; short timeouts keep a kit run quick
KIT_KAFKA: Final = KafkaSettings(
    session_timeout_ms=6_000,
    heartbeat_interval_ms=300,
    rebalance_timeout_ms=6_000,
    request_timeout_ms=6_000,
    linger_ms=2,
)


def bridged_record(number: int, *, reporter: str = "zhejiang-bus") -> dict[str, Any]:
    """Canonical record number ``number``: a distinct shipment (trace code) as the source bus would hold it."""
    return movement_record(
        event_time=f"2026-03-01T08:{number // 60 % 60:02d}:{number % 60:02d}.000+08:00",
        trace_code=f"ZJ{number:010d}",
        reporter=reporter,
    )


class SourceCluster:
    """A second tracebus cluster on its own embedded broker. ``start`` then ``produce``; ``stop`` always."""

    def __init__(self, namespace: str, *, registry_url: str | None = None, partitions: int = 1) -> None:
        self.namespace = namespace
        self.topic = f"{namespace}.events.canonical"
        self.registry_url = registry_url
        self._partitions = partitions
        self._broker = EmbeddedBroker()
        self._producer: AIOKafkaProducer | None = None
        self.registry: SchemaRegistry | None = None
        self.serializer: TopicSerializer | None = None
        self.kafka = KIT_KAFKA

    @property
    def bootstrap_servers(self) -> str:
        return self._broker.bootstrap_servers

    async def start(self) -> None:
        bootstrap = await self._broker.start()
        self.kafka = KIT_KAFKA.model_copy(update={"bootstrap_servers": bootstrap})
        admin = make_admin(self.kafka)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topic, self._partitions, 1)])
        finally:
            await admin.close()
        self._producer = producer = make_producer(self.kafka)
        await producer.start()
        if self.registry_url is not None:
            self.registry = ConfluentRegistryClient(self.registry_url)
        else:
            self.registry = EmbeddedRegistry(KafkaSchemaLog(self.kafka, f"{self.namespace}.schemas", producer))
        await self.registry.start()
        self.serializer = TopicSerializer(self.registry, self.topic, CANONICAL_SCHEMA.read_text(encoding="utf-8"))
        await self.serializer.bind()

    async def produce(
        self, record: Mapping[str, Any], *, key: bytes | None = None, headers: Sequence[tuple[str, bytes]] = ()
    ) -> tuple[int, int]:
        """Write one canonical record; its (partition, offset)."""
        assert self.serializer is not None, "start() first"
        return await self.produce_raw(self.serializer.serialize(record), key=key, headers=headers)

    async def produce_raw(
        self, value: bytes, *, key: bytes | None = None, headers: Sequence[tuple[str, bytes]] = ()
    ) -> tuple[int, int]:
        assert self._producer is not None, "start() first"
        sent = await self._producer.send_and_wait(self.topic, value, key=key, headers=list(headers))
        return sent.partition, sent.offset

    def stop_broker(self) -> None:
        """The source cluster goes away (an outage); ``stop`` still releases the rest."""
        self._broker.stop(timeout_s=1.0)  # Tansu lingers on SIGTERM while clients are connected

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self._producer is not None:
                await self._producer.stop()
        with contextlib.suppress(Exception):
            if self.registry is not None:
                await self.registry.close()
        self._broker.stop()


class KafkaBridgeKit(SourceKit):
    """The bridge reading a second embedded cluster (the source bus, with its embedded registry)."""

    connector_class = "kafka-bridge"
    cluster = "zhejiang"

    def __init__(self) -> None:
        self.source: SourceCluster | None = None

    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        self.source = SourceCluster(f"zj{uuid.uuid4().hex[:8]}")
        try:
            await self.source.start()
        except BaseException:
            await self.source.stop()
            raise

    async def teardown(self) -> None:
        if self.source is not None:
            await self.source.stop()

    def _cluster(self) -> SourceCluster:
        assert self.source is not None, "setup() first"
        return self.source

    def config(self, name: str) -> dict[str, Any]:
        source = self._cluster()
        return {
            "name": name,
            "connector.class": self.connector_class,
            "source.bootstrap.servers": source.bootstrap_servers,
            "source.namespace": source.namespace,
            "topics": ["events.canonical"],
            "provenance.cluster": self.cluster,
            "poll.interval.ms": 200,
        }

    def bad_config(self, name: str) -> tuple[dict[str, Any], str]:
        return {**self.config(name), "provenance.cluster": "not a label!"}, "provenance.cluster"

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        source = self._cluster()
        identities = []
        for number in range(start, start + count):
            partition, offset = await source.produce(bridged_record(number), key=f"ZJ{number:010d}".encode())
            identities.append(f"{self.cluster}:{source.topic}:{partition}:{offset}")
        return identities

    async def put_bad(self) -> bytes:
        value = b"\x07this is not Confluent-framed Avro"
        await self._cluster().produce_raw(value, key=b"bad")
        return value

    def output_topic(self, namespace: str) -> str:
        return f"{namespace}.events.canonical"

    async def identities(self, messages: list[ConsumerRecord], deserializer: Deserializer) -> list[str]:
        """The provenance identity of each forwarded record (the output is pre-framed: no envelope)."""
        found = []
        for message in messages:
            identity = provenance_identity(list(message.headers))
            if identity is not None:
                found.append(identity)
        return found
