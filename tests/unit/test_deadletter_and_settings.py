"""streams.deadletter (headers, context, publisher), streams.settings, and RetryPolicy of streams.sinks."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import pytest
from aiokafka.errors import KafkaError
from prometheus_client import REGISTRY
from pydantic import ValidationError

from streams.deadletter import DeadLetter, DeadLetterPublisher, read_context
from streams.settings import Settings
from streams.sinks import RetryPolicy
from streams.testing import RecordingProducer

P = "tracebus.errors."


BASE_LETTER = DeadLetter(
    key=b"urn:epc:id:sgtin:6901234.012345.1",
    value=b"\x00\x00\x00\x00\x07\x02\x04hi",
    stage="sink:mofcom",
    reason="http-400",
    message="POST http://127.0.0.1/hooks answered 400",
    error_class="SinkRejectedError",
    topic="tracebus.deliver.mofcom",
    partition=4,
    offset=1234,
    connector="mofcom",
    original_headers=(("tracebus-event-id", b"urn:uuid:1"), ("tracebus-capture-id", b"cap")),
)


def letter(**changes: Any) -> DeadLetter:
    return dataclasses.replace(BASE_LETTER, **changes)


def test_headers_carry_every_context_header_after_the_original_ones() -> None:
    before = int(time.time() * 1000)
    headers = letter().headers()
    after = int(time.time() * 1000)
    assert headers[:2] == [("tracebus-event-id", b"urn:uuid:1"), ("tracebus-capture-id", b"cap")]
    context = dict(headers[2:])
    timestamp = int(context.pop(P + "timestamp"))
    assert before <= timestamp <= after
    assert context == {
        P + "stage": b"sink:mofcom",
        P + "reason": b"http-400",
        P + "exception.class.name": b"SinkRejectedError",
        P + "exception.message": b"POST http://127.0.0.1/hooks answered 400",
        P + "topic": b"tracebus.deliver.mofcom",
        P + "partition": b"4",
        P + "offset": b"1234",
        P + "connector.name": b"mofcom",
    }
    assert len(headers) == 2 + 9


def test_optional_context_is_left_out_when_unknown() -> None:
    headers = letter(topic=None, partition=None, offset=None, connector=None, original_headers=()).headers()
    assert sorted(name for name, _ in headers) == [
        P + "exception.class.name",
        P + "exception.message",
        P + "reason",
        P + "stage",
        P + "timestamp",
    ]


def test_partition_and_offset_zero_are_kept() -> None:
    context = read_context(letter(partition=0, offset=0).headers())
    assert (context["partition"], context["offset"]) == ("0", "0")


def test_redead_lettered_record_gets_its_error_headers_replaced() -> None:
    first = letter(stage="decode", reason="undecodable", connector=None)
    second = letter(stage="sink:gacc", reason="retries-exhausted", original_headers=tuple(first.headers()))
    headers = second.headers()
    names = [name for name, _ in headers]
    assert len(names) == len(set(names)), names
    context = read_context(headers)
    assert (context["stage"], context["reason"], context["connector.name"]) == (
        "sink:gacc",
        "retries-exhausted",
        "mofcom",
    )
    assert headers[:2] == [("tracebus-event-id", b"urn:uuid:1"), ("tracebus-capture-id", b"cap")]


@pytest.mark.parametrize("unit", ["x", "错"])
def test_message_is_truncated_to_2000_characters(unit: str) -> None:
    context = read_context(letter(message=unit * 2500).headers())
    assert context["exception.message"] == unit * 2000


def test_read_context_round_trip() -> None:
    headers = letter(message="第 3 个事件: bad").headers()
    context = read_context([*headers, ("unrelated", b"x")])
    context.pop("timestamp")
    assert context == {
        "stage": "sink:mofcom",
        "reason": "http-400",
        "exception.class.name": "SinkRejectedError",
        "exception.message": "第 3 个事件: bad",
        "topic": "tracebus.deliver.mofcom",
        "partition": "4",
        "offset": "1234",
        "connector.name": "mofcom",
    }


def dead_letters(stage: str, reason: str) -> float:
    return REGISTRY.get_sample_value("tracebus_dead_letters_total", {"stage": stage, "reason": reason}) or 0.0


async def test_publisher_sends_original_bytes_and_counts() -> None:
    producer = RecordingProducer()
    await producer.start()
    publisher = DeadLetterPublisher(producer, "tb.deadletter")
    letters = [
        letter(stage="unit-decode", reason="undecodable", key=None, value=b"\xffgarbage"),
        letter(stage="unit-decode", reason="undecodable", key=b"k2", value=b"v2"),
        letter(stage="unit-sink", reason="http-400"),
    ]
    before = (dead_letters("unit-decode", "undecodable"), dead_letters("unit-sink", "http-400"))
    await publisher.publish(letters)
    assert [(r.topic, r.key, r.value) for r in producer.sent] == [
        ("tb.deadletter", None, b"\xffgarbage"),
        ("tb.deadletter", b"k2", b"v2"),
        ("tb.deadletter", b"urn:epc:id:sgtin:6901234.012345.1", b"\x00\x00\x00\x00\x07\x02\x04hi"),
    ]
    sent_headers = producer.sent[2].headers
    assert sent_headers is not None
    assert read_context(sent_headers)["stage"] == "unit-sink"
    assert ("tracebus-event-id", b"urn:uuid:1") in sent_headers
    assert dead_letters("unit-decode", "undecodable") == before[0] + 2
    assert dead_letters("unit-sink", "http-400") == before[1] + 1


async def test_publisher_with_nothing_to_publish_sends_nothing() -> None:
    producer = RecordingProducer()
    await DeadLetterPublisher(producer, "tb.deadletter").publish([])
    assert producer.attempts == []


async def test_publisher_does_not_count_unacknowledged_letters() -> None:
    producer = RecordingProducer()
    producer.fail_with = KafkaError("not acknowledged")
    before = dead_letters("unit-fail", "x")
    with pytest.raises(KafkaError):
        await DeadLetterPublisher(producer, "tb.deadletter").publish([letter(stage="unit-fail", reason="x")])
    assert dead_letters("unit-fail", "x") == before


# --- settings -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TRACEBUS_") or name in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL"):
            monkeypatch.delenv(name)


def test_defaults_without_environment() -> None:
    settings = Settings()
    assert (settings.namespace, settings.bootstrap_servers, settings.schema_registry_url) == ("tracebus", None, None)
    assert settings.effective_kafka() is settings.kafka
    assert settings.kafka.session_timeout_ms == 10_000


def test_ecosystem_variables_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://registry:8081")
    settings = Settings()
    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.schema_registry_url == "http://registry:8081"
    assert settings.effective_kafka().bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.kafka.bootstrap_servers is None


def test_explicit_argument_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "from-env:9092")
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "http://from-env:8081")
    settings = Settings(bootstrap_servers="explicit:9092", schema_registry_url="http://explicit:8081")
    assert settings.bootstrap_servers == "explicit:9092"
    assert settings.schema_registry_url == "http://explicit:8081"


def test_namespace_and_nested_kafka_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEBUS_NAMESPACE", "pilot-zj")
    monkeypatch.setenv("TRACEBUS_KAFKA__SESSION_TIMEOUT_MS", "30000")
    settings = Settings()
    assert settings.namespace == "pilot-zj"
    assert settings.kafka.session_timeout_ms == 30_000
    assert settings.kafka.client_id == "tracebus"
    assert settings.topic("events.canonical") == "pilot-zj.events.canonical"
    assert settings.group("router") == "pilot-zj-router"


def test_topic_and_group_naming() -> None:
    settings = Settings(namespace="tb")
    assert settings.topic("deliver.mofcom") == "tb.deliver.mofcom"
    assert settings.group("sink-mofcom") == "tb-sink-mofcom"


@pytest.mark.parametrize("namespace", ["", "Tracebus", "9bus", "trace.bus", "trace bus", "-bus"])
def test_invalid_namespace_is_refused(namespace: str) -> None:
    with pytest.raises(ValidationError, match="namespace"):
        Settings(namespace=namespace)


def test_invalid_namespace_from_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEBUS_NAMESPACE", "Bad.Namespace")
    with pytest.raises(ValidationError, match="namespace"):
        Settings()


def test_out_of_range_nested_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEBUS_KAFKA__SESSION_TIMEOUT_MS", "10")
    with pytest.raises(ValidationError, match="session_timeout_ms"):
        Settings()


# --- retry policy -------------------------------------------------------------------------------


def test_retry_pause_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=8, initial_s=0.5, max_s=30.0)
    assert [policy.pause(attempt) for attempt in range(1, 10)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert isinstance(policy.pause(1), float)


def test_retry_pause_cap_below_initial() -> None:
    policy = RetryPolicy(max_attempts=3, initial_s=5.0, max_s=2.0)
    assert [policy.pause(attempt) for attempt in (1, 2, 3)] == [2.0, 2.0, 2.0]
