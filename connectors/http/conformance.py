"""Conformance kit of the HTTP push source: real POSTs to the connector's real listening socket.

The kit picks a free port in ``setup`` and configures it, so a killed and
restarted connector listens at the same URL. Records can only be pushed while
the connector runs, so ``put_good`` retries (connection refused or reset, 503)
until it gets its 202, for up to a minute: that is what a platform's client
does, and identities make the retries harmless. Only test code imports this module.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson

from connectors.http.source import canonical_json
from connectors.testing.kit import SourceKit

SLAUGHTERHOUSE: Final = "91350200776049653A"
MARKET: Final = "91440101MA5CJQ4N59"
CLIENT: Final = "mara-county"
RETRY_FOR_S: Final = 60.0


def movement(number: int, salt: str) -> dict[str, Any]:
    """One shipment of a pork batch from the slaughterhouse to the market (去向), as a platform pushes it."""
    return {
        "event_time": "2026-11-20 06:30",
        "biz_step": "shipping",
        "business_uscc": SLAUGHTERHOUSE,
        "batch": f"PORK-{salt}-{number:06d}",
        "quantity": 10 + number % 90,
        "uom": "KGM",
        "source_uscc": SLAUGHTERHOUSE,
        "destination_uscc": MARKET,
        "destination_name": "广州农贸市场",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class HttpSourceKit(SourceKit):
    connector_class = "http-source"
    pushes_while_running = True

    def __init__(self) -> None:
        self.salt = uuid.uuid4().hex[:8]
        self.token = uuid.uuid4().hex
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/records"

    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        self.port = free_port()

    def config(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "connector.class": self.connector_class,
            "listen.port": self.port,
            "tokens": {CLIENT: self.token},
            "mapper": "flat-movement",
            "poll.interval.ms": 100,
            "request.timeout.ms": 10_000,
        }

    def bad_config(self, name: str) -> tuple[dict[str, Any], str]:
        return {**self.config(name), "listen.port": 70_000}, "listen.port"

    async def push(self, records: list[Any]) -> dict[str, Any]:
        """POST ``records`` until answered 202 (retrying refusals, resets and 503); the 202 body."""
        deadline = time.monotonic() + RETRY_FOR_S
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        body = orjson.dumps({"records": records})
        last = "no attempt"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            while time.monotonic() < deadline:
                try:
                    async with session.post(self.url, data=body, headers=headers) as response:
                        if response.status == 202:
                            answer: dict[str, Any] = await response.json()
                            return answer
                        last = f"HTTP {response.status}: {await response.text()}"
                        if response.status != 503:
                            raise AssertionError(f"POST {self.url} answered {last}")
                except (aiohttp.ClientError, TimeoutError) as exc:  # refused or reset while restarting
                    last = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.2)
        raise AssertionError(f"POST {self.url} not accepted within {RETRY_FOR_S:.0f}s (last: {last})")

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        # One record per request, in order: a request cut by a kill is retried whole, so pushing one
        # record at a time keeps the repeats to what was really in flight (as the suite checks).
        identities: list[str] = []
        for number in range(start, start + count):
            answer = await self.push([movement(number, self.salt)])
            identities.extend(str(identity) for identity in answer["identities"])
        return identities

    async def put_bad(self) -> bytes:
        bad = {**movement(999_999, self.salt), "quantity": "十二"}  # not a number: refused by the mapper
        answer = await self.push([bad])
        assert answer["dead_lettered"] == 1, answer
        return canonical_json(bad)
