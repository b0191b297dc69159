"""The router pipeline without Kafka: outputs, drops and dead letters for one batch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from schemas.codec import Deserializer, TopicSerializer
from schemas.registry.embedded import EmbeddedRegistry, MemorySchemaLog
from streams.bus import CANONICAL_SCHEMA
from streams.pipeline import OBSERVATION_HEADER, BatchOutcome, Pipeline
from streams.state.batch import TABLES, BatchState
from streams.state.store import StateStore
from streams.steps.base import Emit, Fail
from streams.steps.dedupe import DedupeSettings, Deduplicator
from streams.steps.route import Router
from streams.steps.validate import CaptureContext, validate_event
from streams.subscriptions import Subscription, SubscriptionFilter
from tests.unit.test_dedupe import CONTEXT, shipment

TOPICS = {"ship": "t.deliver.ship", "mara-only": "t.deliver.mara-only"}


class Harness:
    def __init__(self, serializer: TopicSerializer, pipeline: Pipeline, store: StateStore) -> None:
        self.serializer = serializer
        self.pipeline = pipeline
        self.store = store
        self.offset = 0

    def message(self, event: dict[str, Any] | None = None, *, raw: bytes | None = None) -> ConsumerRecord:
        if raw is None:
            assert event is not None
            ctx = CaptureContext.of(reporter="r", capture_id="c", received_at_ms=1, context=CONTEXT)
            result = validate_event(event, ctx, now=datetime(2026, 11, 28, tzinfo=UTC), future_skew=timedelta(0))
            assert isinstance(result, Emit)
            raw = self.serializer.serialize(result.value)
        self.offset += 1
        return ConsumerRecord("t.events.canonical", 0, self.offset, 0, 0, b"k", raw, None, 1, len(raw), [])

    async def run(self, *messages: ConsumerRecord) -> BatchOutcome:
        await self.pipeline.prepare(messages)
        state = BatchState(self.store)
        outcome = BatchOutcome()
        self.pipeline.process(messages, state, 1_000, outcome)
        self.store.write(list(state.pending()))
        return outcome


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    registry = EmbeddedRegistry(MemorySchemaLog())
    await registry.start()
    serializer = TopicSerializer(registry, "t.events.canonical", CANONICAL_SCHEMA.read_text())
    await serializer.bind()
    subscriptions = [
        Subscription(name="ship", department="MOFCOM", filter=SubscriptionFilter(biz_steps=["shipping"])),
        Subscription(name="mara-only", department="MARA", filter=SubscriptionFilter(departments=["MARA"])),
    ]
    store = StateStore(None, TABLES)
    pipeline = Pipeline(
        deserializer=Deserializer(registry, reader_schema=CANONICAL_SCHEMA.read_text()),
        serializer=serializer,
        router=Router(subscriptions),
        deduplicator=Deduplicator(DedupeSettings(), list(TOPICS)),
        subscription_topics=TOPICS,
        provenance_topic="t.events.provenance",
    )
    yield Harness(serializer, pipeline, store)
    store.close()


async def test_routes_drops_repeats_and_dead_letters_garbage(harness: Harness) -> None:
    first = harness.message(shipment("MOFCOM"))
    outcome = await harness.run(first, harness.message(shipment("MOFCOM")), harness.message(raw=b"\x00junk"))
    assert [o.topic for o in outcome.outgoing] == ["t.deliver.ship"]
    assert outcome.dropped == 1
    assert [(d.stage, d.reason, d.offset) for d in outcome.dead_letters] == [("decode", "undecodable", 3)]
    assert outcome.dead_letters[0].value == b"\x00junk"
    # a later batch still knows the event
    again = await harness.run(harness.message(shipment("MOFCOM")))
    assert again.outgoing == []
    assert again.dropped == 1


async def test_a_merged_report_feeds_provenance_and_only_new_subscribers(harness: Harness) -> None:
    await harness.run(harness.message(shipment("MOFCOM")))
    outcome = await harness.run(harness.message(shipment("MARA", hours=1)))
    assert sorted(o.topic for o in outcome.outgoing) == ["t.deliver.mara-only", "t.events.provenance"]
    routed = harness.pipeline._deserializer.decode(outcome.outgoing[0].value)
    assert [p["department"] for p in routed["provenance"]] == ["MOFCOM", "MARA"]
    assert dict(outcome.outgoing[0].headers)[OBSERVATION_HEADER].decode() == routed["observation_id"]


async def test_an_enricher_failure_is_a_dead_letter_not_a_crash(harness: Harness) -> None:
    harness.pipeline._enricher = lambda record: Fail("unexpected-error", "boom")
    outcome = await harness.run(harness.message(shipment("MOFCOM")))
    assert [(d.stage, d.reason, d.message) for d in outcome.dead_letters] == [("enrich", "unexpected-error", "boom")]
    assert outcome.outgoing == []


async def test_an_unexpected_exception_in_a_step_is_dead_lettered(harness: Harness) -> None:
    def explode(record: dict[str, Any]) -> Emit[dict[str, Any]]:
        raise RuntimeError("bug in a step")

    harness.pipeline._enricher = explode
    outcome = await harness.run(harness.message(shipment("MOFCOM")))
    assert [(d.stage, d.error_class) for d in outcome.dead_letters] == [("pipeline", "RuntimeError")]
