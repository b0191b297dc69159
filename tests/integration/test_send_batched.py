"""``send_batched``: records go to the partitions ``send()`` would choose, in order, all acknowledged."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import NewTopic

from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_admin, make_producer, send_batched
from streams.kafka.read import read_topic
from tests.integration.conftest import TEST_KAFKA, unique_namespace

pytestmark = pytest.mark.integration


async def test_batched_records_land_where_send_puts_them(broker: EmbeddedBroker) -> None:
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    ns = unique_namespace("sb")
    admin = make_admin(kafka)
    await admin.start()
    await admin.create_topics([NewTopic(f"{ns}.one", 6, 1), NewTopic(f"{ns}.two", 6, 1)])
    await admin.close()
    producer = make_producer(kafka)
    await producer.start()
    try:
        keys = [f"trace:T{n}".encode() for n in range(200)]
        plain = [await producer.send(f"{ns}.one", b"v%d" % n, key=key) for n, key in enumerate(keys)]
        await asyncio.gather(*plain)
        records = [(f"{ns}.two", None, key, b"v%d" % n, [("h", b"x")]) for n, key in enumerate(keys)]
        acknowledged = await asyncio.gather(*await send_batched(producer, records))
        assert len(acknowledged) <= 6
    finally:
        await producer.stop()
    one = await read_topic(kafka, f"{ns}.one")
    two = await read_topic(kafka, f"{ns}.two")
    assert {m.key: m.partition for m in two} == {m.key: m.partition for m in one}
    assert len({m.partition for m in two}) == 6
    for partition in range(6):  # order within a partition is kept
        assert [m.value for m in two if m.partition == partition] == [m.value for m in one if m.partition == partition]
    assert all(m.headers == (("h", b"x"),) or list(m.headers) == [("h", b"x")] for m in two)
