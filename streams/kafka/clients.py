"""Producer and consumer construction from :class:`~streams.settings.KafkaSettings`.

All producers use ``acks=all``. The idempotent producer is not enabled: the
embedded broker's InitProducerId fails, and correctness here never depends on
it (outputs are keyed by event identity and sinks are idempotent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.errors import ConfigurationError
from streams.settings import KafkaSettings


def _common(settings: KafkaSettings) -> dict[str, Any]:
    if not settings.bootstrap_servers:
        raise ConfigurationError("no Kafka bootstrap servers: set KAFKA_BOOTSTRAP_SERVERS or start the embedded broker")
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "request_timeout_ms": settings.request_timeout_ms,
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return options


def make_producer(settings: KafkaSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **_common(settings),
        acks="all",
        enable_idempotence=False,
        max_batch_size=settings.max_batch_size,
        linger_ms=settings.linger_ms,
    )


def make_consumer(settings: KafkaSettings, *, group_id: str | None, **overrides: Any) -> AIOKafkaConsumer:
    """A consumer that never auto-commits: callers commit after their outputs are durable."""
    options: dict[str, Any] = {
        **_common(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "rebalance_timeout_ms": settings.rebalance_timeout_ms,
        "max_poll_records": settings.max_poll_records,
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
    }
    options.update(overrides)
    return AIOKafkaConsumer(**options)


def make_admin(settings: KafkaSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**_common(settings))


async def send_batched(
    producer: AIOKafkaProducer,
    records: Iterable[tuple[str, int | None, bytes | None, bytes | None, Sequence[tuple[str, bytes]]]],
) -> list[asyncio.Future[Any]]:
    """Send (topic, partition or None, key, value, headers) records as one record batch per topic-partition.

    Appending to a batch costs a fraction of a ``send()`` per record, and the
    router sends several records per event. A record without a partition goes
    where ``send()`` would put it (the producer's own partitioner, the Java
    client's murmur2 for keyed records), so keys keep their partitions and
    co-partitioned topics stay aligned. Returns the futures of the batches'
    acknowledgements. Uses aiokafka's partitioning internals (``client``,
    ``_partition``), pinned with aiokafka's version and checked against
    ``send()`` by ``tests/integration/test_send_batched.py``.
    """
    if not isinstance(producer, AIOKafkaProducer):  # a test double (streams.testing.RecordingProducer): plain sends
        return [
            await producer.send(topic, value, key=key, partition=partition, headers=list(headers))
            for topic, partition, key, value, headers in records
        ]
    grouped: dict[tuple[str, int], list[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]]] = {}
    known: set[str] = set()
    for topic, partition, key, value, headers in records:
        if topic not in known:
            await producer.client._wait_on_metadata(topic)  # as send() does before partitioning
            known.add(topic)
        if partition is None:
            partition = producer._partition(topic, None, key, value, key, value)
        grouped.setdefault((topic, partition), []).append((key, value, headers))
    futures: list[asyncio.Future[Any]] = []
    for (topic, partition), entries in grouped.items():
        builder = producer.create_batch()
        for key, value, headers in entries:
            if builder.append(key=key, value=value, timestamp=None, headers=list(headers)) is None:
                futures.append(await producer.send_batch(builder, topic, partition=partition))
                builder = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None, headers=list(headers))
        futures.append(await producer.send_batch(builder, topic, partition=partition))
    return futures
