"""Capture benchmark: EPCIS documents through ``POST /capture`` into Kafka, on the embedded broker.

Starts a broker and a bus in this process, posts 100-event JSON-LD documents from a few
concurrent clients, and counts events acknowledged by Kafka (202 answers) per second.
Target: ≥ 5,000 events/s. Also prints parse + validate + hash alone, in process, for headroom.
Last line: one JSON object. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson

from schemas.epcis import parse_document
from streams.bus import Bus
from streams.kafka.broker import EmbeddedBroker
from streams.settings import ApiSettings, KafkaSettings, Settings
from streams.steps.validate import CaptureContext, validate_event

TEMPLATE: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2026-11-20T06:30:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "epcList": [],
    "quantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.SL20261120A", "quantity": 420.5, "uom": "KGM"}],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "readPoint": {"id": "urn:epc:id:sgln:6901234.00001.0"},
    "bizTransactionList": [{"type": "desadv", "bizTransaction": "urn:tracebus:doc:voucher:PF-20261120-000917"}],
    "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:6901234.00000"}],
    "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:6907777.00000"}],
    "tb:reportingDepartment": "MOFCOM",
    "tb:businessUSCC": "91350200776049653A",
    "tb:regionCode": "330109",
    "tb:certificates": [{"tb:type": "animal-quarantine", "tb:number": "3301202611200042"}],
}


def documents(count: int, events_per_document: int) -> list[bytes]:
    result = []
    serial = 0
    for _ in range(count):
        events = []
        for _ in range(events_per_document):
            serial += 1
            event = copy.deepcopy(TEMPLATE)
            event["epcList"] = [f"urn:epc:id:sgtin:6901234.012345.{serial}"]
            events.append(event)
        body = {
            "@context": [
                "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                {"tb": "urn:tracebus:ns:trace:"},
            ],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-11-20T08:00:00Z",
            "epcisBody": {"eventList": events},
        }
        result.append(orjson.dumps(body))
    return result


def in_process_rate(bodies: list[bytes]) -> float:
    now = datetime.now(UTC)
    started = time.perf_counter()
    events = 0
    for body in bodies:
        document = parse_document(body, "application/ld+json")
        context = CaptureContext.of(reporter="bench", capture_id="b", received_at_ms=0, context=document.context)
        for event in document.events:
            validate_event(event, context, now=now, future_skew=timedelta(minutes=5))
            events += 1
    return events / (time.perf_counter() - started)


async def through_kafka(bodies: list[bytes], clients: int) -> float:
    broker = EmbeddedBroker()
    bootstrap = await broker.start()
    try:
        settings = Settings(
            namespace="benchcapture",
            bootstrap_servers=bootstrap,
            kafka=KafkaSettings(session_timeout_ms=6000, heartbeat_interval_ms=300, rebalance_timeout_ms=6000),
            api=ApiSettings(port=0),
            roles=frozenset({"api"}),  # capture alone: the router and sinks run in other processes
        )
        bus = Bus(settings, [], bootstrap_servers=bootstrap)
        await bus.start()
        try:
            assert bus.api is not None
            url = f"{bus.api.url}/capture"
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            for body in bodies:
                queue.put_nowait(body)
            accepted = 0

            async def client(session: aiohttp.ClientSession) -> None:
                nonlocal accepted
                headers = {"Content-Type": "application/ld+json", "Tracebus-Source": "MOFCOM"}
                while not queue.empty():
                    body = queue.get_nowait()
                    async with session.post(url, data=body, headers=headers) as response:
                        job = await response.json(content_type=None)
                        assert response.status == 202, job
                        accepted += job["publishedEvents"]

            async with aiohttp.ClientSession() as session:
                started = time.perf_counter()
                await asyncio.gather(*(client(session) for _ in range(clients)))
                elapsed = time.perf_counter() - started
            return accepted / elapsed
        finally:
            await bus.stop()
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=200, help="100-event documents to capture")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    bodies = documents(args.documents, 100)
    in_process = in_process_rate(bodies)
    capture = asyncio.run(through_kafka(bodies, args.clients))
    print(f"parse + validate + hash, in process: {in_process:>10,.0f} events/s")
    print(f"POST /capture into Kafka (acks=all):  {capture:>10,.0f} events/s   target >= 5,000")
    print(json.dumps({"in_process_eps": round(in_process), "capture_eps": round(capture)}))


if __name__ == "__main__":
    main()
