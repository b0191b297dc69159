"""Connector input is validated in the stream exactly as capture validates: valid events flow, the rest dead-letter."""

from __future__ import annotations

import pytest

from connectors.webhook.receiver import WebhookReceiver
from schemas.codec import TopicSerializer
from streams.ingest_service import INCOMING_SCHEMA, incoming_record
from streams.kafka.broker import EmbeddedBroker
from streams.subscriptions import Subscription, WebhookTarget
from tests.integration.conftest import bus_settings, running_bus, wait_until
from tests.integration.test_capture_api import shipping
from tests.integration.test_webhook_delivery import _dead_letters

pytestmark = pytest.mark.integration


async def test_incoming_events_are_validated_then_routed_or_dead_lettered(broker: EmbeddedBroker) -> None:
    receiver = WebhookReceiver({"all": b"t"})
    async with receiver:
        settings = bus_settings(broker.bootstrap_servers)
        subscription = Subscription(
            name="all", department="SAMR", webhook=WebhookTarget(url=f"{receiver.url}/hooks/all", signature_token="t")
        )
        async with running_bus(settings, [subscription]) as bus:
            assert bus.producer is not None
            assert bus.registry is not None
            incoming = TopicSerializer(bus.registry, settings.topic("events.incoming"), INCOMING_SCHEMA.read_text())
            await incoming.bind()
            negative = shipping(3, quantityList=[{"epcClass": "urn:epc:class:lgtin:6901234.012345.L1", "quantity": -2}])
            records = [
                incoming_record(shipping(1), source="file-drop", reporter="SAMR", source_record="ledger.csv:2"),
                incoming_record(shipping(2), source="file-drop", reporter="SAMR", source_record="ledger.csv:3"),
                incoming_record(negative, source="file-drop", reporter="SAMR", source_record="ledger.csv:4"),
            ]
            topic = settings.topic("events.incoming")
            for record in records:
                await bus.producer.send_and_wait(topic, incoming.serialize(record), key=b"ledger.csv")
            await bus.producer.send_and_wait(topic, b"\x00\x00\x00\x00\x01garbage", key=b"ledger.csv")
            await wait_until(lambda: len(receiver.accepted_ids("all")) == 2, timeout_s=30, what="two deliveries")
            letters = await _dead_letters(settings.topic("deadletter"), broker.bootstrap_servers, expected=2)
    serials = sorted(str(e["epcList"][0]).rsplit(".", 1)[1] for d in receiver.deliveries for e in d.events)
    assert serials == ["1", "2"]
    assert sorted((c["stage"], c["reason"]) for c in letters) == [
        ("decode", "undecodable"),
        ("validate", "bad-quantity"),
    ]
    assert all(c["topic"] == settings.topic("events.incoming") for c in letters)
