"""Thin faust wiring: the worker process hosts the bus as a service.

faust-streaming is the application framework (worker lifecycle, signals,
logging, services); the data path is the bus's batched aiokafka loops, hosted
with ``app.service`` — measured at 0.96–1.0× the same loop standalone, where
faust's per-event agents ran at ~0.15× (``../shared/reference/performance.md``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust

from streams.bus import Bus
from streams.settings import Settings
from streams.subscriptions import Subscription


def create_app(
    settings: Settings,
    subscriptions: list[Subscription],
    *,
    bootstrap_servers: str,
    after_ready: Callable[[Bus], Awaitable[None]] | None = None,
    extra_services: tuple[type[Any], ...] = (),
) -> Any:
    """Return the faust app hosting the bus (faust instantiates and starts it at worker start)."""
    kafka = settings.effective_kafka()
    app = faust.App(
        settings.group("worker"),
        broker=f"kafka://{bootstrap_servers}",
        web_enabled=False,
        producer_acks=-1,
        topic_partitions=1,
        broker_session_timeout=kafka.session_timeout_ms / 1000,
        broker_heartbeat_interval=kafka.heartbeat_interval_ms / 1000,
        broker_request_timeout=max(kafka.request_timeout_ms / 1000, kafka.session_timeout_ms / 1000 + 5),
    )

    class HostedBus(Bus):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(
                settings,
                subscriptions,
                bootstrap_servers=bootstrap_servers,
                after_ready=after_ready,
                **kwargs,
            )

    app.service(HostedBus)
    for service in extra_services:
        app.service(service)
    return app
