"""Capture every shared EPCIS document and check who receives what, against a hand-written table.

The table below was written by reading each event (type, bizStep, disposition,
identifiers) against the subscription filters — not by running the router.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import aiohttp
import orjson
import pytest

from connectors.webhook.receiver import WebhookReceiver
from streams.bus import Bus
from streams.kafka.broker import EmbeddedBroker
from streams.subscriptions import Subscription, SubscriptionFilter, WebhookTarget
from tests.integration.conftest import bus_settings, running_bus, wait_until
from tests.vectors import require_vectors

pytestmark = pytest.mark.integration

FILTERS: dict[str, SubscriptionFilter] = {
    "ship-receive": SubscriptionFilter(biz_steps=["shipping", "receiving"]),
    "aggregations": SubscriptionFilter(event_types=["AggregationEvent"]),
    "prefix-4012345": SubscriptionFilter(gs1_company_prefixes=["4012345"]),
    "in-transit": SubscriptionFilter(dispositions=["in_transit"]),
    "examples": SubscriptionFilter(reporters=["EXAMPLES"]),
    "transform-0614141": SubscriptionFilter(event_types=["TransformationEvent"], gs1_company_prefixes=["0614141"]),
    "recalls": SubscriptionFilter(dispositions=["recalled"]),  # no shared event is recalled: receives nothing
}

A, B, C, D, E, G = "ship-receive", "aggregations", "prefix-4012345", "in-transit", "examples", "transform-0614141"

# (folder/file, event index) → subscriptions that must receive it, each exactly once.
JSONLD_EXPECTED: dict[tuple[str, int], set[str]] = {
    ("epcis-event-hash/ReferenceEventHashAlgorithm.jsonld", 0): {C},
    ("epcis-event-hash/ReferenceEventHashAlgorithm2.jsonld", 0): {C},
    ("epcis-event-hash/TimeStampRoundOff.jsonld", 0): {A, D},
    ("epcis-event-hash/TimeStampRoundOff.jsonld", 1): set(),
    ("epcis-event-hash/TimeStampRoundOff.jsonld", 2): {A},
    ("epcis-event-hash/epcisDocWithAllGS1Keys.jsonld", 0): {C},
    ("epcis-event-hash/epcisDocWithShippingAndTransportingEvent.jsonld", 0): {C},
    ("epcis-event-hash/epcisDocWithShippingAndTransportingEvent.jsonld", 1): {C},
    ("epcis-event-hash/epcisDocWithSingleEvent.jsonld", 0): {A, D},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 0): set(),
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 1): {A},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 2): {C},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 3): set(),
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 4): {B},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 5): {B},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 6): {B},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 7): {B},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 8): {A},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 9): {C},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 10): {C},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 11): {C, G},
    ("epcis-event-hash/epcisDocWithVariousEventTypes.jsonld", 12): {C},
    ("epcis-event-hash/epcisEventWithCURIEs.jsonld", 0): {A},
    ("epcis-event-hash/persistentDisposition.jsonld", 0): {A, C, D},
    ("epcis-event-hash/persistentDisposition.jsonld", 1): {C},
    ("epcis-examples/ErrorDeclarationAndCorrectiveEvent.jsonld", 0): {C, E},
    ("epcis-examples/ErrorDeclarationAndCorrectiveEvent.jsonld", 1): {C, E},
    ("epcis-examples/Example_9.6.1-ObjectEvent.jsonld", 0): {A, D, E},
    ("epcis-examples/Example_9.6.1-ObjectEvent.jsonld", 1): {A, E},
    ("epcis-examples/Example_9.6.1-ObjectEventWithDigitalLink.jsonld", 0): {A, D, E},
    ("epcis-examples/Example_9.6.1-ObjectEventWithDigitalLink.jsonld", 1): {A, E},
    ("epcis-examples/Example_9.6.2-ObjectEvent.jsonld", 0): {A, C, E},
    ("epcis-examples/Example_9.6.3-AggregationEvent.jsonld", 0): {A, B, C, E},
    ("epcis-examples/Example_9.6.4-TransformationEvent.jsonld", 0): {C, E, G},
}

# The XML documents hold the same events as their JSON-LD siblings (same CBV 2.0 hashes).
XML_SIBLINGS: list[str] = [
    "epcis-event-hash/ReferenceEventHashAlgorithm.xml",
    "epcis-event-hash/epcisDocWithShippingAndTransportingEvent.xml",
    "epcis-event-hash/epcisDocWithVariousEventTypes.xml",
]


def _source(name: str) -> str:
    return "EXAMPLES" if name.startswith("epcis-examples/") else "HASHVECTORS"


async def _capture(
    session: aiohttp.ClientSession,
    api: str,
    body: bytes,
    *,
    source: str,
    content_type: str,
    behaviour: str = "rollback",
) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": content_type, "Tracebus-Source": source, "GS1-Capture-Error-Behaviour": behaviour}
    async with session.post(f"{api}/capture", data=body, headers=headers) as response:
        return response.status, orjson.loads(await response.read())


def _subscriptions(receiver: WebhookReceiver) -> list[Subscription]:
    return [
        Subscription(
            name=name,
            department="TEST",
            filter=flt,
            webhook=WebhookTarget(url=f"{receiver.url}/hooks/{name}", signature_token=f"token-{name}"),
        )
        for name, flt in FILTERS.items()
    ]


def _numbers_as_floats(value: object) -> object:
    if isinstance(value, dict):
        return {k: _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_floats(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _event_key(event: dict[str, object]) -> bytes:
    """Identify a delivered event by its content (delivery rebuilds the submitted JSON, numbers by value).

    An event delivered beside events whose documents bind a prefix differently carries its own
    ``@context`` (see schemas/epcis/jsonld.py): that is how it is written, not what it says.
    """
    content = {k: v for k, v in event.items() if k != "@context"}
    return orjson.dumps(_numbers_as_floats(content), option=orjson.OPT_SORT_KEYS)


async def test_every_document_reaches_exactly_its_subscribers_once(broker: EmbeddedBroker) -> None:
    """JSON-LD documents first; then the XML forms of the same events and the JSON-LD documents again.

    The second round must deliver nothing: the XML events have the same CBV 2.0 hash as their
    JSON-LD siblings, and the repeated documents carry events already routed.
    """
    vectors = require_vectors()
    jsonld_files = sorted({name for name, _ in JSONLD_EXPECTED})
    xml_files = sorted(XML_SIBLINGS)
    present = sorted(str(p.relative_to(vectors)) for p in vectors.glob("*/*.*") if p.suffix in (".jsonld", ".xml"))
    assert [p for p in present if not p.endswith("epcis-context.jsonld")] == sorted(jsonld_files + xml_files), (
        "every shared EPCIS document must be in the expected tables"
    )
    expected_total = sum(len(s) for s in JSONLD_EXPECTED.values())
    receiver = WebhookReceiver({name: f"token-{name}".encode() for name in FILTERS})
    async with receiver:
        settings = bus_settings(broker.bootstrap_servers)
        async with running_bus(settings, _subscriptions(receiver)) as bus, aiohttp.ClientSession() as session:
            api = _api(bus)

            async def capture_all(files: list[str], content_type: str) -> None:
                for name in files:
                    body = (vectors / name).read_bytes()
                    status, job = await _capture(session, api, body, source=_source(name), content_type=content_type)
                    assert status == 202, (name, job)
                    assert job["success"] is True, (name, job)

            await capture_all(jsonld_files, "application/ld+json")
            await wait_until(
                lambda: sum(len(receiver.accepted_ids(n)) for n in FILTERS) >= expected_total,
                timeout_s=60,
                what=f"{expected_total} deliveries",
            )
            await capture_all(xml_files, "application/xml")
            await capture_all(jsonld_files, "application/ld+json")
            # time for any wrong redelivery to arrive: two consume hops on this broker
            await _settle(receiver)
    _check(receiver, JSONLD_EXPECTED, vectors)


async def _settle(receiver: WebhookReceiver) -> None:
    import asyncio

    before = -1
    while len(receiver.deliveries) != before:
        before = len(receiver.deliveries)
        await asyncio.sleep(3.0)


def _api(bus: Bus) -> str:
    assert bus.api is not None
    return bus.api.url


def _check(receiver: WebhookReceiver, expected: dict[tuple[str, int], set[str]], vectors: Path) -> None:
    from schemas.epcis import parse_document

    assert all(d.signature_ok for d in receiver.deliveries), "every delivery must carry a valid GS1-Signature"
    event_by_key = {}
    for name in sorted({n for n, _ in expected}):
        for index, event in enumerate(parse_document((vectors / name).read_bytes(), None).events):
            event_by_key[(name, index)] = _event_key(event)
    assert len(set(event_by_key.values())) == len(event_by_key), "fixture events must be distinct"
    received: dict[str, Counter[bytes]] = {name: Counter() for name in FILTERS}
    for delivery in receiver.deliveries:
        assert delivery.status == 200
        assert len(delivery.event_ids) == len(delivery.events)
        received[delivery.subscription].update(_event_key(e) for e in delivery.events)
    for subscription in FILTERS:
        wanted = Counter(event_by_key[k] for k, subs in expected.items() if subscription in subs)
        assert received[subscription] == wanted, f"{subscription}: deliveries differ from the expected table"
    assert not received["recalls"], "the recalls subscription must receive nothing"
