"""The webhook sink: POSTs a subscription's events as an EPCIS 2.0 ``EPCISQueryDocument``.

Each request carries ``GS1-Signature`` (HMAC-SHA256 of the exact body with the
subscription's token), the events' identities in ``Tracebus-Event-IDs`` and an
``Idempotency-Key`` for the batch, so a receiver can verify the sender and
drop a redelivery. Only a 2xx answer counts as delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import aiohttp
import orjson

from connectors.base import Sink, SinkRecord
from connectors.errors import RetriableSinkError, SinkRejectedError
from connectors.webhook.signing import (
    EVENT_IDS_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    event_ids_header,
    idempotency_key,
    sign_body,
)
from schemas.epcis.jsonld import render_events

# the receiver may recover from these; any other 4xx is the receiver refusing the content itself
_RETRIABLE_STATUS: Final = frozenset({408, 425, 429})


def query_document(subscription: str, records: Sequence[SinkRecord]) -> bytes:
    """The EPCIS 2.0 subscription callback body for ``records``, each event as it was submitted."""
    contexts, events = render_events([r.record for r in records])
    document = {
        "@context": contexts,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "subscriptionID": subscription,
                "resultsBody": {"eventList": events},
            }
        },
    }
    return orjson.dumps(document)


class WebhookSink(Sink):
    def __init__(self, name: str, url: str, token: bytes, *, timeout_s: float = 10.0) -> None:
        self.name = name
        self._url = url
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never show the token
        return f"WebhookSink(name={self.name!r}, url={self._url!r})"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def write(self, records: Sequence[SinkRecord]) -> None:
        if not records:
            return
        if self._session is None:
            raise RuntimeError("WebhookSink.write before start()")
        body = query_document(self.name, records)
        event_ids = [r.delivery_id for r in records]
        headers = {
            "Content-Type": "application/ld+json",
            SIGNATURE_HEADER: sign_body(body, self._token),
            EVENT_IDS_HEADER: event_ids_header(event_ids),
            IDEMPOTENCY_HEADER: idempotency_key(event_ids),
        }
        try:
            async with self._session.post(self._url, data=body, headers=headers) as response:
                status = response.status
                detail = (await response.text())[:300] if status >= 300 else ""
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetriableSinkError(f"POST {self._url} failed: {type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return
        if status >= 500 or status in _RETRIABLE_STATUS:
            raise RetriableSinkError(f"POST {self._url} answered {status}: {detail}")
        raise SinkRejectedError(f"POST {self._url} answered {status}: {detail}", reason=f"http-{status}")
