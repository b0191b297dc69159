"""Replay on a running bus: dead letters after a fix, and a time range to backfill a new subscription."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import pytest

from connectors.webhook.receiver import WebhookReceiver
from schemas.codec import TopicSerializer
from schemas.registry.embedded import EmbeddedRegistry
from streams.bus import CANONICAL_SCHEMA
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.schema_log import KafkaSchemaLog
from streams.replay import replay_dead_letters, replay_range
from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event
from streams.subscriptions import Subscription, SubscriptionFilter, WebhookTarget
from tests.integration.conftest import bus_settings, running_bus, wait_until
from tests.integration.test_capture_api import document, shipping

pytestmark = pytest.mark.integration


def hook(receiver: WebhookReceiver, name: str, **criteria: list[str]) -> Subscription:
    return Subscription(
        name=name,
        department="MOFCOM",
        filter=SubscriptionFilter.model_validate(criteria),
        webhook=WebhookTarget(url=f"{receiver.url}/hooks/{name}", signature_token=f"t-{name}"),
    )


async def test_range_replay_backfills_a_new_subscription_without_duplicates(broker: EmbeddedBroker) -> None:
    receiver = WebhookReceiver({"first": b"t-first", "late": b"t-late"})
    async with receiver:
        settings = bus_settings(broker.bootstrap_servers)
        async with running_bus(settings, [hook(receiver, "first")]) as bus, aiohttp.ClientSession() as session:
            assert bus.api is not None
            assert bus.store is not None
            started = int(time.time() * 1000) - 1000
            body = document(shipping(1), shipping(2), shipping(3))
            async with session.post(f"{bus.api.url}/capture", data=body, headers={"Content-Type": "application/json"}):
                pass
            await wait_until(lambda: len(receiver.accepted_ids("first")) == 3, timeout_s=30, what="first delivery")
            await bus.store.put(hook(receiver, "late"))  # a department subscribes later
            await wait_until(lambda: any(r.sink.name == "late" for r in bus.sinks), timeout_s=30, what="late sink")
            report = await replay_range(
                bus.kafka, settings.topic("events.canonical"), from_ms=started, to_ms=int(time.time() * 1000)
            )
            assert report.republished[settings.topic("events.canonical")] == 3
            await wait_until(lambda: len(receiver.accepted_ids("late")) == 3, timeout_s=60, what="backfill")
            await asyncio.sleep(3)  # two consume hops: time for any wrong redelivery to arrive
    assert sorted(receiver.accepted_ids("late")) == sorted(receiver.accepted_ids("first"))
    assert len(receiver.accepted_ids("first")) == 3, "the first subscriber must not get the replayed events again"


async def test_dead_letters_are_delivered_once_their_cause_is_fixed(broker: EmbeddedBroker) -> None:
    receiver = WebhookReceiver({"all": b"t-all"})
    async with receiver:
        settings = bus_settings(broker.bootstrap_servers)
        async with running_bus(settings, [hook(receiver, "all")]) as bus:
            assert bus.producer is not None
            # a producer with a schema version the bus does not know yet: its records are dead-lettered
            newer = orjson.loads(CANONICAL_SCHEMA.read_bytes())
            newer["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
            newer_text = orjson.dumps(newer).decode()
            offline = EmbeddedRegistry(shipped=[])
            writer = TopicSerializer(offline, settings.topic("events.canonical"), newer_text)
            await writer.bind()
            context = CaptureContext.of(reporter="MOFCOM", capture_id="c", received_at_ms=0, context=[])
            result = validate_event(shipping(77), context, now=datetime.now(UTC), future_skew=timedelta(minutes=5))
            assert isinstance(result, Emit)
            value = writer.serialize({**result.value, "note": "v3 producer"})
            await bus.producer.send_and_wait(settings.topic("events.canonical"), value, key=b"k")
            before = await replay_dead_letters(bus.kafka, settings.topic("deadletter"), stage="decode", dry_run=True)
            for _ in range(60):  # the router dead-letters it within a few consume hops
                if before.republished:
                    break
                await asyncio.sleep(0.5)
                before = await replay_dead_letters(
                    bus.kafka, settings.topic("deadletter"), stage="decode", dry_run=True
                )
            assert before.republished == {settings.topic("events.canonical"): 1}
            assert receiver.accepted_ids("all") == []
            # the fix: the new schema version is registered where every process of the bus sees it
            shared = EmbeddedRegistry(KafkaSchemaLog(bus.kafka, settings.topic("schemas"), bus.producer), shipped=[])
            await shared.register(f"{settings.topic('events.canonical')}-value", newer_text)
            report = await replay_dead_letters(bus.kafka, settings.topic("deadletter"), stage="decode")
            assert report.republished == {settings.topic("events.canonical"): 1}
            await wait_until(lambda: len(receiver.accepted_ids("all")) == 1, timeout_s=30, what="replayed delivery")
