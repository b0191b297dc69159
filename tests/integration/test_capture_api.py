"""The capture API on a running bus: rollback vs proceed, the raw topic, limits, jobs, dead letters."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiokafka import TopicPartition
from multidict import CIMultiDictProxy

from connectors.webhook.receiver import WebhookReceiver
from schemas.codec import AvroCodec, unframe
from streams.bus import RAW_SCHEMA, Bus
from streams.deadletter import read_context
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_consumer
from streams.metrics import DEAD_LETTERS
from streams.settings import ApiSettings
from streams.subscriptions import Subscription, WebhookTarget
from tests.integration.conftest import TEST_KAFKA, bus_settings, running_bus, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SHIPPING = {
    "type": "ObjectEvent",
    "eventTime": "2026-11-20T06:30:00+08:00",
    "eventTimeZoneOffset": "+08:00",
    "epcList": ["urn:epc:id:sgtin:6901234.012345.1001"],
    "action": "OBSERVE",
    "bizStep": "shipping",
}


def document(*events: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-11-20T08:00:00+08:00",
            "epcisBody": {"eventList": list(events)},
        }
    )


def shipping(serial: int, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(SHIPPING)
    event["epcList"] = [f"urn:epc:id:sgtin:6901234.012345.{serial}"]
    event.update(changes)
    return event


class Env:
    def __init__(self, bus: Bus, receiver: WebhookReceiver, session: aiohttp.ClientSession) -> None:
        self.bus = bus
        self.receiver = receiver
        self.session = session
        assert bus.api is not None
        self.api = bus.api.url

    async def post(self, body: bytes, **headers: str) -> tuple[int, dict[str, Any], CIMultiDictProxy[str]]:
        sent = {"Content-Type": "application/ld+json", "Tracebus-Source": "MOFCOM", **headers}
        async with self.session.post(f"{self.api}/capture", data=body, headers=sent) as response:
            return response.status, orjson.loads(await response.read()), response.headers

    def delivered_serials(self) -> list[str]:
        return [
            str(e["epcList"][0]).rsplit(".", 1)[1]
            for d in self.receiver.deliveries
            if d.status == 200
            for e in d.events
        ]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(broker: EmbeddedBroker) -> AsyncIterator[Env]:
    receiver = WebhookReceiver({"all": b"secret"})
    async with receiver:
        subscriptions = [
            Subscription(
                name="all",
                department="MOFCOM",
                webhook=WebhookTarget(url=f"{receiver.url}/hooks/all", signature_token="secret"),
            )
        ]
        settings = bus_settings(
            broker.bootstrap_servers, api=ApiSettings(port=0, max_body_bytes=64 * 1024, max_events_per_document=50)
        )
        async with running_bus(settings, subscriptions) as bus, aiohttp.ClientSession() as session:
            yield Env(bus, receiver, session)


async def test_rollback_publishes_nothing_when_one_event_is_invalid(env: Env) -> None:
    bad = shipping(9001, eventTime="not-a-time")
    status, job, headers = await env.post(document(shipping(1001), bad))
    assert status == 202
    assert headers["Location"] == f"/capture/{job['captureID']}"
    assert job["success"] is False
    assert job["captureErrorBehaviour"] == "rollback"
    assert (job["acceptedEvents"], job["rejectedEvents"], job["publishedEvents"]) == (1, 1, 0)
    assert job["errors"][0]["title"] == "bad-event-time"
    assert job["errors"][0]["eventIndex"] == 1
    # a later valid capture arrives, the rolled-back one never does
    await env.post(document(shipping(1002)))
    await wait_until(lambda: "1002" in env.delivered_serials(), timeout_s=30, what="event 1002 delivered")
    assert "1001" not in env.delivered_serials()


async def test_proceed_publishes_the_valid_events(env: Env) -> None:
    events = [shipping(2001), shipping(2002, quantityList=[{"epcClass": "urn:epc:class:lgtin:1.2.3", "quantity": -1}])]
    status, job, _ = await env.post(document(*events), **{"GS1-Capture-Error-Behaviour": "proceed"})
    assert status == 202
    assert (job["success"], job["publishedEvents"], job["rejectedEvents"]) == (False, 1, 1)
    assert job["errors"][0]["title"] == "bad-quantity"
    await wait_until(lambda: "2001" in env.delivered_serials(), timeout_s=30, what="event 2001 delivered")
    assert "2002" not in env.delivered_serials()


async def test_capture_job_can_be_read_back(env: Env) -> None:
    status, job, headers = await env.post(document(shipping(3001)))
    assert status == 202
    async with env.session.get(f"{env.api}{headers['Location']}") as response:
        assert response.status == 200
        stored = orjson.loads(await response.read())
    assert stored == job
    assert set(stored) >= {
        "captureID",
        "createdAt",
        "finishedAt",
        "running",
        "success",
        "captureErrorBehaviour",
        "errors",
    }
    assert stored["running"] is False
    async with env.session.get(f"{env.api}/capture/no-such-job") as response:
        assert response.status == 404


async def test_raw_submission_is_kept_byte_for_byte_even_when_rejected(env: Env) -> None:
    body = document(shipping(4001, action="JUMP"))
    status, job, _ = await env.post(body)
    assert status == 202
    assert job["publishedEvents"] == 0
    raw_topic = env.bus.settings.topic("capture.raw")
    consumer = make_consumer(
        TEST_KAFKA.model_copy(update={"bootstrap_servers": env.bus.kafka.bootstrap_servers}), group_id=None
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(raw_topic, p) for p in consumer.partitions_for_topic(raw_topic) or {0, 1, 2}]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        codec = AvroCodec(RAW_SCHEMA.read_text())
        found = None
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    if message.key == job["captureID"].encode():
                        found = codec.decode(unframe(message.value)[1])
            if found:
                break
    finally:
        await consumer.stop()
    assert found is not None, "the raw submission must be on the raw topic"
    assert found["body"] == body
    assert found["source"] == "MOFCOM"
    assert found["content_type"] == "application/ld+json"


@pytest.mark.parametrize(
    ("body", "headers", "status", "title"),
    [
        (b"{not json", {}, 400, "Not an EPCIS document"),
        (b"<EPCISDocument", {"Content-Type": "application/xml"}, 400, "Not an EPCIS document"),
        (document(), {"GS1-Capture-Error-Behaviour": "sometimes"}, 400, "Bad capture error behaviour"),
        (document(), {"Tracebus-Source": "bad source!"}, 400, "Bad source"),
        (document(*[shipping(i) for i in range(51)]), {}, 413, "Too many events"),
        (b"{" + b" " * 70_000 + b"}", {}, 413, "Document too large"),
    ],
)
async def test_bad_requests_get_a_clear_problem(
    env: Env, body: bytes, headers: dict[str, str], status: int, title: str
) -> None:
    got, problem, response_headers = await env.post(body, **headers)
    assert got == status
    assert problem["title"] == title
    assert problem["status"] == status
    assert response_headers["Content-Type"].startswith("application/problem+json")


async def test_undecodable_record_is_dead_lettered_with_context(env: Env) -> None:
    settings = env.bus.settings
    producer = env.bus.producer
    assert producer is not None
    before = DEAD_LETTERS.labels("decode", "undecodable")._value.get()
    poison = b"\x07not avro at all"
    metadata = await producer.send_and_wait(
        settings.topic("events.canonical"), poison, key=b"poison-key", headers=[("origin", b"test")]
    )
    dead_topic = settings.topic("deadletter")
    consumer = make_consumer(
        TEST_KAFKA.model_copy(update={"bootstrap_servers": env.bus.kafka.bootstrap_servers}), group_id=None
    )
    await consumer.start()
    letter = None
    try:
        consumer.subscribe([dead_topic])
        for _ in range(60):
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    if message.key == b"poison-key":
                        letter = message
            if letter is not None:
                break
    finally:
        await consumer.stop()
    assert letter is not None, "the poison record must reach the dead-letter topic"
    assert letter.value == poison
    context = read_context(letter.headers)
    assert context["stage"] == "decode"
    assert context["reason"] == "undecodable"
    assert context["exception.class.name"] == "WireFormatError"
    assert "magic byte is 7" in context["exception.message"]
    assert context["topic"] == settings.topic("events.canonical")
    assert context["partition"] == str(metadata.partition)
    assert context["offset"] == str(metadata.offset)
    assert ("origin", b"test") in list(letter.headers)
    assert DEAD_LETTERS.labels("decode", "undecodable")._value.get() == before + 1
    # the router went on: a valid event after the poison record is still delivered
    await env.post(document(shipping(5001)))
    await wait_until(lambda: "5001" in env.delivered_serials(), timeout_s=30, what="event after poison delivered")


async def test_metrics_and_health(env: Env) -> None:
    async with env.session.get(f"{env.api}/metrics") as response:
        text = await response.text()
    assert response.status == 200
    assert "tracebus_capture_requests_total" in text
    assert "tracebus_routed_events_total" in text
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert names
    assert all(n.startswith("tracebus_") or n.startswith(("python_", "process_")) for n in names)
    async with env.session.get(f"{env.api}/livez") as response:
        assert response.status == 200
    async with env.session.get(f"{env.api}/readyz") as response:
        body = orjson.loads(await response.read())
        assert response.status == 200
        assert body["ready"] is True
        assert body["components"] == {
            "subscriptions": True,
            "reference-data": True,
            "router": True,
            "api": True,
            "sink:all": True,
            "connectors": True,
        }
    await asyncio.sleep(0)
