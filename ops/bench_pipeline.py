"""Pipeline benchmark: the router's full pipeline against a plain aiokafka loop doing the same work.

On the embedded broker, in one run, on the same generated data (exact and cross-department
duplicates included):

* **throughput** of the full pipeline (decode → dedupe with on-disk state and changelog →
  enrich → route → deliver once → encode → send → commit), one worker;
* **throughput** of a plain loop: getmany → decode → dict dedup with a changelog write per new
  key → enrich → encode → send each event to as many topics as the pipeline routes it to →
  commit after the sends are acknowledged; same client settings, same codec;
* **latency** (send → arrival on a delivery topic, p50/p99) of both at 1,000 events/s offered;
* **peak RSS** of the dedup state for 1,000,000 keys in the production store (LMDB), filled
  directly in a child process.

Run ``tracebus bench pipeline [--events N]`` (or ``bench/pipeline.py``, the same). The last
line is one JSON object: pipeline_eps, plain_eps, ratio, p50_ms, p99_ms, plain_p99_ms, rss_mb.
A measurement, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.codec import Deserializer, TopicSerializer
from schemas.identifiers.region import RegionTable
from schemas.registry.embedded import EmbeddedRegistry, MemorySchemaLog
from streams.bus import CANONICAL_SCHEMA
from streams.deadletter import DeadLetterPublisher
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_consumer, make_producer
from streams.kafka.topics import ConcreteTopic, apply_topics
from streams.pipeline import Pipeline
from streams.reference import StaticReferenceTables
from streams.router_service import RouterService
from streams.settings import KafkaSettings
from streams.state.batch import TABLES
from streams.state.changelog import ChangeloggedState
from streams.state.store import StateStore
from streams.steps.base import Emit
from streams.steps.dedupe import DedupeSettings, Deduplicator
from streams.steps.enrich import enrich
from streams.steps.route import Router
from streams.subscriptions import Subscription, SubscriptionFilter
from streams.testing import MARKET, SLAUGHTERHOUSE, movement_record

PARTITIONS = 6
KAFKA = KafkaSettings(session_timeout_ms=6_000, heartbeat_interval_ms=300, rebalance_timeout_ms=6_000)
SUBSCRIPTIONS = [
    Subscription(name="all", department="SAMR"),
    Subscription(name="mofcom", department="MOFCOM", filter=SubscriptionFilter(departments=["MOFCOM"])),
    Subscription(name="mara", department="MARA", filter=SubscriptionFilter(departments=["MARA"])),
    Subscription(name="zhejiang", department="MOFCOM", filter=SubscriptionFilter(regions=["330000"])),
]
REFERENCE = StaticReferenceTables(
    businesses=[
        {"uscc": SLAUGHTERHOUSE, "name": "杭州萧山某肉类加工有限公司", "natural_person": False,
         "credit_grade": "A", "region_code": "330109", "licences": []},
        {"uscc": MARKET, "name": "杭州某农副产品批发市场", "natural_person": False,
         "credit_grade": "A", "region_code": "330102", "licences": []},
    ]
)  # fmt: skip


@dataclass
class Generated:
    messages: list[tuple[bytes, bytes]]  # (key, value) in arrival order
    first_reports: list[tuple[bytes, bytes]]  # each movement's first report: every subscriber gets it
    routes: dict[str, int]  # event id → topics the pipeline routes it to (for the plain loop)
    exact_duplicates: int
    cross_department: int


def _template() -> dict[str, Any]:
    return movement_record(
        event_time="2026-11-20T06:30:00.000+08:00", trace_code="T0", reporter="bench", certificates=["3301202611200042"]
    )


def generate(serializer: TopicSerializer, events: int) -> Generated:
    """Arrival order fixed: ~85% first reports, 5% exact repeats, 10% reports by a second department."""
    template = _template()
    router = Router(SUBSCRIPTIONS)
    messages: list[tuple[bytes, bytes]] = []
    routes: dict[str, int] = {}
    firsts: list[tuple[bytes, bytes]] = []
    exact = cross = 0
    for index in range(events):
        roll = index % 20
        if roll == 7 and firsts:
            messages.append(firsts[index % len(firsts)])  # an exact repeat of an earlier report
            exact += 1
            continue
        record = copy.deepcopy(template)
        movement = index if not (roll in (3, 13) and firsts) else index - 1
        record["event_id"] = "ni:///sha-256;" + hashlib.sha256(f"e{index}".encode()).hexdigest() + "?ver=CBV2.0"
        record["trace_key"] = f"trace:T{movement}"
        record["trace"]["trace_code"] = f"T{movement}"
        if movement != index:  # the same shipment, reported to MARA's platform half an hour later
            record["trace"]["reporting_department"] = "MARA"
            record["event"]["event_time_ms"] += 1_800_000
            cross += 1
        routes[record["event_id"]] = len(router.route(record))
        message = (record["trace_key"].encode(), serializer.serialize(record))
        messages.append(message)
        if movement == index:
            firsts.append(message)
    return Generated(messages, firsts, routes, exact, cross)


async def produce(producer: AIOKafkaProducer, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
    futures = [await producer.send(topic, value, key=key) for key, value in messages]
    await asyncio.gather(*futures)


class Clock:
    """Time from the first batch handled to the last one committed."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.done = 0
        self.started: float | None = None
        self.finished = asyncio.Event()
        self.elapsed = 0.0

    def begin(self) -> None:
        if self.started is None:
            self.started = time.perf_counter()

    def add(self, count: int) -> None:
        self.done += count
        if self.done >= self.expected and not self.finished.is_set():
            assert self.started is not None
            self.elapsed = time.perf_counter() - self.started
            self.finished.set()


class TimedRouter(RouterService):
    clock: Clock | None = None

    async def process(self, consumer: AIOKafkaConsumer, batch: Any) -> None:
        if self.clock is not None:
            self.clock.begin()
        await super().process(consumer, batch)
        if self.clock is not None:
            self.clock.add(sum(len(messages) for messages in batch.values()))


async def run_pipeline(
    kafka: KafkaSettings, ns: str, registry: EmbeddedRegistry, serializer: TopicSerializer, clock: Clock
) -> TimedRouter:
    producer = make_producer(kafka)
    await producer.start()
    topics = {s.name: f"{ns}.deliver.{s.name}" for s in SUBSCRIPTIONS}
    pipeline = Pipeline(
        deserializer=Deserializer(registry, reader_schema=CANONICAL_SCHEMA.read_text()),
        serializer=serializer,
        router=Router(SUBSCRIPTIONS),
        deduplicator=Deduplicator(DedupeSettings(), list(topics)),
        subscription_topics=topics,
        provenance_topic=f"{ns}.events.provenance",
        enricher=lambda record: enrich(record, REFERENCE, RegionTable.load_default()),
    )
    router = TimedRouter(
        kafka=kafka,
        group_id=f"{ns}-router",
        input_topic=f"{ns}.events.canonical",
        pipeline=pipeline,
        tables=ChangeloggedState(StateStore(None, TABLES), kafka=kafka, topic=f"{ns}.state", producer=producer),
        producer=producer,
        dead_letters=DeadLetterPublisher(producer, f"{ns}.deadletter"),
    )
    router.clock = clock
    router._bench_producer = producer  # type: ignore[attr-defined]  # stopped by stop_pipeline
    await router.start()
    return router


async def stop_pipeline(router: TimedRouter) -> None:
    await router.stop()
    await router._bench_producer.stop()  # type: ignore[attr-defined]


async def run_plain(
    kafka: KafkaSettings,
    ns: str,
    registry: EmbeddedRegistry,
    serializer: TopicSerializer,
    routes: dict[str, int],
    clock: Clock,
    stop: asyncio.Event,
) -> None:
    """The reference loop: the same work with no framework, a dict for state."""
    topics = [f"{ns}.deliver.{s.name}" for s in SUBSCRIPTIONS]
    deserializer = Deserializer(registry, reader_schema=CANONICAL_SCHEMA.read_text())
    regions = RegionTable.load_default()
    consumer = make_consumer(kafka, group_id=f"{ns}-plain")
    producer = make_producer(kafka)
    await consumer.start()
    await producer.start()
    consumer.subscribe([f"{ns}.events.canonical"])
    seen: set[str] = set()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                continue
            clock.begin()
            sends = []
            changelog = []
            for tp, messages in batch.items():
                for message in messages:
                    record = await deserializer.decode_any(message.value)
                    identity = record["event_id"]
                    if identity in seen:
                        continue
                    seen.add(identity)
                    changelog.append((tp.partition, identity))
                    result = enrich(record, REFERENCE, regions)
                    assert isinstance(result, Emit)
                    value = serializer.serialize(result.value)
                    headers = [("tracebus-event-id", identity.encode())]
                    for topic in topics[: routes.get(identity, 1)]:
                        sends.append(await producer.send(topic, value, key=message.key, headers=headers))
            await asyncio.gather(*sends)
            stamp = str(int(time.time() * 1000)).encode()
            writes = [
                await producer.send(f"{ns}.state", stamp, key=b"s" + identity.encode(), partition=partition)
                for partition, identity in changelog
            ]
            await asyncio.gather(*writes)
            await consumer.commit({tp: messages[-1].offset + 1 for tp, messages in batch.items()})
            clock.add(sum(len(messages) for messages in batch.values()))
    finally:
        await consumer.stop()
        await producer.stop()


async def provision(kafka: KafkaSettings, ns: str) -> None:
    names = [
        "events.canonical",
        "events.provenance",
        "deadletter",
        "state",
        *(f"deliver.{s.name}" for s in SUBSCRIPTIONS),
    ]
    await apply_topics(kafka, [ConcreteTopic(f"{ns}.{n}", PARTITIONS, {"cleanup.policy": "delete"}) for n in names])


async def throughput(kafka: KafkaSettings, generated: Generated, which: str) -> float:
    ns = f"bench{which}{uuid.uuid4().hex[:6]}"
    await provision(kafka, ns)
    registry = EmbeddedRegistry(MemorySchemaLog())
    await registry.start()
    serializer = TopicSerializer(registry, f"{ns}.events.canonical", CANONICAL_SCHEMA.read_text())
    await serializer.bind()
    producer = make_producer(kafka)
    await producer.start()
    await produce(producer, f"{ns}.events.canonical", generated.messages)
    await producer.stop()
    clock = Clock(len(generated.messages))
    stop = asyncio.Event()
    if which == "pipeline":
        router = await run_pipeline(kafka, ns, registry, serializer, clock)
        await clock.finished.wait()
        await stop_pipeline(router)
    else:
        task = asyncio.create_task(run_plain(kafka, ns, registry, serializer, generated.routes, clock, stop))
        await clock.finished.wait()
        stop.set()
        await task
    return len(generated.messages) / clock.elapsed


async def latency(kafka: KafkaSettings, generated: Generated, which: str, rate: int, seconds: float) -> list[float]:
    """Send → arrival on the ``all`` delivery topic, in ms, at ``rate`` events/s offered."""
    ns = f"lat{which}{uuid.uuid4().hex[:6]}"
    await provision(kafka, ns)
    registry = EmbeddedRegistry(MemorySchemaLog())
    await registry.start()
    serializer = TopicSerializer(registry, f"{ns}.events.canonical", CANONICAL_SCHEMA.read_text())
    await serializer.bind()
    firsts = generated.first_reports[: int(rate * seconds)]
    decoder = Deserializer(registry)
    sent: dict[str, float] = {}
    arrivals: list[float] = []
    stop = asyncio.Event()
    watcher = make_consumer(kafka, group_id=None)
    await watcher.start()
    delivered = f"{ns}.deliver.all"
    watcher.assign([TopicPartition(delivered, p) for p in range(PARTITIONS)])
    clock = Clock(10**12)  # never finishes: the processor runs until stopped
    router: TimedRouter | None = None
    task: asyncio.Task[None] | None = None
    if which == "pipeline":
        router = await run_pipeline(kafka, ns, registry, serializer, clock)
        await router.assigned_once.wait()
    else:
        task = asyncio.create_task(run_plain(kafka, ns, registry, serializer, generated.routes, clock, stop))
    producer = make_producer(kafka)
    await producer.start()
    await asyncio.sleep(3 if which == "plain" else 0)  # let the plain loop's group join finish

    async def watch() -> None:
        while not stop.is_set():
            for messages in (await watcher.getmany(timeout_ms=100)).values():
                now = time.perf_counter()
                for message in messages:
                    identity = dict(message.headers).get("tracebus-event-id", b"").decode()
                    if identity in sent:
                        arrivals.append((now - sent.pop(identity)) * 1000)

    watching = asyncio.create_task(watch())
    started = time.perf_counter()
    for index, (key, value) in enumerate(firsts):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        identity = (await decoder.decode_any(value))["event_id"]
        sent[identity] = time.perf_counter()
        await producer.send(f"{ns}.events.canonical", value, key=key)
    deadline = time.perf_counter() + 15
    while sent and time.perf_counter() < deadline:  # noqa: ASYNC110 - a deadline, not an event
        await asyncio.sleep(0.1)
    stop.set()
    await watching
    await producer.stop()
    await watcher.stop()
    if router is not None:
        await stop_pipeline(router)
    if task is not None:
        await task
    return arrivals


def rss_of_dedup_state(keys: int) -> tuple[float, float, float]:
    """Peak RSS growth of a child process that puts ``keys`` seen-keys into the production store.

    Returns (peak RSS growth, anonymous part, file-backed part) in MB, from /proc/self/status.
    The file-backed part is LMDB's memory-mapped file: page cache the kernel can reclaim.
    """
    script = f"""
import hashlib, re, struct
from streams.state.batch import SEEN, TABLES
from streams.state.store import StateStore
def status():
    text = open("/proc/self/status").read()
    return {{k: int(re.search(k + r":\\s+(\\d+)", text).group(1)) for k in ("VmHWM", "RssAnon", "RssFile")}}
before = status()
store = StateStore(None, TABLES)
stamp = struct.pack(">q", 1)  # what the router stores per seen identity
for start in range(0, {keys}, 10_000):
    keys = [hashlib.sha256(str(i).encode()).digest() for i in range(start, start + 10_000)]
    # the router's pattern: look the batch up, then write it
    assert not store.get_many(SEEN, start % 6, keys)
    store.write([(SEEN, start % 6, key, stamp) for key in keys])
assert store.count(SEEN) == {keys}
for start in range(0, {keys}, 10_000):  # and read every key back once: pages the lookups touch count too
    keys = [hashlib.sha256(str(i).encode()).digest() for i in range(start, start + 10_000)]
    assert len(store.get_many(SEEN, start % 6, keys)) == 10_000
after = status()
print((after["VmHWM"] - before["VmHWM"]) / 1024, (after["RssAnon"] - before["RssAnon"]) / 1024,
      (after["RssFile"] - before["RssFile"]) / 1024)
store.close()
"""
    output = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    growth, anon, file_backed = (float(x) for x in output.split())
    return growth, anon, file_backed


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main_async(events: int, latency_seconds: float, rss_keys: int, latency_rounds: int = 2) -> dict[str, Any]:
    broker = EmbeddedBroker()
    bootstrap = await broker.start()
    try:
        kafka = KAFKA.model_copy(update={"bootstrap_servers": bootstrap})
        registry = EmbeddedRegistry(MemorySchemaLog())
        await registry.start()
        serializer = TopicSerializer(registry, "bench.events.canonical", CANONICAL_SCHEMA.read_text())
        await serializer.bind()
        generated = generate(serializer, events)
        print(
            f"generated {len(generated.messages):,} events: {generated.exact_duplicates:,} exact repeats, "
            f"{generated.cross_department:,} cross-department reports; {len(SUBSCRIPTIONS)} subscriptions"
        )
        measures: list[tuple[str, Callable[[], Awaitable[float]]]] = [
            ("pipeline", lambda: throughput(kafka, generated, "pipeline")),
            ("plain", lambda: throughput(kafka, generated, "plain")),
        ]
        rates = {name: await run() for name, run in measures}
        # interleaved rounds (pipeline, plain, plain, pipeline, …) so that neither side always runs on a
        # fresher or a more loaded broker; samples of all rounds are pooled
        lat: dict[str, list[float]] = {"pipeline": [], "plain": []}
        for round_number in range(latency_rounds):
            order = ("pipeline", "plain") if round_number % 2 == 0 else ("plain", "pipeline")
            for which in order:
                lat[which].extend(await latency(kafka, generated, which, 1000, latency_seconds))
    finally:
        broker.stop()
    rss, rss_anon, rss_file = rss_of_dedup_state(rss_keys)
    result = {
        "pipeline_eps": round(rates["pipeline"]),
        "plain_eps": round(rates["plain"]),
        "ratio": round(rates["pipeline"] / rates["plain"], 3),
        "p50_ms": round(percentile(lat["pipeline"], 0.5), 1),
        "p99_ms": round(percentile(lat["pipeline"], 0.99), 1),
        "plain_p50_ms": round(percentile(lat["plain"], 0.5), 1),
        "plain_p99_ms": round(percentile(lat["plain"], 0.99), 1),
        "latency_samples": [len(lat["pipeline"]), len(lat["plain"])],
        "rss_mb": round(rss, 1),
        "rss_anon_mb": round(rss_anon, 1),
        "rss_file_mb": round(rss_file, 1),
        "rss_keys": rss_keys,
    }
    print(
        f"pipeline {result['pipeline_eps']:>8,} events/s   plain loop {result['plain_eps']:>8,} events/s   ratio {result['ratio']}"
    )
    print(
        f"latency at 1,000 events/s: pipeline p50 {result['p50_ms']} ms p99 {result['p99_ms']} ms; "
        f"plain p50 {result['plain_p50_ms']} ms p99 {result['plain_p99_ms']} ms "
        f"(median of samples {statistics.median(lat['pipeline'] or [0]):.0f} ms)"
    )
    print(
        f"dedup state, {rss_keys:,} keys in LMDB: peak RSS growth {result['rss_mb']} MB "
        f"(anonymous {result['rss_anon_mb']} MB, memory-mapped file {result['rss_file_mb']} MB)"
    )
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--rss-keys", type=int, default=1_000_000)
    parser.add_argument("--latency-rounds", type=int, default=2, help="interleaved latency runs per side")
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args.events, args.latency_seconds, args.rss_keys, args.latency_rounds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
