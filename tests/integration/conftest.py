"""Integration fixtures: one real embedded broker per test session, buses isolated by namespace."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from streams.bus import Bus
from streams.kafka.broker import EmbeddedBroker
from streams.settings import ApiSettings, KafkaSettings, Settings
from streams.subscriptions import Subscription

# Tansu's first group join takes seconds; keep every timeout short so tests do not wait on defaults.
TEST_KAFKA = KafkaSettings(
    session_timeout_ms=6_000,
    heartbeat_interval_ms=300,
    rebalance_timeout_ms=6_000,
    request_timeout_ms=6_000,
    linger_ms=2,
)


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker()
    asyncio.run(embedded.start())
    try:
        yield embedded
    finally:
        embedded.stop()


def unique_namespace(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def bus_settings(bootstrap: str, **overrides: Any) -> Settings:
    api = overrides.pop("api", ApiSettings(port=0, publish_timeout_s=5.0))
    return Settings(
        namespace=overrides.pop("namespace", unique_namespace()),
        bootstrap_servers=bootstrap,
        kafka=TEST_KAFKA,
        api=api,
        webhook_backoff_initial_s=0.1,
        webhook_backoff_max_s=0.5,
        connectors_dir=overrides.pop("connectors_dir", None),
        connector_state_dir=overrides.pop("connector_state_dir", Path(tempfile.mkdtemp(prefix="tracebus-connectors-"))),
        **overrides,
    )


@asynccontextmanager
async def running_bus(settings: Settings, subscriptions: list[Subscription]) -> AsyncIterator[Bus]:
    assert settings.bootstrap_servers is not None
    bus = Bus(settings, subscriptions, bootstrap_servers=settings.bootstrap_servers)
    await bus.start()
    try:
        await wait_until(lambda: bus.ready, timeout_s=60, what="bus ready")
        yield bus
    finally:
        await bus.stop()


async def wait_until(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)
