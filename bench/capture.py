"""Capture benchmark: EPCIS documents through ``POST /capture`` into Kafka, on the embedded broker.

Starts a broker and capture processes (``tracebus up --role api``, as a deployment runs its
capture front ends), posts 100-event JSON-LD documents from concurrent clients in this
process, and counts events acknowledged by Kafka (202 answers) per second: with one capture
process, and with ``--processes`` of them (default 2, one per core of this machine).
Target: ≥ 5,000 events/s. Also prints parse + validate + hash alone, in process, for headroom.
Last line: one JSON object. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson

from schemas.epcis import parse_document
from streams.kafka.broker import EmbeddedBroker
from streams.steps.validate import CaptureContext, validate_event
from streams.testing import sample_shipment

EMPTY_SUBSCRIPTIONS = Path(tempfile.gettempdir()) / "tracebus-bench-no-subscriptions.yaml"
EMPTY_SUBSCRIPTIONS.write_text("subscriptions: []\n")


def documents(count: int, events_per_document: int) -> list[bytes]:
    result = []
    serial = 0
    for _ in range(count):
        events = []
        for _ in range(events_per_document):
            serial += 1
            event = sample_shipment(serial)
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


async def _start_api(bootstrap: str, namespace: str) -> tuple[asyncio.subprocess.Process, str]:
    """One ``tracebus up --role api`` process on the bench broker; returns it and its API URL."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TRACEBUS_NAMESPACE": namespace,
        "TRACEBUS_SUBSCRIPTIONS_FILE": str(EMPTY_SUBSCRIPTIONS),
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("tracebus")), "up", "--role", "api", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        if not line:
            raise RuntimeError("tracebus up --role api exited before it was ready")
        match = re.search(r"API (http://127\.0\.0\.1:\d+)", line)
        if match:
            return process, match.group(1)


async def through_kafka(bodies: list[bytes], clients: int, processes: int) -> float:
    """Events/s acknowledged by Kafka through ``processes`` capture processes (the client runs apart)."""
    broker = EmbeddedBroker()
    bootstrap = await broker.start()
    started_apis: list[asyncio.subprocess.Process] = []
    try:
        urls = []
        for _ in range(processes):
            process, url = await _start_api(bootstrap, "benchcapture")
            started_apis.append(process)
            urls.append(f"{url}/capture")
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        accepted = 0

        async def client(session: aiohttp.ClientSession, url: str) -> None:
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
            await asyncio.gather(*(client(session, urls[i % len(urls)]) for i in range(clients)))
            elapsed = time.perf_counter() - started
        return accepted / elapsed
    finally:
        for process in started_apis:
            process.send_signal(signal.SIGINT)
        for process in started_apis:
            await asyncio.wait_for(process.wait(), 30)
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=200, help="100-event documents to capture")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--processes", type=int, default=2, help="capture processes (tracebus up --role api)")
    args = parser.parse_args()
    bodies = documents(args.documents, 100)
    in_process = in_process_rate(bodies)
    one = asyncio.run(through_kafka(bodies, args.clients, 1))
    several = (
        asyncio.run(through_kafka(bodies, args.clients * args.processes, args.processes)) if args.processes > 1 else one
    )
    print(f"parse + validate + hash, in process:          {in_process:>8,.0f} events/s")
    print(f"POST /capture into Kafka, 1 capture process:  {one:>8,.0f} events/s")
    print(f"POST /capture into Kafka, {args.processes} capture processes: {several:>8,.0f} events/s   target >= 5,000")
    print(json.dumps({"in_process_eps": round(in_process), "capture_eps_1": round(one), "capture_eps": round(several)}))


if __name__ == "__main__":
    main()
