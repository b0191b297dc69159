"""Transforms (Kafka Connect's single message transforms) applied by the runtime.

Only ``filter`` exists: a record passes when it matches every filter of the
connector's ``transforms`` list, with a subscription's matching rules
(:mod:`streams.steps.route`). A sink skips records that do not pass (their
offsets are committed: skipping is a decision, not a failure); the bridge
drops them from what it forwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import Sink, SinkRecord
from connectors.config import Transform
from streams.steps.route import Router
from streams.subscriptions import Subscription


class RecordFilter:
    def __init__(self, transforms: Sequence[Transform]) -> None:
        self._routers = [
            Router([Subscription(name=f"transform-{index}", department="OTHER", filter=transform.filter)])
            for index, transform in enumerate(transforms)
        ]

    def __bool__(self) -> bool:
        return bool(self._routers)

    def accepts(self, record: Mapping[str, Any]) -> bool:
        return all(router.route(record) for router in self._routers)


class FilteringSink(Sink):
    """Wraps a sink so that it only sees the records its transforms accept."""

    def __init__(self, inner: Sink, transforms: Sequence[Transform]) -> None:
        self.inner = inner
        self.name = inner.name
        self._filter = RecordFilter(transforms)

    async def start(self) -> None:
        await self.inner.start()

    async def write(self, records: Sequence[SinkRecord]) -> None:
        kept = [r for r in records if self._filter.accepts(r.record)]
        if kept:
            await self.inner.write(kept)

    async def stop(self) -> None:
        await self.inner.stop()
