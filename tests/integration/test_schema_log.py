"""The embedded registry shared through Kafka: one process registers, another resolves the id."""

from __future__ import annotations

import orjson
import pytest

from schemas.errors import IncompatibleSchemaError
from schemas.registry.embedded import EmbeddedRegistry, derived_schema_id
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_producer
from streams.kafka.schema_log import KafkaSchemaLog
from streams.kafka.topics import apply_topics, concrete_topics, load_topics
from streams.settings import OPS_DIR
from tests.integration.conftest import TEST_KAFKA, bus_settings

pytestmark = pytest.mark.integration

V1 = orjson.dumps({"type": "record", "name": "Bridged", "fields": [{"name": "a", "type": "string"}]}).decode()
V2 = orjson.dumps(
    {"type": "record", "name": "Bridged", "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "int"}]}
).decode()


async def test_an_id_registered_by_one_process_resolves_in_another(broker: EmbeddedBroker) -> None:
    settings = bus_settings(broker.bootstrap_servers)
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    await apply_topics(kafka, concrete_topics(settings, load_topics(OPS_DIR / "topics.yaml"), []))
    producer = make_producer(kafka)
    await producer.start()
    try:
        topic = settings.topic("schemas")
        first = EmbeddedRegistry(KafkaSchemaLog(kafka, topic, producer), shipped=[])
        second = EmbeddedRegistry(KafkaSchemaLog(kafka, topic, producer), shipped=[])
        await first.start()
        await second.start()
        schema_id = await first.register("bridge.events-value", V1)
        assert schema_id == derived_schema_id(V1)
        assert await second.schema_by_id(schema_id) == V1  # learnt from the log, not shipped
        assert (await second.latest("bridge.events-value")).schema_id == schema_id
        with pytest.raises(IncompatibleSchemaError, match=r"bridge\.events-value"):
            await second.register("bridge.events-value", V2)  # adds a field without default: not FULL
        third = EmbeddedRegistry(KafkaSchemaLog(kafka, topic, producer), shipped=[])
        await third.start()
        assert await third.register("bridge.events-value", V1) == schema_id
    finally:
        await producer.stop()
