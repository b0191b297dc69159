"""When Kafka cannot acknowledge, capture answers 503 and reports nothing as captured."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from streams.kafka.broker import EmbeddedBroker
from streams.settings import ApiSettings
from streams.subscriptions import Subscription
from tests.integration.conftest import bus_settings, running_bus
from tests.integration.test_capture_api import document, shipping

pytestmark = pytest.mark.integration


async def test_capture_answers_503_while_the_broker_is_unreachable() -> None:
    own_broker = EmbeddedBroker()  # this test kills its broker: it must not be the shared one
    bootstrap = await own_broker.start()
    try:
        settings = bus_settings(bootstrap, api=ApiSettings(port=0, publish_timeout_s=2.0))
        async with running_bus(settings, [Subscription(name="all", department="SAMR")]) as bus:
            assert bus.api is not None
            url = bus.api.url
            async with aiohttp.ClientSession() as session:
                headers = {"Content-Type": "application/ld+json"}
                async with session.post(f"{url}/capture", data=document(shipping(1)), headers=headers) as response:
                    assert response.status == 202
                own_broker.stop()
                async with session.post(f"{url}/capture", data=document(shipping(2)), headers=headers) as response:
                    problem = orjson.loads(await response.read())
                    assert response.status == 503
                assert problem["title"] == "Kafka unavailable"
                assert "nothing was captured" in problem["detail"]
                async with session.get(f"{url}/capture") as response:
                    jobs = orjson.loads(await response.read())
                assert len(jobs) == 1, "the failed capture must not be reported as a job"
    finally:
        own_broker.stop()
