"""kafka-sink on the embedded broker: EPCIS JSON-LD or Avro values, identity headers, read back by its kit."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from connectors.base import SinkRecord
from connectors.errors import SinkRejectedError
from connectors.kafka_sink.conformance import KafkaSinkKit, read_topic
from connectors.kafka_sink.connector import KafkaSink, KafkaSinkConfig
from connectors.registry import ConnectorContext, spec
from schemas.epcis.hash import event_hash
from streams.kafka.broker import EmbeddedBroker
from streams.settings import Settings
from streams.testing import movement_record
from tests.integration.conftest import TEST_KAFKA, unique_namespace

pytestmark = pytest.mark.integration

FRAMED = b"\x00\x00\x00\x00\x07avro-body"


def records(count: int, *, start: int = 0) -> list[SinkRecord]:
    made = []
    for serial in range(start, start + count):
        record = movement_record(
            event_time=f"2026-11-20T06:{serial:02d}:00.000+08:00", trace_code=f"K{serial:05d}", reporter="samr"
        )
        made.append(
            SinkRecord(
                topic="t.deliver.samr-all",
                partition=0,
                offset=serial,
                key=str(record["trace_key"]).encode(),
                value=FRAMED + bytes([serial]),
                headers=(),
                record=record,
            )
        )
    return made


def context(broker: EmbeddedBroker, tmp_path: Path) -> ConnectorContext:
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    return ConnectorContext(settings=Settings(), kafka=kafka, registry=None, state_dir=tmp_path)


async def started_kit(broker: EmbeddedBroker, tmp_path: Path) -> KafkaSinkKit:
    kit = KafkaSinkKit()
    await kit.setup(tmp_path, bootstrap_servers=broker.bootstrap_servers, namespace=unique_namespace())
    return kit


async def test_epcis_json_values_with_identity_headers_and_trace_key(broker: EmbeddedBroker, tmp_path: Path) -> None:
    kit = await started_kit(broker, tmp_path)
    config = spec("kafka-sink").parse(kit.config("samr-kafka", "deliver.samr-all"))
    sink = spec("kafka-sink").create(config, context(broker, tmp_path))
    assert isinstance(sink, KafkaSink)
    batch = records(3)
    await sink.start()
    try:
        await sink.write(batch)
        await sink.write(batch[2:])  # a redelivery: at-least-once, the same identity again
    finally:
        await sink.stop()

    assert await kit.delivered() == [r.event_id for r in batch] + [batch[2].event_id]
    messages = await read_topic(broker.bootstrap_servers, kit.target)
    first = messages[0]
    assert first.key == b"trace:K00000"
    assert dict(first.headers) == {
        "tracebus.event.id": batch[0].event_id.encode(),
        "tracebus.observation.id": batch[0].event_id.encode(),  # reported once: the event is the observation
        "content-type": b"application/ld+json",
    }
    event = orjson.loads(first.value)
    context_entries = event.pop("@context")
    assert event["type"] == "ObjectEvent"
    assert event_hash(event, context_entries) == batch[0].event_id


async def test_avro_values_are_forwarded_unchanged_on_the_bus_cluster_by_default(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    kit = await started_kit(broker, tmp_path)
    raw = {**kit.config("samr-avro"), "value.format": "avro"}
    del raw["target.bootstrap.servers"]
    config = KafkaSinkConfig.model_validate(raw)
    sink = KafkaSink.create(config, context(broker, tmp_path))
    batch = records(2)
    await sink.start()
    try:
        await sink.write(batch)
    finally:
        await sink.stop()
    messages = await read_topic(broker.bootstrap_servers, kit.target)
    assert [m.value for m in messages] == [r.value for r in batch]
    assert dict(messages[0].headers)["content-type"] == b"application/avro; framing=confluent"


async def test_a_record_too_large_for_kafka_is_rejected_not_retried(broker: EmbeddedBroker, tmp_path: Path) -> None:
    kit = await started_kit(broker, tmp_path)
    config = KafkaSinkConfig.model_validate({**kit.config("samr-big"), "value.format": "avro"})
    sink = KafkaSink.create(config, context(broker, tmp_path))
    (record,) = records(1)
    huge = SinkRecord(
        topic=record.topic,
        partition=0,
        offset=0,
        key=record.key,
        value=FRAMED + b"x" * 2_000_000,  # over the producer's 1 MiB max_request_size
        headers=(),
        record=record.record,
    )
    await sink.start()
    try:
        with pytest.raises(SinkRejectedError) as rejected:
            await sink.write([huge])
    finally:
        await sink.stop()
    assert rejected.value.reason == "too-large"
    assert await kit.delivered() == []


def test_bad_value_format_is_refused_naming_the_key() -> None:
    kit = KafkaSinkKit()
    raw, key = kit.bad_config("samr-kafka")
    with pytest.raises(Exception, match=key):
        spec("kafka-sink").parse(raw)
