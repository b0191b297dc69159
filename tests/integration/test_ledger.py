"""The stream core's ledger: ≥ 50,000 generated inputs through real ``tracebus up`` workers killed at failpoints.

Checked only against the generator's expectations (:mod:`tests.ledger`) and
what left the bus — the webhook receiver's raw log, the dead-letter topic and
the provenance topic — never against the pipeline's own counters. Committed
offsets serve only to know when the workers are done.

``test_ledger_survives_sigkill_at_each_failpoint``: the inputs are published
to ``<ns>.events.canonical`` (60 % before the first worker starts, the rest
while it runs); one worker process (``tracebus up --role router --role
sinks``) at a time, each armed with one failpoint (:mod:`streams.failpoints`)
that SIGKILLs it on its Nth pass, then a last one without failpoints drains
everything. ``test_two_workers_share_partitions_and_deliver_what_one_does``:
two workers in one consumer group both get partitions and deliver the same
sets as one worker on the same inputs.
``test_ledger_with_a_receiver_refusing_every_nth_request``: the small ledger
through one worker whose webhook receiver answers 503 to every 7th request,
with one attempt in line, so failed batches go through the subscribers'
retry topics (:mod:`streams.retry_lane`); the same expectations hold, and
each subscriber receives each trace key's events in their routed order.

The crash points the acceptance criterion names, in our order of work
(route → send → state → offsets; the sink delivers later from the
subscription topic):

* "after a send and before its commit" — ``router.after-send``: outputs
  acknowledged, neither state nor input offsets written;
* "after a state write and before the send" — ``router.after-state``: the
  router's state is on the changelog, its input offsets are not committed, and
  the webhook send of that batch (the sink's) has not happened yet;
* "during a webhook delivery" — ``sink.during-delivery``: the subscriber
  answered 2xx, the sink's offsets are not committed.

The embedded broker answers ListOffsets (``end_offsets``, ``seek_to_end``)
with the base offset of a partition's last record batch + 1, short of its
end; this module takes ends from the high watermark of fetch responses. The
router's changelog restore (``streams/state/changelog.py``) stops at
``end_offsets`` and can therefore miss the tail of a changelog partition on
that broker; the first test prints, per restart, the entries restored against
the records the changelog holds.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from connectors.webhook.receiver import WebhookReceiver
from schemas.codec import Deserializer, TopicSerializer
from schemas.registry.embedded import EmbeddedRegistry
from streams.bus import CANONICAL_SCHEMA
from streams.deadletter import read_context
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_consumer, make_producer
from streams.kafka.schema_log import KafkaSchemaLog
from streams.kafka.topics import apply_topics, concrete_topics, load_topics
from streams.settings import KafkaSettings, Settings
from tests.integration.conftest import TEST_KAFKA
from tests.ledger import FILTERS, INPUT_HEADER, OUTCOMES, Ledger, generate

pytestmark = pytest.mark.integration

TRACEBUS = Path(sys.executable).with_name("tracebus")
INPUTS = 50_000
SMALL_INPUTS = 5_000
WEBHOOK_SUBSCRIBERS = tuple(FILTERS)  # every subscriber has a webhook, "nobody" included
ASSIGNED = re.compile(r"router restored \d+ state entries for partitions \[([\d, ]*)\]")
RESTORED = re.compile(r"router restored (\d+) state entries for partitions \[0, 1, 2, 3, 4, 5\]")
KILLED = re.compile(r"tracebus failpoint (\S+) reached")


def _token(name: str) -> bytes:
    return f"ledger-token-{name}".encode()


@dataclass
class Exchange:
    """The test's side of one bus namespace: topics, a producer, the registry, a receiver, the workers' env."""

    namespace: str
    kafka: KafkaSettings
    settings: Settings
    producer: AIOKafkaProducer
    registry: EmbeddedRegistry
    serializer: TopicSerializer
    receiver: WebhookReceiver
    env: dict[str, str]
    folder: Path
    workers: list[Worker] = field(default_factory=list)

    def topic(self, name: str) -> str:
        return self.settings.topic(name)


@asynccontextmanager
async def exchange(broker: EmbeddedBroker, folder: Path) -> AsyncIterator[Exchange]:
    namespace = f"ledger{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)  # noqa: ASYNC240 - one local directory, before anything runs
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    settings = Settings(namespace=namespace, bootstrap_servers=broker.bootstrap_servers, kafka=TEST_KAFKA)
    await apply_topics(kafka, concrete_topics(settings, load_topics(settings.topics_file), WEBHOOK_SUBSCRIBERS))
    receiver = WebhookReceiver({name: _token(name) for name in WEBHOOK_SUBSCRIBERS})
    producer = make_producer(kafka)
    async with receiver:
        await producer.start()
        try:
            registry = EmbeddedRegistry(KafkaSchemaLog(kafka, settings.topic("schemas"), producer))
            await registry.start()
            serializer = TopicSerializer(registry, settings.topic("events.canonical"), CANONICAL_SCHEMA.read_text())
            await serializer.bind()
            subscriptions = folder / "subscriptions.yaml"
            subscriptions.write_text(
                yaml.safe_dump(
                    {
                        "subscriptions": [
                            {
                                "name": name,
                                "department": "SAMR",
                                "filter": dict(criteria),
                                "webhook": {
                                    "url": f"{receiver.url}/hooks/{name}",
                                    "signature_token": _token(name).decode(),
                                },
                            }
                            for name, criteria in FILTERS.items()
                        ]
                    }
                )
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEBUS_", "KAFKA_", "SCHEMA_"))}
            env.update(
                {
                    "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                    "TRACEBUS_NAMESPACE": namespace,
                    "TRACEBUS_SUBSCRIPTIONS_FILE": str(subscriptions),
                    "TRACEBUS_KAFKA__SESSION_TIMEOUT_MS": "6000",
                    "TRACEBUS_KAFKA__HEARTBEAT_INTERVAL_MS": "300",
                    "TRACEBUS_KAFKA__REBALANCE_TIMEOUT_MS": "6000",
                    "TRACEBUS_WEBHOOK_BACKOFF_INITIAL_S": "0.1",
                    "TRACEBUS_WEBHOOK_BACKOFF_MAX_S": "0.5",
                }
            )
            ex = Exchange(namespace, kafka, settings, producer, registry, serializer, receiver, env, folder)
            try:
                yield ex
            finally:
                for worker in ex.workers:
                    await worker.stop()
        finally:
            await producer.stop()


class Worker:
    """One ``tracebus up --role router --role sinks`` process; its output goes to a log file."""

    def __init__(self, ex: Exchange, name: str, *, state: str, failpoints: str | None = None) -> None:
        self.name = name
        self.failpoints = failpoints
        self.log_path = ex.folder / f"{name}.log"
        self.env = {**ex.env, "TRACEBUS_STATE_DIR": str(ex.folder / state)}
        if failpoints is not None:
            self.env["TRACEBUS_FAILPOINTS"] = failpoints
        self.process: asyncio.subprocess.Process | None = None
        ex.workers.append(self)

    async def start(self) -> Worker:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(TRACEBUS), "up", "--role", "router", "--role", "sinks", "-v",
                stdout=log, stderr=asyncio.subprocess.STDOUT, env=self.env,
            )  # fmt: skip
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def assignment(self) -> set[int] | None:
        """The router partitions this worker holds now (its last assignment), None before the first."""
        found = ASSIGNED.findall(self.log())
        if not found:
            return None
        return {int(p) for p in found[-1].replace(",", " ").split()}

    async def killed_by_failpoint(self, timeout_s: float) -> str:
        """Wait for this worker to SIGKILL itself; return the failpoint it names."""
        assert self.process is not None
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            raise AssertionError(
                f"{self.name} ({self.failpoints}) still runs after {timeout_s}s:\n{self.tail()}"
            ) from None
        assert code == -signal.SIGKILL, f"{self.name} exited with {code}, not SIGKILL:\n{self.tail()}"
        points = KILLED.findall(self.log())
        assert len(points) == 1, f"{self.name}: expected one failpoint line, got {points}"
        return str(points[0])

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def publish(ex: Exchange, messages: Sequence[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> None:
    """Publish in order with one producer (per-partition order = arrival order), acknowledged."""
    topic = ex.topic("events.canonical")
    for start in range(0, len(messages), 5_000):
        futures = [
            await ex.producer.send(topic, value, key=key, headers=headers)
            for key, value, headers in messages[start : start + 5_000]
        ]
        await asyncio.gather(*futures)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer.topics()  # metadata of every topic: partitions_for_topic reads it
    partitions = consumer.partitions_for_topic(topic)
    assert partitions, f"topic {topic} has no partitions"
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def read_topic(kafka: KafkaSettings, topic: str, *, timeout_s: float = 60) -> list[ConsumerRecord]:
    """Every record of ``topic`` up to its high watermark (see :func:`drain` on why not ``end_offsets``)."""
    consumer = make_consumer(kafka, group_id=None, max_poll_records=10_000)
    await consumer.start()
    deadline = time.monotonic() + timeout_s
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        while True:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(messages)
            ends = [consumer.highwater(tp) for tp in partitions]
            positions = [await consumer.position(tp) for tp in partitions]
            if all(end is not None and position >= end for end, position in zip(ends, positions, strict=True)):
                return records
            assert time.monotonic() < deadline, f"{topic}: not read to its end in {timeout_s}s"
    finally:
        await consumer.stop()


async def records_in(kafka: KafkaSettings, topic: str) -> int:
    """How many records ``topic`` holds (sum of the high watermarks; nothing is ever deleted here)."""
    consumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)  # short of the end on the embedded broker: the fetch tells
        while any(consumer.highwater(tp) is None for tp in partitions):
            await consumer.getmany(timeout_ms=300)
        return sum(consumer.highwater(tp) or 0 for tp in partitions)
    finally:
        await consumer.stop()


async def drain(ex: Exchange, *, timeout_s: float, quiet_s: float = 2.0) -> None:
    """Until the router's committed offsets reach the input's end, every sink's reach its topic's end,
    and the receiver's log has not grown for ``quiet_s``.

    The ends are the high watermarks of fetch responses: the embedded broker answers ListOffsets
    (``end_offsets``) with the base offset of the last record batch + 1, short of the real end.
    """
    watched = {ex.settings.group("router"): ex.topic("events.canonical")}
    watched.update({ex.settings.group(f"sink-{name}"): ex.topic(f"deliver.{name}") for name in WEBHOOK_SUBSCRIBERS})
    # events parked for retry are done only once their retry topic is read to its end too
    watched.update({ex.settings.group(f"sink-{name}-retry"): ex.topic(f"retry.{name}") for name in WEBHOOK_SUBSCRIBERS})
    tail = make_consumer(ex.kafka, group_id=None, max_poll_records=10_000)
    readers = {group: make_consumer(ex.kafka, group_id=group) for group in watched}
    await tail.start()
    for reader in readers.values():
        await reader.start()
    deadline = time.monotonic() + timeout_s
    last_count, last_change = -1, time.monotonic()
    try:
        partitions = {topic: await _partitions(tail, topic) for topic in watched.values()}
        everything = [tp for tps in partitions.values() for tp in tps]
        tail.assign(everything)
        await tail.seek_to_end(*everything)
        while True:
            await tail.getmany(timeout_ms=300)  # fetch responses carry each partition's high watermark
            count = len(ex.receiver.deliveries)
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            behind: dict[str, int | None] = {}
            for group, topic in watched.items():
                for tp in partitions[topic]:
                    end = tail.highwater(tp)
                    lag = None if end is None else end - ((await readers[group].committed(tp)) or 0)
                    if lag != 0:
                        total = behind.get(group, 0)
                        behind[group] = None if lag is None or total is None else total + lag
            if not behind and time.monotonic() - last_change >= quiet_s:
                return
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {w.name}\n{w.tail(15)}" for w in ex.workers)
                raise AssertionError(f"not drained after {timeout_s}s; behind: {behind}\n{tails}")
            await asyncio.sleep(0.2)
    finally:
        await tail.stop()
        for reader in readers.values():
            await reader.stop()


@dataclass
class Figures:
    deliveries: dict[str, int]
    distinct: dict[str, int]
    redeliveries: dict[str, int]
    dead_letters: int
    dead_letter_repeats: int
    merges_found: int
    precision: float
    recall: float


def delivered_sets(receiver: WebhookReceiver, *, refusals: bool = False) -> dict[str, Counter[str]]:
    """What each subscriber accepted; ``refusals``: the receiver answered 503 on purpose to some requests."""
    answers = {200, receiver.fail_status} if refusals else {200}
    assert all(d.signature_ok and d.status in answers for d in receiver.deliveries), "every request signed, answered"
    return {name: Counter(receiver.accepted_ids(name)) for name in WEBHOOK_SUBSCRIBERS}


def _describe(ledger: Ledger, identities: set[str]) -> str:
    where = {e.event_id: (i, e.outcome) for i, e in enumerate(ledger.expected) if e.event_id is not None}
    shown = sorted(identities)[:5]
    return ", ".join(f"{i} (input {where.get(i)})" for i in shown) + (" …" if len(identities) > 5 else "")


async def check(ex: Exchange, ledger: Ledger, *, refusals: bool = False) -> Figures:
    """Every input accounted for: delivered to exactly its subscribers, dead-lettered with its reason, merged."""
    received = delivered_sets(ex.receiver, refusals=refusals)
    for name in WEBHOOK_SUBSCRIBERS:
        got, wanted = set(received[name]), ledger.delivered[name]
        missing, extra = wanted - got, got - wanted
        problem = (
            f"{name}: {len(missing)} observations missing [{_describe(ledger, missing)}], "
            f"{len(extra)} not expected [{_describe(ledger, extra)}]"
        )
        assert not missing, problem
        assert not extra, problem

    letters = await read_topic(ex.kafka, ex.topic("deadletter"))
    lettered: Counter[int] = Counter()
    wrong: list[str] = []
    for message in letters:
        context = read_context(message.headers)
        index = dict(message.headers).get(INPUT_HEADER)
        if index is None:
            wrong.append(f"a dead letter of no input: {context}")
            continue
        number = int(index)
        if ledger.dead_letters.get(number) != (context.get("stage"), context.get("reason")):
            wrong.append(f"input {number} ({ledger.expected[number].outcome}) dead-lettered with {context}")
        elif message.value != ledger.messages[number][1]:
            wrong.append(f"input {number}: the dead letter does not keep the original bytes")
        lettered[number] += 1
    assert not wrong, f"{len(wrong)} wrong dead letters: {wrong[:5]}"
    assert set(lettered) == set(ledger.dead_letters), (
        f"dead letters missing for inputs {sorted(set(ledger.dead_letters) - set(lettered))[:10]}"
    )

    deserializer = Deserializer(ex.registry, reader_schema=CANONICAL_SCHEMA.read_text())
    merged: dict[str, str] = {}
    lineage: dict[str, list[str]] = {}
    for message in await read_topic(ex.kafka, ex.topic("events.provenance")):
        record = await deserializer.decode_any(message.value)
        identity, observation = record["event_id"], record["observation_id"]
        assert merged.setdefault(identity, observation) == observation, f"{identity} merged into two observations"
        lineage[identity] = [p["event_id"] for p in record["provenance"]]
    found, wanted_merges = set(merged.items()), set(ledger.merges.items())
    right = len(found & wanted_merges)
    precision = right / len(found) if found else 1.0
    recall = right / len(wanted_merges) if wanted_merges else 1.0
    problem = (
        f"cross-department matching: precision {precision:.4f}, recall {recall:.4f}; "
        f"wrong merges {sorted(found - wanted_merges)[:3]}, missed {sorted(wanted_merges - found)[:3]}"
    )
    assert precision == 1.0, problem
    assert recall == 1.0, problem
    wrong_lineage = [i for i, reports in lineage.items() if reports != ledger.provenance[i]]
    assert not wrong_lineage, f"provenance differs from the arrival order for {wrong_lineage[:3]}"

    return Figures(
        deliveries={name: sum(c.values()) for name, c in received.items()},
        distinct={name: len(c) for name, c in received.items()},
        redeliveries={name: sum(c.values()) - len(c) for name, c in received.items()},
        dead_letters=len(lettered),
        dead_letter_repeats=sum(lettered.values()) - len(lettered),
        merges_found=len(found),
        precision=precision,
        recall=recall,
    )


async def key_order_breaks(ex: Exchange) -> dict[str, list[str]]:
    """Per subscriber, the trace keys whose events were first accepted in another order than routed.

    The routed order of a key is the order of its records on ``deliver.<name>`` (one partition); the
    received order is the order of each delivery id's first 2xx at the receiver.
    """
    deserializer = Deserializer(ex.registry, reader_schema=CANONICAL_SCHEMA.read_text())
    breaks: dict[str, list[str]] = {}
    for name in WEBHOOK_SUBSCRIBERS:
        routed: dict[bytes | None, list[str]] = {}
        key_of: dict[str, bytes | None] = {}
        for message in await read_topic(ex.kafka, ex.topic(f"deliver.{name}")):
            record = await deserializer.decode_any(message.value)
            delivery = str(record.get("observation_id") or record["event_id"])
            if delivery not in key_of:
                key_of[delivery] = message.key
                routed.setdefault(message.key, []).append(delivery)
        received: dict[bytes | None, list[str]] = {}
        for delivery in dict.fromkeys(ex.receiver.accepted_ids(name)):
            received.setdefault(key_of[delivery], []).append(delivery)
        wrong = [str(key) for key, order in routed.items() if received.get(key, []) != order]
        if wrong:
            breaks[name] = wrong
    return breaks


def report(title: str, ledger: Ledger, figures: Figures, elapsed: float, extra: dict[str, Any]) -> None:
    counts = ledger.counts()
    print(f"\n== {title}")
    print(f"inputs {len(ledger.messages):,}: " + ", ".join(f"{o} {counts[o]:,}" for o in OUTCOMES))
    for name in WEBHOOK_SUBSCRIBERS:
        print(
            f"  {name:<9} expected {len(ledger.delivered[name]):>6,}  distinct received {figures.distinct[name]:>6,}"
            f"  deliveries {figures.deliveries[name]:>6,}  redeliveries {figures.redeliveries[name]:>5,}"
        )
    print(
        f"dead letters {figures.dead_letters:,} (+{figures.dead_letter_repeats:,} repeated); cross-department merges "
        f"{figures.merges_found:,}: precision {figures.precision:.3f} recall {figures.recall:.3f}"
    )
    for key, value in extra.items():
        print(f"{key}: {value}")
    print(f"elapsed {elapsed:.1f}s")


async def test_ledger_survives_sigkill_at_each_failpoint(broker: EmbeddedBroker, tmp_path: Path) -> None:
    started = time.monotonic()
    async with exchange(broker, tmp_path / "ledger") as ex:
        ledger = generate(ex.serializer, INPUTS, tag=ex.namespace)
        head = int(len(ledger.messages) * 0.6)
        await publish(ex, ledger.messages[:head])
        timeline: dict[str, str] = {}
        restores: list[str] = []
        # One worker at a time, restarted after each crash with the same state directory (a restarted pod
        # keeps its disk; the router must not trust it anyway). The counts are progress: the 4th batch
        # routed, the 4th batch whose state was written, the 25th webhook request answered 2xx.
        crashes = [("router.after-send", 4), ("router.after-state", 4), ("sink.during-delivery", 25)]
        tail = asyncio.create_task(publish(ex, ledger.messages[head:]))
        for number, (point, count) in enumerate([*crashes, (None, 0)], 1):
            changelog = await records_in(ex.kafka, ex.topic("state.router"))  # nothing writes it between workers
            worker = Worker(ex, f"worker-{number}", state="state", failpoints=point and f"{point}:{count}")
            await worker.start()
            if point is None:
                break
            killed = await worker.killed_by_failpoint(timeout_s=90)
            assert killed == point
            timeline[point] = (
                f"killed at {time.monotonic() - started:.1f}s, receiver log {len(ex.receiver.deliveries):,} requests"
            )
            restored = RESTORED.findall(worker.log())
            restores.append(f"{worker.name} {restored[0] if restored else '?'} of {changelog:,}")
        await tail
        await drain(ex, timeout_s=150)
        drained = time.monotonic() - started
        restored = RESTORED.findall(worker.log())
        restores.append(f"{worker.name} {restored[0] if restored else '?'} of {changelog:,}")
        # A diagnostic, not a check (it reads the worker's own log): a restart must restore the whole changelog.
        # On the embedded broker it may not (see the module docstring); a short restore shows up here first.
        print("\nrouter state restored at start (entries applied of changelog records): " + "; ".join(restores))
        figures = await check(ex, ledger)
        # A repeat is legitimate only as the replay of what a crash left unacknowledged. Each SIGKILL leaves at
        # most one router batch sent but not recorded (≤ max_poll_records inputs, re-routed after the restart)
        # and, per sink, one webhook batch answered but not committed. Exact duplicates that were not dropped
        # would add one repeat per duplicated observation on top.
        bound = len(crashes) * (ex.settings.kafka.max_poll_records + ex.settings.webhook_max_events)
        assert all(n <= bound for n in figures.redeliveries.values()), (figures.redeliveries, bound)
        report(
            "ledger: 3 SIGKILLs",
            ledger,
            figures,
            time.monotonic() - started,
            {**timeline, "drained at": f"{drained:.1f}s", "redelivery bound per subscriber": bound},
        )


async def test_two_workers_share_partitions_and_deliver_what_one_does(broker: EmbeddedBroker, tmp_path: Path) -> None:
    started = time.monotonic()
    async with exchange(broker, tmp_path / "pair") as pair, exchange(broker, tmp_path / "solo") as solo:
        ledger = generate(pair.serializer, SMALL_INPUTS, tag="small")
        await solo.serializer.bind()  # the same derived schema id: the same bytes serve both namespaces
        assert solo.serializer.schema_id == pair.serializer.schema_id
        first, second = Worker(pair, "pair-1", state="state-1"), Worker(pair, "pair-2", state="state-2")
        only = Worker(solo, "solo", state="state")
        for worker in (first, second, only):
            await worker.start()

        def shared() -> bool:
            a, b = first.assignment(), second.assignment()
            return bool(a) and bool(b) and a is not None and b is not None and not a & b and a | b == set(range(6))

        deadline = time.monotonic() + 90
        while not (shared() and only.assignment() == set(range(6))):
            assert time.monotonic() < deadline, f"no shared assignment:\n{first.tail(10)}\n{second.tail(10)}"
            await asyncio.sleep(0.2)
        assignments = {"pair-1": sorted(first.assignment() or ()), "pair-2": sorted(second.assignment() or ())}
        await asyncio.gather(publish(pair, ledger.messages), publish(solo, ledger.messages))
        await asyncio.gather(drain(pair, timeout_s=90), drain(solo, timeout_s=90))
        assert first.assignment() == set(assignments["pair-1"]), "the pair rebalanced while it worked"
        assert second.assignment() == set(assignments["pair-2"]), "the pair rebalanced while it worked"
        figures = await check(pair, ledger)
        solo_figures = await check(solo, ledger)
        pair_sets = {name: set(c) for name, c in delivered_sets(pair.receiver).items()}
        solo_sets = {name: set(c) for name, c in delivered_sets(solo.receiver).items()}
        assert pair_sets == solo_sets
        report(
            "two workers in one group vs one worker",
            ledger,
            figures,
            time.monotonic() - started,
            {"router partitions": assignments, "one worker's redeliveries": solo_figures.redeliveries},
        )


FAIL_EVERY = 7


async def test_ledger_with_a_receiver_refusing_every_nth_request(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """The ledger again, with every 7th webhook request answered 503 and one attempt in line: failed batches
    go through the retry topics; each subscriber still gets exactly its events, each trace key in order."""
    started = time.monotonic()
    async with exchange(broker, tmp_path / "refusing") as ex:
        for name in WEBHOOK_SUBSCRIBERS:
            ex.receiver.fail_every[name] = FAIL_EVERY
        ex.env.update(
            {
                "TRACEBUS_WEBHOOK_INLINE_ATTEMPTS": "1",
                "TRACEBUS_WEBHOOK_RETRY_TOPIC_ATTEMPTS": "20",
                "TRACEBUS_WEBHOOK_RETRY_BACKOFF_INITIAL_S": "0.1",
                "TRACEBUS_WEBHOOK_RETRY_BACKOFF_MAX_S": "0.4",
            }
        )
        ledger = generate(ex.serializer, SMALL_INPUTS, tag=ex.namespace)
        await Worker(ex, "refused", state="state").start()
        await publish(ex, ledger.messages)
        await drain(ex, timeout_s=120)
        drained = time.monotonic() - started
        figures = await check(ex, ledger, refusals=True)
        assert await key_order_breaks(ex) == {}, "a subscriber received a trace key's events out of order"
        refused = {
            name: sum(1 for d in ex.receiver.deliveries if d.subscription == name and d.status != 200)
            for name in WEBHOOK_SUBSCRIBERS
        }
        parked = {name: await records_in(ex.kafka, ex.topic(f"retry.{name}")) for name in WEBHOOK_SUBSCRIBERS}
        for name in ("all", "mara", "zhejiang"):
            assert refused[name] > 0, f"{name}: no request was refused, the retry path was not exercised"
            assert parked[name] > 0, f"{name}: nothing was parked"
        # no crash here: a repeat could only come from a retry-topic commit lost on the way
        assert all(n <= ex.settings.webhook_max_events for n in figures.redeliveries.values()), figures.redeliveries
        report(
            f"ledger: every {FAIL_EVERY}th webhook request refused",
            ledger,
            figures,
            time.monotonic() - started,
            {"refused requests": refused, "retry-topic records": parked, "drained at": f"{drained:.1f}s"},
        )
