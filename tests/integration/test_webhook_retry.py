"""Webhook retries through the retry topic on a running bus: per-key order, dead letters, restarts.

The receiver fails on purpose (``WebhookReceiver.refuse``): one trace key's
events for a while, or every request of one subscriber. Events of one EPC
share a trace key, so they meet on one partition of ``deliver.<name>``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiokafka import TopicPartition

from connectors.webhook.receiver import WebhookReceiver
from streams.bus import Bus
from streams.deadletter import read_context
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_consumer
from streams.parking import read_park
from streams.settings import Settings
from streams.sinks import SinkRunner
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


def _at(minute: int) -> str:
    return f"2026-11-20T06:{minute:02d}:00+08:00"


def _label(event: dict[str, Any]) -> str:
    """serial@minute: which EPC (trace key), which moment."""
    return f"{str(event['epcList'][0]).rsplit('.', 1)[1]}@{event['eventTime'][14:16]}"


async def _capture(bus: Bus, *events: dict[str, Any]) -> None:
    assert bus.api is not None
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{bus.api.url}/capture", data=document(*events), headers={"Content-Type": "application/json"}
        ) as response,
    ):
        assert response.status == 202


def _requests(receiver: WebhookReceiver, name: str) -> list[tuple[list[str], int]]:
    return [([_label(e) for e in d.events], d.status) for d in receiver.deliveries if d.subscription == name]


def _first_accepted(receiver: WebhookReceiver, name: str) -> list[str]:
    seen: dict[str, None] = {}
    for labels, status in _requests(receiver, name):
        if status == 200:
            seen.update(dict.fromkeys(labels))
    return list(seen)


def _held_back(requests: list[tuple[list[str], int]], key: str, order: list[str]) -> bool:
    """No request carried an event of ``key`` before an earlier one of that key was delivered (or ahead in it)."""
    accepted: set[str] = set()
    for labels, status in requests:
        mine = [label for label in labels if label.startswith(f"{key}@")]
        for position, label in enumerate(mine):
            earlier = order[: order.index(label)]
            if not all(e in accepted or e in mine[:position] for e in earlier):
                return False
        if status == 200:
            accepted.update(labels)
    return True


def _runner(bus: Bus, name: str) -> SinkRunner:
    return next(r for r in bus.sinks if r.sink.name == name)


async def _read(settings: Settings, topic: str, *, expected: int) -> list[Any]:
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": settings.bootstrap_servers})
    consumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    found: list[Any] = []
    try:
        await consumer.topics()  # metadata: partitions_for_topic reads it
        consumer.assign([TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())])
        for _ in range(60):
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(messages)
            if len(found) >= expected:
                break
    finally:
        await consumer.stop()
    return found


async def test_a_failing_key_waits_alone_and_arrives_in_order(broker: EmbeddedBroker) -> None:
    receiver = WebhookReceiver({"sub": b"t-sub"})
    failing = {"x": True}
    receiver.refuse = lambda name, events: 503 if failing["x"] and any(_label(e)[:2] == "7@" for e in events) else None
    others = [101, 102, 103, 104, 105]
    settings = bus_settings(
        broker.bootstrap_servers,
        webhook_inline_attempts=2,
        webhook_retry_topic_attempts=30,
        webhook_retry_backoff_initial_s=0.2,
        webhook_retry_backoff_max_s=0.4,
    )
    async with receiver, running_bus(settings, [_subscription(receiver, "sub")]) as bus:

        def refused_x() -> int:
            return sum(1 for labels, status in _requests(receiver, "sub") if status == 503 and "7@01" in labels)

        await _capture(bus, shipping(7, eventTime=_at(1)), *[shipping(s, eventTime=_at(1)) for s in others])
        await wait_until(lambda: refused_x() >= 2, timeout_s=30, what="x's in-line attempts")
        # x's first event is parked now: its second one must wait behind it, the others must not wait
        await _capture(bus, shipping(7, eventTime=_at(2)), *[shipping(s, eventTime=_at(2)) for s in others])
        wanted_others = {f"{s}@{m:02d}" for s in others for m in (1, 2)}
        await wait_until(
            lambda: wanted_others <= set(_first_accepted(receiver, "sub")), timeout_s=30, what="other keys delivered"
        )
        await wait_until(lambda: refused_x() >= 4, timeout_s=30, what="x retried from the retry topic")
        await _capture(bus, shipping(7, eventTime=_at(3)))
        lot = _runner(bus, "sub").lot
        await wait_until(lambda: (lot.parked_keys(), lot.parked_events()) == (1, 3), timeout_s=30, what="x3 held")
        assert not any(label.startswith("7@") for label in _first_accepted(receiver, "sub")), (
            "x delivered while failing"
        )
        failing["x"] = False
        x_order = ["7@01", "7@02", "7@03"]
        await wait_until(
            lambda: set(x_order) <= set(_first_accepted(receiver, "sub")), timeout_s=30, what="x delivered"
        )
        await wait_until(lambda: _runner(bus, "sub").lot.parked_keys() == 0, timeout_s=10, what="lot empty")
    requests = _requests(receiver, "sub")
    accepted = _first_accepted(receiver, "sub")
    assert sorted(accepted) == sorted([*wanted_others, *x_order]), "every event delivered, none extra"
    assert [label for label in accepted if label.startswith("7@")] == x_order, "x's events in order"
    assert _held_back(requests, "7", x_order), "a later x event was tried before an earlier one was delivered"
    for serial in others:
        assert [a for a in accepted if a.startswith(f"{serial}@")] == [f"{serial}@01", f"{serial}@02"]
    # captured while x was parked, the other keys' second events went out once, accepted at once
    for label in (f"{s}@02" for s in others):
        carrying = [status for labels, status in requests if label in labels]
        assert carrying == [200], (label, carrying)


async def test_an_always_failing_subscriber_dead_letters_after_the_limit_and_slows_no_one(
    broker: EmbeddedBroker,
) -> None:
    receiver = WebhookReceiver({"down": b"t-down", "steady": b"t-steady"})
    receiver.refuse = lambda name, events: 503 if name == "down" else None
    settings = bus_settings(
        broker.bootstrap_servers,
        webhook_inline_attempts=2,
        webhook_retry_topic_attempts=3,
        webhook_retry_backoff_initial_s=0.2,
        webhook_retry_backoff_max_s=0.3,
    )
    serials = [201, 202, 203, 204]
    async with receiver, running_bus(settings, [_subscription(receiver, n) for n in ("down", "steady")]) as bus:
        await _capture(bus, *[shipping(s, eventTime=_at(5)) for s in serials])
        await wait_until(lambda: len(_first_accepted(receiver, "steady")) == 4, timeout_s=30, what="steady")
        steady_done = len(receiver.deliveries)
        letters = await _read(settings, settings.topic("deadletter"), expected=4)
        await wait_until(lambda: _runner(bus, "down").lot.parked_keys() == 0, timeout_s=10, what="lot empty")
        parks = await _read(settings, settings.topic("retry.down"), expected=12)
    down = _requests(receiver, "down")
    assert len(down) >= 5
    assert steady_done <= len(receiver.deliveries) - 3, "steady was served before down's retries were done"
    for serial in serials:
        label = f"{serial}@05"
        assert sum(label in labels for labels, _ in down) == 2 + 3, "2 in line, then 3 from the retry topic"
        assert [status for labels, status in _requests(receiver, "steady") if label in labels] == [200]
    assert all(status == 503 for _, status in down)
    contexts = [read_context(m.headers) for m in letters]
    assert len(contexts) == 4
    for context in contexts:
        assert (context["stage"], context["reason"], context["connector.name"]) == (
            "sink:down",
            "retries-exhausted",
            "down",
        )
        assert context["topic"] == settings.topic("deliver.down")
        assert "after 3 attempts" in context["exception.message"]
    assert not any(k.startswith("tracebus.retry.") for m in letters for k, _ in m.headers)
    # per event on the retry topic: the park after the in-line attempts, then two re-parks
    infos = sorted((m.partition, i.origin, i.attempt, i.not_before_ms) for m in parks if (i := read_park(m.headers)))
    assert len(infos) == 12
    for start in range(0, 12, 3):
        chain = infos[start : start + 3]
        assert [attempt for _, _, attempt, _ in chain] == [0, 1, 2]
        assert chain[0][3] < chain[1][3] < chain[2][3], "each retry waits longer"


async def test_parked_events_survive_a_restart_and_keep_their_order(broker: EmbeddedBroker) -> None:
    receiver = WebhookReceiver({"sub": b"t-sub"})
    failing = {"x": True}
    receiver.refuse = lambda name, events: 503 if failing["x"] and any(_label(e)[:2] == "9@" for e in events) else None
    settings = bus_settings(
        broker.bootstrap_servers,
        webhook_inline_attempts=1,
        webhook_retry_topic_attempts=30,
        webhook_retry_backoff_initial_s=3.0,
        webhook_retry_backoff_max_s=3.0,
    )
    async with receiver:
        subscriptions = [_subscription(receiver, "sub")]
        async with running_bus(settings, subscriptions) as first:
            await _capture(first, shipping(9, eventTime=_at(11)), shipping(9, eventTime=_at(12)))
            await wait_until(lambda: _runner(first, "sub").lot.parked_events() == 2, timeout_s=30, what="parked")
            await _capture(first, shipping(9, eventTime=_at(13)), shipping(301, eventTime=_at(13)))
            await wait_until(lambda: _runner(first, "sub").lot.parked_events() == 3, timeout_s=30, what="held")
            await wait_until(lambda: "301@13" in _first_accepted(receiver, "sub"), timeout_s=30, what="301")
        async with running_bus(settings, subscriptions) as second:
            # rebuilt from the retry topic before the main lane took anything
            assert _runner(second, "sub").lot.parked_events() == 3
            failing["x"] = False
            await _capture(second, shipping(9, eventTime=_at(14)))
            order = ["9@11", "9@12", "9@13", "9@14"]
            await wait_until(
                lambda: set(order) <= set(_first_accepted(receiver, "sub")), timeout_s=30, what="x delivered"
            )
            await wait_until(lambda: _runner(second, "sub").lot.parked_keys() == 0, timeout_s=10, what="lot empty")
    accepted = _first_accepted(receiver, "sub")
    assert [label for label in accepted if label.startswith("9@")] == order
    assert _held_back(_requests(receiver, "sub"), "9", order)
