"""Producer and consumer construction from :class:`~streams.settings.KafkaSettings`.

All producers use ``acks=all``. The idempotent producer is not enabled: the
embedded broker's InitProducerId fails, and correctness here never depends on
it (outputs are keyed by event identity and sinks are idempotent).
"""

from __future__ import annotations

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
