"""streams.reference without a broker: how one Kafka record changes the tables, and what is skipped."""

from __future__ import annotations

from typing import Any, cast

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from schemas.codec import Deserializer, TopicSerializer, frame
from schemas.registry.embedded import EmbeddedRegistry
from streams.reference import SCHEMAS, TOPICS, Kind, ReferenceTables, _TopicReader
from streams.settings import KafkaSettings, Settings

USCC = "92330109MA2B00043H"
FARMER = {"name": "王某某", "natural_person": True, "credit_grade": None, "region_code": "330109", "licences": []}


def message(key: bytes | None, value: bytes | None, offset: int = 0) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord("t.reference.businesses", 0, offset, 0, 0, key, value, None, 0, 0, ())


async def setup(kind: Kind = "business") -> tuple[ReferenceTables, _TopicReader, TopicSerializer]:
    registry = EmbeddedRegistry()
    settings = Settings(namespace="t", bootstrap_servers="127.0.0.1:1")
    tables = ReferenceTables.for_settings(settings, registry, kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    serializer = TopicSerializer(registry, settings.topic(TOPICS[kind]), SCHEMAS[kind])
    await serializer.bind()
    consumer = cast(AIOKafkaConsumer, None)  # _apply_message never touches the consumer
    reader = _TopicReader(kind, serializer.topic, consumer, Deserializer(registry, reader_schema=SCHEMAS[kind]))
    return tables, reader, serializer


async def test_a_value_upserts_and_a_tombstone_deletes() -> None:
    tables, reader, serializer = await setup()
    await tables._apply_message(reader, message(USCC.encode(), serializer.serialize(FARMER)))
    assert tables.business(USCC) == {"uscc": USCC, **FARMER}
    graded = {**FARMER, "credit_grade": "B"}
    await tables._apply_message(reader, message(USCC.encode(), serializer.serialize(graded), 1))
    business = tables.business(USCC)
    assert business is not None
    assert business["credit_grade"] == "B"
    await tables._apply_message(reader, message(USCC.encode(), None, 2))
    assert tables.business(USCC) is None
    assert tables.sizes() == {"business": 0, "product": 0, "catalogue": 0}
    assert tables.skipped == 0


async def test_records_that_cannot_be_applied_are_skipped_and_counted() -> None:
    tables, reader, serializer = await setup()
    await tables._apply_message(reader, message(None, serializer.serialize(FARMER)))
    await tables._apply_message(reader, message(b"\xff\xfe", serializer.serialize(FARMER)))
    await tables._apply_message(reader, message(USCC.encode(), b"not avro"))
    await tables._apply_message(reader, message(USCC.encode(), frame(12345, b"\x00")))  # unknown schema id
    assert tables.skipped == 4
    assert tables.business(USCC) is None


async def test_products_and_catalogue_entries_take_their_key() -> None:
    tables, reader, serializer = await setup("product")
    value = {"name": "白条猪肉", "category": "0101", "spec": None}
    await tables._apply_message(reader, message(b"06901234123456", serializer.serialize(value)))
    assert tables.product("06901234123456") == {"code": "06901234123456", **value}
    tables, reader, serializer = await setup("catalogue")
    entry = {"name": "猪肉", "traced": True, "department": "MOFCOM", "since": "2010-10-01"}
    await tables._apply_message(reader, message(b"0101", serializer.serialize(entry)))
    assert tables.catalogue("0101") == {"category": "0101", **entry}


async def test_tables_are_not_ready_before_they_start() -> None:
    tables, _, _ = await setup()
    assert not tables.ready
    assert not tables.ready_event.is_set()
