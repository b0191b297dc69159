"""A process can run only some roles: a capture front end without router or sinks."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from streams.kafka.broker import EmbeddedBroker
from streams.subscriptions import Subscription, WebhookTarget
from tests.integration.conftest import bus_settings, running_bus
from tests.integration.test_capture_api import document, shipping

pytestmark = pytest.mark.integration


async def test_api_only_process_captures_without_router_or_sinks(broker: EmbeddedBroker) -> None:
    settings = bus_settings(broker.bootstrap_servers, roles=frozenset({"api"}))
    subscriptions = [
        Subscription(
            name="hooked",
            department="SAMR",
            webhook=WebhookTarget(url="http://127.0.0.1:9/hooks/hooked", signature_token="t"),
        )
    ]
    async with running_bus(settings, subscriptions) as bus:
        assert bus.router is None
        assert bus.sinks == []
        assert bus.api is not None
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{bus.api.url}/readyz") as response:
                assert response.status == 200
                assert orjson.loads(await response.read())["components"] == {
                    "subscriptions": True,
                    "api": True,
                    "connectors": True,
                }
            headers = {"Content-Type": "application/ld+json"}
            async with session.post(f"{bus.api.url}/capture", data=document(shipping(1)), headers=headers) as response:
                assert response.status == 202
