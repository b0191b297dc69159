"""The embedded registry's shared log on Kafka: a one-partition compacted topic.

Every process reads the whole topic at start and again when it meets an id it
does not know; ``append`` returns after the broker acknowledged (acks=all).
"""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from schemas.registry.embedded import SchemaLogEntry
from streams.kafka.clients import make_consumer
from streams.kafka.offsets import caught_up
from streams.settings import KafkaSettings


class KafkaSchemaLog:
    def __init__(self, kafka: KafkaSettings, topic: str, producer: AIOKafkaProducer) -> None:
        self._kafka = kafka
        self._topic = topic
        self._producer = producer

    async def read_all(self) -> list[SchemaLogEntry]:
        consumer = make_consumer(self._kafka, group_id=None)
        await consumer.start()
        try:
            partition = TopicPartition(self._topic, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            end = (await consumer.end_offsets([partition]))[partition]
            entries: list[SchemaLogEntry] = []
            while end and not await caught_up(consumer, partition, end):
                batch = await consumer.getmany(partition, timeout_ms=500)
                for message in batch.get(partition, []):
                    raw = orjson.loads(message.value)
                    entries.append(SchemaLogEntry(raw["subject"], int(raw["schema_id"]), raw["schema"]))
            return entries
        finally:
            await consumer.stop()

    async def append(self, entry: SchemaLogEntry) -> None:
        value = orjson.dumps({"subject": entry.subject, "schema_id": entry.schema_id, "schema": entry.schema})
        await self._producer.send_and_wait(
            self._topic, value, key=f"{entry.subject}:{entry.schema_id}".encode(), partition=0
        )
