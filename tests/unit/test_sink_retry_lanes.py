"""streams.sinks and streams.retry_lane around the parking lot, with a recording producer and scripted sinks.

What is checked here is what goes to which topic, in which order, with which
headers, and what is committed when; Kafka itself is exercised by
tests/integration/test_webhook_retry.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, cast

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from connectors.base import Sink, SinkRecord
from connectors.errors import RetriableSinkError, SinkRejectedError
from schemas.codec import Deserializer
from streams.deadletter import DeadLetterPublisher, read_context
from streams.parking import HELD_BEHIND_HEADER, ParkInfo, RetryPolicy, read_park
from streams.retry_lane import RetryLane, now_ms
from streams.settings import KafkaSettings, Settings
from streams.sinks import RetryTopic, SinkRunner
from streams.testing import RecordingProducer

DELIVER, RETRY, DEAD = "ns.deliver.sub", "ns.retry.sub", "ns.deadletter"


class FakeDeserializer:
    async def decode_any(self, data: bytes) -> dict[str, Any]:
        if data.startswith(b"bad"):
            raise ValueError("not Avro")
        return dict(orjson.loads(data))


class ScriptedSink(Sink):
    """Raises what ``script`` returns for a batch (None: accepted); records the offsets of every write."""

    def __init__(self, script: Callable[[Sequence[SinkRecord]], Exception | None]) -> None:
        self.name = "sub"
        self.script = script
        self.writes: list[list[int]] = []
        self.seen: list[SinkRecord] = []

    async def write(self, records: Sequence[SinkRecord]) -> None:
        self.writes.append([r.offset for r in records])
        self.seen.extend(records)
        failure = self.script(records)
        if failure is not None:
            raise failure


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


def always(failure: Exception | None) -> Callable[[Sequence[SinkRecord]], Exception | None]:
    return lambda records: failure


def message(offset: int, key: bytes | None, *, topic: str = DELIVER, value: bytes | None = None, **headers: str) -> Any:
    body = value if value is not None else orjson.dumps({"event_id": f"e{offset}"})
    listed = [(k.replace("_", "-"), v.encode()) for k, v in headers.items()]
    return ConsumerRecord(topic, 0, offset, 0, 0, key, body, None, 0, len(body), listed)


def runner(
    sink: ScriptedSink, lane_sink: ScriptedSink | None, producer: RecordingProducer, *, inline: int = 2
) -> SinkRunner:
    retry_topic = None
    if lane_sink is not None:
        policy = RetryPolicy(max_attempts=3, initial_s=1.0, max_s=4.0)
        retry_topic = RetryTopic(RETRY, "ns-sink-sub-retry", cast(AIOKafkaProducer, producer), lane_sink, policy)
    return SinkRunner(
        sink=sink,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        group_id="ns-sink-sub",
        topic=DELIVER,
        deserializer=cast(Deserializer, FakeDeserializer()),
        dead_letters=DeadLetterPublisher(cast(AIOKafkaProducer, producer), DEAD),
        retry=RetryPolicy(max_attempts=inline, initial_s=0.001, max_s=0.001),
        max_batch=50,
        retry_topic=retry_topic,
    )


async def test_main_lane_holds_parked_keys_and_parks_a_failed_batch_in_order() -> None:
    producer = RecordingProducer()
    sink = ScriptedSink(always(RetriableSinkError("503")))
    run = runner(sink, ScriptedSink(always(None)), producer)
    run.lot.park(0, b"a", 1)  # a has an event parked already
    before = now_ms()
    batch = [message(5, b"a", ledger_input="5"), message(6, b"b"), message(7, b"b", value=b"bad"), message(8, b"a")]
    await run._deliver(0, [*batch, message(9, b"c")])
    assert sink.writes == [[6, 9], [6, 9]], "two in-line attempts of the unparked keys only"
    parked = producer.on_topic(RETRY)
    assert [(r.key, r.partition) for r in parked] == [(b"a", 0), (b"b", 0), (b"a", 0), (b"c", 0)]
    infos = [read_park(r.headers or []) for r in parked]
    assert [i.origin if i else None for i in infos] == [5, 6, 8, 9], "in delivery-topic order"
    assert [dict(r.headers or []).get(HELD_BEHIND_HEADER) for r in parked] == [b"1", None, b"1", None]
    assert ("ledger-input", b"5") in (parked[0].headers or []), "original headers kept"
    failed = infos[1]
    assert failed is not None
    assert failed.attempt == 0
    assert failed.not_before_ms >= before + 1000, "first retry waits the retry topic's initial backoff"
    assert "503" in failed.reason
    assert parked[1].value == batch[1].value
    letters = [read_context(r.headers or []) for r in producer.on_topic(DEAD)]
    assert [(c["stage"], c["reason"], c["offset"]) for c in letters] == [("decode", "undecodable", "7")]
    assert run.lot.earlier(0, b"a", 99) == {1, 5, 8}
    assert run.lot.is_parked(0, b"b")
    assert run.lot.is_parked(0, b"c")


async def test_main_lane_dead_letters_a_refused_batch_at_once() -> None:
    producer = RecordingProducer()
    sink = ScriptedSink(always(SinkRejectedError("400 bad", reason="http-400")))
    run = runner(sink, ScriptedSink(always(None)), producer)
    await run._deliver(0, [message(1, b"a"), message(2, b"b")])
    assert sink.writes == [[1, 2]]
    assert producer.on_topic(RETRY) == []
    contexts = [read_context(r.headers or []) for r in producer.on_topic(DEAD)]
    assert [(c["stage"], c["reason"], c["topic"]) for c in contexts] == [("sink:sub", "http-400", DELIVER)] * 2
    assert run.lot.parked_keys() == 0


async def test_without_a_retry_topic_exhausted_attempts_dead_letter() -> None:
    producer = RecordingProducer()
    run = runner(ScriptedSink(always(RetriableSinkError("down"))), None, producer, inline=3)
    await run._deliver(0, [message(1, b"a")])
    contexts = [read_context(r.headers or []) for r in producer.on_topic(DEAD)]
    assert [(c["stage"], c["reason"]) for c in contexts] == [("sink:sub", "retries-exhausted")]


async def test_a_park_not_acknowledged_fails_the_batch_and_keeps_its_key_parked() -> None:
    producer = RecordingProducer()
    run = runner(ScriptedSink(always(RetriableSinkError("503"))), ScriptedSink(always(None)), producer)
    producer.fail_with = RuntimeError("broker gone")
    with pytest.raises(RuntimeError, match="broker gone"):
        await run._deliver(0, [message(4, b"a")])
    # the batch is taken again (not committed): its key is parked, so the re-read event is held, not reordered
    assert run.lot.holds(0, b"a", 4)


def parked_message(retry_offset: int, key: bytes, origin: int, *, attempt: int = 0, held: bool = False) -> Any:
    record = message(retry_offset, key, topic=RETRY, ledger_input=str(origin))
    info = ParkInfo(origin, attempt, 0, "503", held_behind=held)
    return dataclasses.replace(record, headers=info.headers(record.headers))


def lane_of(run: SinkRunner) -> RetryLane:
    assert run.lane is not None
    return run.lane


async def test_a_retry_pass_writes_per_key_reparks_failures_and_commits_after() -> None:
    producer = RecordingProducer()
    lane_sink = ScriptedSink(lambda records: RetriableSinkError("x down") if records[0].key == b"x" else None)
    run = runner(ScriptedSink(always(None)), lane_sink, producer)
    for key, origin in [(b"x", 3), (b"y", 4), (b"x", 5), (b"z", 2), (b"z", 9)]:
        run.lot.park(0, key, origin)
    consumer = RecordingConsumer()
    due = [parked_message(10, b"x", 3), parked_message(11, b"y", 4), parked_message(12, b"x", 5, held=True)]
    due.append(parked_message(13, b"z", 9, held=True))  # z's head (2) is further down the topic
    lane = lane_of(run)
    await lane._pass(
        cast(AIOKafkaConsumer, consumer), TopicPartition(RETRY, 0), [(m, read_park(m.headers)) for m in due]
    )
    assert lane_sink.writes == [[3, 5], [4]], "one write per key; z is not tried before its head"
    assert all(r.topic == DELIVER for r in lane_sink.seen), "the sink sees delivery-topic coordinates"
    reparked = [(r.key, read_park(r.headers or [])) for r in producer.on_topic(RETRY)]
    assert [(k, i.origin, i.attempt, i.held_behind) for k, i in reparked if i] == [
        (b"x", 3, 1, False),
        (b"x", 5, 1, False),
        (b"z", 9, 0, True),
    ]
    assert consumer.commits == [{TopicPartition(RETRY, 0): 14}]
    assert not run.lot.is_parked(0, b"y")
    assert run.lot.earlier(0, b"x", 99) == {3, 5}
    assert run.lot.earlier(0, b"z", 99) == {2, 9}


async def test_a_retry_pass_dead_letters_at_the_limit_with_the_original_record() -> None:
    producer = RecordingProducer()
    run = runner(ScriptedSink(always(None)), ScriptedSink(always(RetriableSinkError("503"))), producer)
    run.lot.park(0, b"x", 3)
    consumer = RecordingConsumer()
    due = [parked_message(20, b"x", 3, attempt=2)]
    await lane_of(run)._pass(
        cast(AIOKafkaConsumer, consumer), TopicPartition(RETRY, 0), [(m, read_park(m.headers)) for m in due]
    )
    assert producer.on_topic(RETRY) == []
    [letter] = producer.on_topic(DEAD)
    context = read_context(letter.headers or [])
    assert (context["stage"], context["reason"], context["topic"], context["offset"]) == (
        "sink:sub",
        "retries-exhausted",
        DELIVER,
        "3",
    )
    assert ("ledger-input", b"3") in (letter.headers or [])
    assert not any(k.startswith("tracebus.retry.") for k, _ in letter.headers or [])
    assert not run.lot.is_parked(0, b"x")
    assert consumer.commits == [{TopicPartition(RETRY, 0): 21}]


async def test_a_retry_pass_whose_repark_fails_commits_nothing_and_releases_nothing() -> None:
    producer = RecordingProducer()
    run = runner(
        ScriptedSink(always(None)),
        ScriptedSink(lambda r: RetriableSinkError("x") if r[0].key == b"x" else None),
        producer,
    )
    run.lot.park(0, b"x", 3)
    run.lot.park(0, b"y", 4)
    producer.fail_with = RuntimeError("broker gone")
    consumer = RecordingConsumer()
    due = [parked_message(30, b"x", 3), parked_message(31, b"y", 4)]
    with pytest.raises(RuntimeError):
        await lane_of(run)._pass(
            cast(AIOKafkaConsumer, consumer), TopicPartition(RETRY, 0), [(m, read_park(m.headers)) for m in due]
        )
    assert consumer.commits == []
    assert run.lot.is_parked(0, b"y"), "y was delivered, but released only once the pass is durable"


def test_inline_attempts_setting_and_its_former_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().webhook_inline_attempts == 3
    assert Settings(webhook_max_attempts=5).webhook_inline_attempts == 5
    assert Settings(webhook_max_attempts=5, webhook_inline_attempts=2).webhook_inline_attempts == 2
    monkeypatch.setenv("TRACEBUS_WEBHOOK_MAX_ATTEMPTS", "4")
    assert Settings().webhook_inline_attempts == 4
    monkeypatch.setenv("TRACEBUS_WEBHOOK_INLINE_ATTEMPTS", "6")
    assert Settings().webhook_inline_attempts == 6
    assert Settings(webhook_retry_topic_attempts=0).webhook_retry_topic_attempts == 0, "0: no retry topic"
