"""Personal data: the owning department (or an entitled subscription) gets it, every other subscriber a masked view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from schemas.codec import Deserializer, TopicSerializer
from schemas.registry.embedded import EmbeddedRegistry, MemorySchemaLog
from streams.bus import CANONICAL_SCHEMA
from streams.pipeline import BatchOutcome, Pipeline
from streams.state.batch import TABLES, BatchState
from streams.state.store import StateStore
from streams.steps.base import Emit
from streams.steps.dedupe import DedupeSettings, Deduplicator
from streams.steps.personal import MASKED_FLAG, mask_value, personal_keys
from streams.steps.route import Router
from streams.steps.validate import CaptureContext, validate_event
from streams.subscriptions import Subscription
from tests.unit.test_dedupe import shipment

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"tb": "urn:tracebus:ns:trace:", "who": "urn:tracebus:ns:personal:"},  # any prefix bound to the namespace
]
ID_NUMBER = "330109196804122318"
PHONE = "13905710043"
SUBSCRIPTIONS = [
    Subscription(name="mara-own", department="MARA"),  # the owning department: entitled by default
    Subscription(name="samr", department="SAMR"),  # another department: masked by default
    Subscription(name="samr-entitled", department="SAMR", personal_data="entitled"),
    Subscription(name="mara-masked", department="MARA", personal_data="masked"),
]
TOPICS = {s.name: f"t.deliver.{s.name}" for s in SUBSCRIPTIONS}


@pytest.fixture
async def setup() -> AsyncIterator[tuple[Pipeline, TopicSerializer, Deserializer, StateStore]]:
    registry = EmbeddedRegistry(MemorySchemaLog())
    await registry.start()
    serializer = TopicSerializer(registry, "t.events.canonical", CANONICAL_SCHEMA.read_text())
    await serializer.bind()
    deserializer = Deserializer(registry, reader_schema=CANONICAL_SCHEMA.read_text())
    store = StateStore(None, TABLES)
    pipeline = Pipeline(
        deserializer=deserializer,
        serializer=serializer,
        router=Router(SUBSCRIPTIONS),
        deduplicator=Deduplicator(DedupeSettings(), list(TOPICS)),
        subscription_topics=TOPICS,
        provenance_topic="t.events.provenance",
    )
    yield pipeline, serializer, deserializer, store
    store.close()


def _record(event: dict[str, Any]) -> dict[str, Any]:
    ctx = CaptureContext.of(reporter="MARA", capture_id="c", received_at_ms=1, context=CONTEXT)
    result = validate_event(event, ctx, now=datetime(2026, 11, 28, tzinfo=UTC), future_skew=timedelta(0))
    assert isinstance(result, Emit)
    return result.value


async def test_only_entitled_subscribers_see_personal_data(
    setup: tuple[Pipeline, TopicSerializer, Deserializer, StateStore],
) -> None:
    pipeline, serializer, deserializer, store = setup
    record = _record({**shipment("MARA"), "who:idNumber": ID_NUMBER, "who:phone": PHONE})
    assert personal_keys(record) == ["who:idNumber", "who:phone"]
    raw = serializer.serialize(record)
    message = ConsumerRecord("t.events.canonical", 0, 1, 0, 0, b"k", raw, None, 1, len(raw), [])
    await pipeline.prepare([message])
    outcome = BatchOutcome()
    pipeline.process([message], BatchState(store), 1_000, outcome)
    delivered = {o.topic.rsplit(".", 1)[1]: await deserializer.decode_any(o.value) for o in outcome.outgoing}
    assert set(delivered) == set(TOPICS)
    for name, got in delivered.items():
        extensions = got["event"]["extensions"]
        assert got["event_id"] == record["event_id"], "a masked view keeps the identity"
        if name in ("mara-own", "samr-entitled"):
            assert orjson.loads(extensions["who:idNumber"]) == ID_NUMBER
            assert MASKED_FLAG not in got["flags"]
        else:
            assert orjson.loads(extensions["who:idNumber"]) == "330109********2318"
            assert orjson.loads(extensions["who:phone"]) == "139****0043"
            assert MASKED_FLAG in got["flags"]
            assert ID_NUMBER not in orjson.dumps(got).decode()


async def test_events_without_personal_data_are_serialized_once(
    setup: tuple[Pipeline, TopicSerializer, Deserializer, StateStore],
) -> None:
    pipeline, serializer, _, store = setup
    raw = serializer.serialize(_record(shipment("MARA")))
    message = ConsumerRecord("t.events.canonical", 0, 1, 0, 0, b"k", raw, None, 1, len(raw), [])
    await pipeline.prepare([message])
    outcome = BatchOutcome()
    pipeline.process([message], BatchState(store), 1_000, outcome)
    assert len({o.value for o in outcome.outgoing}) == 1


def test_masking_rules() -> None:
    assert mask_value(ID_NUMBER) == "330109********2318"
    assert mask_value(PHONE) == "139****0043"
    assert mask_value("王某某") == "***"
    assert "0571" not in mask_value("0571-88776655")
