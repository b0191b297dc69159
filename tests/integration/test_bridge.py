"""The Kafka bridge between two real embedded clusters: source = a second broker, target = the session broker.

The runtime's part (publish the polled messages to the target, then call
``committed``) is played by :func:`forward` with a plain producer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from connectors.base import SourceRecord
from connectors.bridge.conformance import KafkaBridgeKit, SourceCluster, bridged_record
from connectors.bridge.source import KafkaBridge
from connectors.errors import ConnectorConfigError, SourceUnavailableError
from connectors.registry import ConnectorContext, spec
from schemas.codec import Deserializer, frame, unframe
from schemas.errors import RegistryUnavailableError
from schemas.registry.base import SchemaRegistry, subject_for_topic
from schemas.registry.embedded import EmbeddedRegistry
from schemas.registry.fake import FakeSchemaRegistry
from schemas.registry.http import ConfluentRegistryClient
from streams.kafka.broker import EmbeddedBroker, free_loopback_port
from streams.kafka.clients import make_consumer, make_producer
from streams.kafka.schema_log import KafkaSchemaLog
from streams.settings import KafkaSettings
from tests.integration.conftest import TEST_KAFKA, bus_settings, unique_namespace

pytestmark = pytest.mark.integration
CLUSTER = "zhejiang"


class Target:
    """The target bus's side: its namespace, Kafka settings, registry (embedded on its own log) and a producer."""

    def __init__(self, broker: EmbeddedBroker) -> None:
        self.namespace = unique_namespace("nat")
        self.kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
        self.producer: AIOKafkaProducer = make_producer(self.kafka)
        self.registry: SchemaRegistry = EmbeddedRegistry(
            KafkaSchemaLog(self.kafka, f"{self.namespace}.schemas", self.producer)
        )

    def bridge(self, source: SourceCluster, **keys: Any) -> KafkaBridge:
        raw = {
            "name": "zj",
            "connector.class": "kafka-bridge",
            "source.bootstrap.servers": source.bootstrap_servers,
            "source.namespace": source.namespace,
            "topics": ["events.canonical"],
            "provenance.cluster": CLUSTER,
            "poll.interval.ms": 200,
            **({"source.schema.registry.url": source.registry_url} if source.registry_url else {}),
            **keys,
        }
        config = spec("kafka-bridge").parse(raw)
        settings = bus_settings(self.kafka.bootstrap_servers or "", namespace=self.namespace)
        context = ConnectorContext(settings=settings, kafka=self.kafka, registry=self.registry, state_dir=Path("/"))
        bridge = spec("kafka-bridge").create(config, context)
        assert isinstance(bridge, KafkaBridge)
        return bridge


@pytest.fixture
async def target(broker: EmbeddedBroker) -> AsyncIterator[Target]:
    side = Target(broker)
    await side.producer.start()
    await side.registry.start()
    try:
        yield side
    finally:
        await side.producer.stop()


@pytest.fixture
async def fake_registry() -> AsyncIterator[FakeSchemaRegistry]:
    async with FakeSchemaRegistry() as fake:
        yield fake


async def forward(
    bridge: KafkaBridge, producer: AIOKafkaProducer, *, until: int, timeout_s: float = 20.0
) -> list[SourceRecord]:
    """The runtime's loop: poll, publish the messages to the target (acked), then ``committed``."""
    seen: list[SourceRecord] = []
    deadline = time.monotonic() + timeout_s
    while len(seen) < until:
        assert time.monotonic() < deadline, f"bridged {len(seen)} of {until} records in {timeout_s}s"
        records = await bridge.poll()
        await forward_once(bridge, producer, records, commit=True)
        seen.extend(records)
    return seen


async def read_topic(kafka: KafkaSettings, topic: str, count: int, timeout_s: float = 15.0) -> list[Any]:
    """``count`` records of ``topic`` from the beginning, then a short wait to catch any extra."""
    consumer: AIOKafkaConsumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    found: list[Any] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        while len(found) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                found.extend(messages)
        for messages in (await consumer.getmany(timeout_ms=500)).values():
            found.extend(messages)  # anything beyond count is a repeat the test must see
    finally:
        await consumer.stop()
    return found


def headers_of(message: Any) -> dict[str, bytes]:
    return dict(message.headers)


async def test_records_arrive_reframed_with_the_targets_ids_and_provenance(
    broker: EmbeddedBroker, target: Target, fake_registry: FakeSchemaRegistry
) -> None:
    source = SourceCluster(unique_namespace("zj"), registry_url=fake_registry.url, partitions=2)
    await source.start()
    bridge = target.bridge(source)
    try:
        sent = [bridged_record(n) for n in range(4)]
        where = [
            await source.produce(r, key=f"k{n}".encode(), headers=[("x-origin", b"zj-platform")])
            for n, r in enumerate(sent)
        ]
        records = await forward(bridge, target.producer, until=4)
        target_topic = f"{target.namespace}.events.canonical"
        messages = await read_topic(target.kafka, target_topic, 4)
    finally:
        await bridge.stop()
        await source.stop()

    assert [(r.error, len(r.messages)) for r in records] == [(None, 1)] * 4
    assert len(messages) == 4
    source_id = source.serializer.schema_id if source.serializer else None
    target_id = (await target.registry.latest(subject_for_topic(target_topic))).schema_id
    assert source_id is not None
    assert source_id != target_id, "the two registries must disagree for this test to mean anything"
    assert {unframe(m.value)[0] for m in messages} == {target_id}
    decoded = {m.key: await Deserializer(target.registry).decode_any(m.value) for m in messages}
    assert decoded == {f"k{n}".encode(): record for n, record in enumerate(sent)}
    for message in messages:
        headers = headers_of(message)
        assert headers["x-origin"] == b"zj-platform"  # the original headers travel along
        assert headers["tracebus.bridge.cluster"] == CLUSTER.encode()
        assert headers["tracebus.bridge.topic"] == source.topic.encode()
        number = int(message.key[1:])
        assert (int(headers["tracebus.bridge.partition"]), int(headers["tracebus.bridge.offset"])) == where[number]
    assert sorted(r.identity for r in records) == sorted(f"{CLUSTER}:{source.topic}:{p}:{o}" for p, o in where)
    assert bridge.group_id == f"{target.namespace}-bridge-zj"


async def test_a_filter_drops_records_that_do_not_match_and_still_moves_the_position(
    broker: EmbeddedBroker, target: Target
) -> None:
    source = SourceCluster(unique_namespace("zj"))
    await source.start()
    keys = {"transforms": [{"type": "filter", "filter": {"reporters": ["zj-slaughter"]}}], "target.topic.prefix": "zj."}
    bridge = target.bridge(source, **keys)
    try:
        for n in range(6):
            await source.produce(bridged_record(n, reporter="zj-slaughter" if n % 2 == 0 else "zj-market"))
        records = await forward(bridge, target.producer, until=6)
        messages = await read_topic(target.kafka, f"{target.namespace}.zj.events.canonical", 3)
        committed = await committed_offsets(source, bridge.group_id)
    finally:
        await bridge.stop()
        await source.stop()

    assert [len(r.messages) for r in sorted(records, key=lambda r: int(r.offset))] == [1, 0, 1, 0, 1, 0]
    assert all(r.error is None for r in records)
    reporters = [(await Deserializer(target.registry).decode_any(m.value))["reporter"] for m in messages]
    assert reporters == ["zj-slaughter"] * 3
    assert committed == {0: 6}, "dropped records are committed too"


async def committed_offsets(source: SourceCluster, group: str) -> dict[int, int]:
    consumer = make_consumer(source.kafka, group_id=group)
    await consumer.start()
    try:
        tp = TopicPartition(source.topic, 0)
        offset = await consumer.committed(tp)
        return {} if offset is None else {0: offset}
    finally:
        await consumer.stop()


async def test_a_new_instance_resumes_from_the_committed_offsets_with_no_loss(
    broker: EmbeddedBroker, target: Target
) -> None:
    source = SourceCluster(unique_namespace("zj"))
    await source.start()
    try:
        for n in range(6):
            await source.produce(bridged_record(n))
        first = target.bridge(source, **{"batch.max.records": 2})
        try:
            done = await forward(first, target.producer, until=4)  # two batches, published and committed
            assert [int(r.offset) for r in done] == [0, 1, 2, 3]
            unpublished = await poll_some(first)  # the runtime failed to publish this batch ...
            again = await poll_some(first)  # ... so the next poll must hand it out again
            assert [r.identity for r in again] == [r.identity for r in unpublished]
            await forward_once(first, target.producer, again, commit=False)  # published; crash before committed
        finally:
            await first.stop()
        for n in range(6, 8):
            await source.produce(bridged_record(n))
        second = target.bridge(source, **{"batch.max.records": 2})
        try:
            resumed = await forward(second, target.producer, until=4)
        finally:
            await second.stop()
    finally:
        await source.stop()

    assert [int(r.offset) for r in resumed] == [4, 5, 6, 7], "resumes at the first uncommitted offset"
    messages = await read_topic(target.kafka, f"{target.namespace}.events.canonical", 10)
    offsets = sorted(int(headers_of(m)["tracebus.bridge.offset"]) for m in messages)
    assert offsets == [0, 1, 2, 3, 4, 4, 5, 5, 6, 7], "only the uncommitted batch repeats"


async def poll_some(bridge: KafkaBridge, timeout_s: float = 10.0) -> Sequence[SourceRecord]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        records = await bridge.poll()
        if records:
            return records
    raise AssertionError("no records polled")


async def forward_once(
    bridge: KafkaBridge, producer: AIOKafkaProducer, records: Sequence[SourceRecord], *, commit: bool
) -> None:
    """Publish the records' messages to the target (acknowledged), then, if ``commit``, call ``committed``."""
    for record in records:
        for message in record.messages:
            await producer.send_and_wait(message.topic, message.value, key=message.key, headers=list(message.headers))
    if commit and records:
        await bridge.committed(records)


async def test_an_undecodable_record_becomes_an_error_with_its_original_bytes(
    broker: EmbeddedBroker, target: Target
) -> None:
    source = SourceCluster(unique_namespace("zj"))
    await source.start()
    bridge = target.bridge(source)
    unknown_id = frame(123_456, b"\x00\x02")
    try:
        await source.produce_raw(b"plain text, no magic byte")
        await source.produce_raw(unknown_id)
        await source.produce_raw(b"\x00\x00")  # shorter than the Confluent header
        await source.produce(bridged_record(1))
        records = await forward(bridge, target.producer, until=4)
    finally:
        await bridge.stop()
        await source.stop()

    errors = [(r.error.reason, r.raw) for r in records if r.error is not None]
    assert errors == [
        ("undecodable", b"plain text, no magic byte"),
        ("undecodable", unknown_id),
        ("undecodable", b"\x00\x00"),
    ]
    assert [len(r.messages) for r in records] == [0, 0, 0, 1], "a bad record does not stop the ones after it"


class FlakyRegistry(EmbeddedRegistry):
    """The target's registry, down for its first ``failures`` registrations (a registry double, not Kafka's)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def register(self, subject: str, schema: str) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise RegistryUnavailableError("target registry answered 503")
        return await super().register(subject, schema)


async def test_a_poll_that_fails_midway_hands_out_the_same_records_next_time(
    broker: EmbeddedBroker, target: Target
) -> None:
    source = SourceCluster(unique_namespace("zj"))
    await source.start()
    target.registry = FlakyRegistry(failures=1)
    bridge = target.bridge(source)
    try:
        for n in range(3):
            await source.produce(bridged_record(n))
        assert isinstance(await first_failure(bridge), RegistryUnavailableError)
        records = await forward(bridge, target.producer, until=3)
    finally:
        await bridge.stop()
        await source.stop()
    assert [int(r.offset) for r in records] == [0, 1, 2], "nothing of the failed poll is skipped"
    assert all(len(r.messages) == 1 for r in records)


async def first_failure(bridge: KafkaBridge, timeout_s: float = 10.0) -> Exception:
    """What the first failing poll raised; polls before it must hand out nothing."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            records = await bridge.poll()
        except Exception as exc:
            return exc
        assert not records, "no record can be bridged while the target registry is down"
    raise AssertionError(f"no poll failed within {timeout_s}s")


async def test_an_unreachable_source_cluster_raises_source_unavailable(broker: EmbeddedBroker, target: Target) -> None:
    source = SourceCluster(unique_namespace("zj"))
    await source.start()
    try:
        nowhere = target.bridge(source, **{"source.bootstrap.servers": f"127.0.0.1:{free_loopback_port()}"})
        try:
            with pytest.raises(SourceUnavailableError, match="unreachable"):
                await nowhere.poll()
        finally:
            await nowhere.stop()

        bridge = target.bridge(source)  # a source that was up and goes away mid-run
        try:
            await source.produce(bridged_record(1))
            await forward(bridge, target.producer, until=1)
            source.stop_broker()
            with pytest.raises(SourceUnavailableError, match="unreachable"):
                await bridge.poll()
        finally:
            await asyncio.wait_for(bridge.stop(), 15)
    finally:
        await source.stop()


async def test_the_conformance_kit_round_trips_through_the_default_embedded_source_registry(
    broker: EmbeddedBroker, fake_registry: FakeSchemaRegistry, tmp_path: Path
) -> None:
    kit = KafkaBridgeKit()
    namespace = unique_namespace("nat")
    await kit.setup(tmp_path, bootstrap_servers=broker.bootstrap_servers, namespace=namespace)
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    registry = ConfluentRegistryClient(fake_registry.url)  # the target side uses the HTTP registry here
    await registry.start()
    producer = make_producer(kafka)
    await producer.start()
    try:
        bad, key = kit.bad_config("zj-kit")
        with pytest.raises(ConnectorConfigError) as refused:
            spec(kit.connector_class).parse(bad)
        assert key in dict(refused.value.problems)

        context = ConnectorContext(
            settings=bus_settings(broker.bootstrap_servers, namespace=namespace),
            kafka=kafka,
            registry=registry,
            state_dir=tmp_path,
        )
        bridge = spec(kit.connector_class).create(spec(kit.connector_class).parse(kit.config("zj-kit")), context)
        assert isinstance(bridge, KafkaBridge)
        good = await kit.put_good(3)
        bad_bytes = await kit.put_bad()
        more = await kit.put_good(2, start=3)
        try:
            records = await forward(bridge, producer, until=6)
        finally:
            await bridge.stop()
        messages = await read_topic(kafka, kit.output_topic(namespace), 5)
        identities = await kit.identities(messages, Deserializer(registry))
    finally:
        await producer.stop()
        await registry.close()
        await kit.teardown()

    assert sorted(identities) == sorted(good + more)
    assert [(r.error.reason, r.raw) for r in records if r.error is not None] == [("undecodable", bad_bytes)]
    # the fake registry numbers schemas from 1; the source's embedded registry derives a 31-bit hash
    assert {unframe(m.value)[0] for m in messages} == {1}
