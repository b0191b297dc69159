"""streams.kafka.topics, the offline parts: durations, the topics file, concrete topic names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.errors import ConfigurationError
from streams.kafka.topics import ConcreteTopic, TopicsFile, concrete_topics, duration_ms, load_topics
from streams.settings import OPS_DIR, Settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", 30 * 24 * 60 * 60 * 1000),
        ("400d", 34_560_000_000),
        ("12h", 43_200_000),
        ("15m", 900_000),
        ("45s", 45_000),
        ("500ms", 500),
        ("0ms", 0),
        ("forever", -1),
    ],
)
def test_duration_ms(text: str, expected: int) -> None:
    assert duration_ms(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "1.5h", "-1d", "30 d", "30D", "1w", "never", "12hours"])
def test_invalid_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=f"duration '{text}' is not like 30d, 12h, 15m, 500ms or forever"):
        duration_ms(text)


def spec(name: str, partitions: int = 3, **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "partitions": partitions,
        "retention": "7d",
        "cleanup_policy": "delete",
        "key": "k",
        "value": "v",
        "description": "d",
        **changes,
    }


def load(tmp_path: Path, *topics: dict[str, Any]) -> TopicsFile:
    path = tmp_path / "topics.yaml"
    path.write_text(yaml.safe_dump({"topics": list(topics)}), encoding="utf-8")
    return load_topics(path)


def test_shipped_topics_file_loads_and_documents_every_topic() -> None:
    topics = load_topics(OPS_DIR / "topics.yaml")
    names = [t.name for t in topics.topics]
    core = ["capture.raw", "events.canonical", "deliver.{subscription}", "deadletter", "events.provenance"]
    assert [n for n in names if n in core] == core  # declared, in this order
    assert {"state.router", "schemas"} <= set(names)
    for topic in topics.topics:
        assert topic.description.strip(), topic.name
        assert topic.key.strip(), topic.name
        assert topic.value.strip(), topic.name
    state = topics.spec("state.router")
    assert state.copartitioned_with == "events.canonical"
    assert state.partitions == topics.spec("events.canonical").partitions
    assert topics.spec("schemas").configs() == {"cleanup.policy": "compact", "retention.ms": "-1"}
    assert [t.name for t in topics.topics if t.is_template] == ["deliver.{subscription}", "retry.{subscription}"]
    # a parked event goes to the retry partition of the same index as its delivery partition
    assert topics.spec("retry.{subscription}").copartitioned_with == "deliver.{subscription}"


def test_copartitioned_topics_with_different_partition_counts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, spec("events", 6), spec("state", 3, copartitioned_with="events"))
    assert str(caught.value) == "state must have as many partitions as events (3 != 6): its state is partition-local"


def test_copartitioned_with_an_undeclared_topic_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="topic 'nowhere' is not declared"):
        load(tmp_path, spec("state", 3, copartitioned_with="nowhere"))


def test_copartitioned_topics_with_equal_counts_load(tmp_path: Path) -> None:
    topics = load(tmp_path, spec("events", 6), spec("state", 6, copartitioned_with="events"))
    assert [t.name for t in topics.topics] == ["events", "state"]


def test_duplicate_topic_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"topics declared twice: \['a'\]"):
        load(tmp_path, spec("a"), spec("b"), spec("a", 6))


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"retention": "1 week"}, "retention '1 week' is not like 30d"),
        ({"partitions": 0}, "topics.0.partitions\n  Input should be greater than or equal to 1"),
        ({"partitions": 1001}, "topics.0.partitions\n  Input should be less than or equal to 1000"),
        ({"cleanup_policy": "archive"}, "topics.0.cleanup_policy\n  Input should be 'delete', 'compact'"),
        ({"name": "Upper.Case"}, "topics.0.name\n  String should match pattern"),
        ({"name": "deliver.{name}"}, "topics.0.name\n  String should match pattern"),
        ({"colour": "blue"}, "topics.0.colour\n  Extra inputs are not permitted"),
        ({"description": None}, "topics.0.description\n  Input should be a valid string"),
    ],
)
def test_invalid_topic_specs_are_refused(tmp_path: Path, changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=r"topics\.yaml") as caught:
        load(tmp_path, {**spec("a"), **changes})
    assert fragment in str(caught.value)


def test_missing_topic_lookup_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"topic 'nope' is not declared in ops/topics\.yaml"):
        TopicsFile(topics=[]).spec("nope")


def test_concrete_topics_expand_templates_per_subscription(tmp_path: Path) -> None:
    topics = load(
        tmp_path,
        spec("events.canonical", 6, retention="30d"),
        spec("deliver.{subscription}", 4, retention="12h", cleanup_policy="compact,delete"),
        spec("schemas", 1, retention="forever", cleanup_policy="compact"),
    )
    settings = Settings(namespace="pilot")
    concrete = concrete_topics(settings, topics, ["mofcom", "gacc", "mofcom"])
    assert concrete == [
        ConcreteTopic("pilot.events.canonical", 6, {"cleanup.policy": "delete", "retention.ms": "2592000000"}),
        ConcreteTopic("pilot.deliver.gacc", 4, {"cleanup.policy": "compact,delete", "retention.ms": "43200000"}),
        ConcreteTopic("pilot.deliver.mofcom", 4, {"cleanup.policy": "compact,delete", "retention.ms": "43200000"}),
        ConcreteTopic("pilot.schemas", 1, {"cleanup.policy": "compact", "retention.ms": "-1"}),
    ]


def test_concrete_topics_without_subscriptions_drop_templates() -> None:
    topics = load_topics(OPS_DIR / "topics.yaml")
    names = [t.name for t in concrete_topics(Settings(), topics, [])]
    assert not any("{subscription}" in n or ".deliver." in n or ".retry." in n for n in names)
    assert names[:3] == ["tracebus.capture.raw", "tracebus.events.canonical", "tracebus.events.incoming"]
    assert "tracebus.deadletter" in names
    assert {"tracebus.state.router", "tracebus.schemas", "tracebus.events.provenance"} <= set(names)


def test_shipped_topics_for_shipped_subscription_names() -> None:
    topics = load_topics(OPS_DIR / "topics.yaml")
    concrete = {t.name: t for t in concrete_topics(Settings(namespace="tb"), topics, ["samr-all", "nmpa-drugs"])}
    assert concrete["tb.deliver.samr-all"] == ConcreteTopic(
        "tb.deliver.samr-all", 6, {"cleanup.policy": "delete", "retention.ms": str(30 * 86_400_000)}
    )
    assert "tb.deliver.nmpa-drugs" in concrete
    assert concrete["tb.capture.raw"].configs == {"cleanup.policy": "delete", "retention.ms": str(400 * 86_400_000)}
    assert concrete["tb.retry.samr-all"] == ConcreteTopic(
        "tb.retry.samr-all", 6, {"cleanup.policy": "delete", "retention.ms": str(30 * 86_400_000)}
    )
    # every declared topic once, each of the two templates once per subscription
    assert len(concrete) == len(topics.topics) - 2 + 2 * 2
