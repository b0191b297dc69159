"""Conformance kit of the webhook sink: a real local HTTP receiver that verifies every signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.testing.kit import SinkKit
from connectors.webhook.receiver import WebhookReceiver

_TOKEN = "conformance-token"


class WebhookSinkKit(SinkKit):
    connector_class = "webhook"

    def __init__(self) -> None:
        self._receiver = WebhookReceiver({"conformance": _TOKEN.encode()})

    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        await self._receiver.start()

    async def teardown(self) -> None:
        await self._receiver.stop()

    def config(self, name: str, topic: str = "") -> dict[str, Any]:
        return {
            "name": name,
            "connector.class": self.connector_class,
            "topics": [topic],
            "url": f"{self._receiver.url}/hooks/conformance",
            "signature.token": _TOKEN,
            "request.timeout.ms": 5_000,
        }

    def bad_config(self, name: str, topic: str = "") -> tuple[dict[str, Any], str]:
        return {**self.config(name, topic), "url": "not a url"}, "url"

    async def delivered(self) -> list[str]:
        assert all(d.signature_ok for d in self._receiver.deliveries), "every delivery must carry a valid signature"
        return self._receiver.accepted_ids("conformance")
