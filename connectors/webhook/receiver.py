"""A webhook receiver shipped as a test double and demo target.

It serves ``POST /hooks/{subscription}`` on loopback, verifies
``GS1-Signature`` with the token configured for that subscription, and keeps
a raw log of every request (subscription, identities, verified or not,
status answered) for tests to check delivery against. It can be told to fail
requests, to exercise retries: the next N of a subscription (``fail_next``),
every Nth (``fail_every``, counted per subscription over signed requests), or
whichever a test's ``refuse`` hook picks from the events it carries (say, the
events of one trace key, for a while).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from connectors.webhook.signing import (
    EVENT_IDS_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    parse_event_ids_header,
    verify_signature,
)


@dataclass(frozen=True, slots=True)
class ReceivedDelivery:
    subscription: str
    event_ids: list[str]
    idempotency_key: str | None
    signature_ok: bool
    status: int
    events: list[dict[str, Any]] = field(repr=False)


class WebhookReceiver:
    def __init__(
        self,
        tokens: Mapping[str, bytes],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_delivery: Callable[[ReceivedDelivery], None] | None = None,
    ) -> None:
        self._tokens = dict(tokens)
        self._host = host
        self._port = port
        self._on_delivery = on_delivery
        self.deliveries: list[ReceivedDelivery] = []
        self.fail_next: dict[str, int] = {}
        self.fail_every: dict[str, int] = {}
        self.fail_status = 503
        self.refuse: Callable[[str, list[dict[str, Any]]], int | None] | None = None
        """(subscription, the request's events) → a status to answer instead of 200, or None to accept."""
        self._signed: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.arrived = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        subscription = request.match_info["subscription"]
        body = await request.read()
        token = self._tokens.get(subscription)
        signature_ok = token is not None and verify_signature(body, token, request.headers.get(SIGNATURE_HEADER))
        ids = parse_event_ids_header(request.headers.get(EVENT_IDS_HEADER, ""))
        status = 200 if signature_ok else 401
        events: list[dict[str, Any]] = []
        if signature_ok:
            document = orjson.loads(body)
            events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            number = self._signed[subscription] = self._signed.get(subscription, 0) + 1
            every = self.fail_every.get(subscription, 0)
            refused = self.refuse(subscription, events) if self.refuse is not None else None
            if self.fail_next.get(subscription, 0) > 0:
                self.fail_next[subscription] -= 1
                status = self.fail_status
            elif every > 0 and number % every == 0:
                status = self.fail_status
            elif refused is not None:
                status = refused
        delivery = ReceivedDelivery(
            subscription=subscription,
            event_ids=ids,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
            signature_ok=signature_ok,
            status=status,
            events=events,
        )
        self.deliveries.append(delivery)
        self.arrived.set()
        if self._on_delivery is not None:
            self._on_delivery(delivery)
        return web.Response(status=status)

    def accepted_ids(self, subscription: str) -> list[str]:
        """Identities answered 2xx for ``subscription``, in arrival order, repeats included."""
        return [i for d in self.deliveries if d.subscription == subscription and d.status == 200 for i in d.event_ids]

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/hooks/{subscription}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1] if self._runner.addresses else self._port
        self.url = f"http://{self._host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
