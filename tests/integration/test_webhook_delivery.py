"""Webhook delivery on a running bus: retries, dead letters after refusal, subscribers independent."""

from __future__ import annotations

import aiohttp
import pytest

from connectors.webhook.receiver import WebhookReceiver
from streams.deadletter import read_context
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_consumer
from streams.subscriptions import Subscription, WebhookTarget
from tests.integration.conftest import TEST_KAFKA, bus_settings, running_bus, wait_until
from tests.integration.test_capture_api import document, shipping

pytestmark = pytest.mark.integration


def _subscription(receiver: WebhookReceiver, name: str) -> Subscription:
    return Subscription(
        name=name,
        department="MARA",
        webhook=WebhookTarget(url=f"{receiver.url}/hooks/{name}", signature_token=f"t-{name}"),
    )


async def test_retries_then_dead_letters_without_blocking_other_subscribers(broker: EmbeddedBroker) -> None:
    receiver = WebhookReceiver({"flaky": b"t-flaky", "refusing": b"t-refusing", "steady": b"t-steady"})
    async with receiver:
        receiver.fail_next["flaky"] = 2  # 503 twice, then accepted at the third and last attempt
        settings = bus_settings(broker.bootstrap_servers, webhook_max_attempts=3)
        subscriptions = [_subscription(receiver, n) for n in ("flaky", "refusing", "steady")]
        # "refusing" verifies with a different token than the bus signs with: every delivery gets 401
        receiver._tokens["refusing"] = b"wrong-token"
        async with running_bus(settings, subscriptions) as bus, aiohttp.ClientSession() as session:
            assert bus.api is not None
            # one trace key (the same EPC), three moments: one partition, so their order is defined
            times = ["2026-11-20T06:30:00+08:00", "2026-11-20T07:30:00+08:00", "2026-11-20T08:30:00+08:00"]
            body = document(*[shipping(7, eventTime=t) for t in times])
            async with session.post(
                f"{bus.api.url}/capture", data=body, headers={"Content-Type": "application/json"}
            ) as r:
                assert r.status == 202
            await wait_until(lambda: len(receiver.accepted_ids("steady")) == 3, timeout_s=30, what="steady delivered")
            await wait_until(lambda: len(receiver.accepted_ids("flaky")) == 3, timeout_s=30, what="flaky delivered")
            flaky = [d for d in receiver.deliveries if d.subscription == "flaky"]
            assert [d.status for d in flaky][:2] == [503, 503]
            # a retried batch is resent as it was: same identities, same idempotency key
            assert flaky[0].idempotency_key == flaky[1].idempotency_key == flaky[2].idempotency_key
            assert flaky[0].event_ids == flaky[2].event_ids
            # per-key order kept for the retried subscriber
            delivered = [e["eventTime"] for d in flaky if d.status == 200 for e in d.events]
            assert delivered == times
            letters = await _dead_letters(bus.settings.topic("deadletter"), broker.bootstrap_servers, expected=3)
    refused = [d for d in receiver.deliveries if d.subscription == "refusing"]
    assert refused
    assert all(d.status == 401 for d in refused)
    refused_ids = [i for d in refused for i in d.event_ids]
    assert len(refused_ids) == len(set(refused_ids)) == 3, "a 4xx refusal is final: no retry"
    assert len(letters) == 3
    for context in letters:
        assert context["stage"] == "sink:refusing"
        assert context["reason"] == "http-401"
        assert context["connector.name"] == "refusing"
        assert context["topic"] == bus.settings.topic("deliver.refusing")


async def _dead_letters(topic: str, bootstrap: str, *, expected: int) -> list[dict[str, str]]:
    consumer = make_consumer(TEST_KAFKA.model_copy(update={"bootstrap_servers": bootstrap}), group_id=None)
    await consumer.start()
    found: list[dict[str, str]] = []
    try:
        consumer.subscribe([topic])
        for _ in range(60):
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(read_context(m.headers) for m in messages)
            if len(found) >= expected:
                break
    finally:
        await consumer.stop()
    return found
