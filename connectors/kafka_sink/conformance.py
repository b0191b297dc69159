"""Conformance kit of ``kafka-sink``: a target topic on the test broker, read back from the beginning."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord

from connectors.kafka_sink.connector import EVENT_ID_HEADER
from connectors.testing.kit import SinkKit
from streams.kafka.offsets import caught_up


async def read_topic(bootstrap_servers: str, topic: str) -> list[ConsumerRecord]:
    """Every record of ``topic``, partition by partition, to the true end (see :mod:`streams.kafka.offsets`)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer.topics()  # metadata of every topic, so the target's partitions are known
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        messages: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in partitions}
        pending = {tp for tp in partitions if not await caught_up(consumer, tp, ends[tp])}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batch.items():
                messages[tp].extend(records)
            for tp in list(pending):
                if await caught_up(consumer, tp, ends[tp]):
                    pending.discard(tp)
        return [record for tp in partitions for record in messages[tp]]
    finally:
        await consumer.stop()


def event_id(message: ConsumerRecord) -> str:
    return next(bytes(value).decode() for key, value in message.headers if key == EVENT_ID_HEADER)


class KafkaSinkKit(SinkKit):
    """The target topic has one partition, so its order is the write order."""

    connector_class = "kafka-sink"

    def __init__(self) -> None:
        self.bootstrap_servers = ""
        self.target = ""

    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.target = f"{namespace}.kit-kafka-sink-{uuid.uuid4().hex[:8]}"
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.target, 1, 1)])
        finally:
            await admin.close()

    def config(self, name: str, topic: str = "") -> dict[str, Any]:
        return {
            "name": name,
            "connector.class": self.connector_class,
            "topics": [topic or "deliver.conformance"],
            "target.topic": self.target,
            "target.bootstrap.servers": self.bootstrap_servers,
            "value.format": "epcis-json",
        }

    def bad_config(self, name: str, topic: str = "") -> tuple[dict[str, Any], str]:
        return {**self.config(name, topic), "value.format": "xml"}, "value.format"

    async def delivered(self) -> list[str]:
        return [event_id(message) for message in await read_topic(self.bootstrap_servers, self.target)]
