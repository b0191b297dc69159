"""The Kafka bridge's config, routing and guards, without a broker (the bridge itself: tests/integration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.bridge.config import KafkaBridgeConfig
from connectors.bridge.source import KafkaBridge, provenance_identity
from connectors.config import MASK, public_config
from connectors.errors import ConnectorConfigError
from connectors.registry import ConnectorContext, spec
from schemas.registry.embedded import EmbeddedRegistry
from streams.settings import KafkaSettings, Settings

BASE: dict[str, Any] = {
    "name": "zj",
    "connector.class": "kafka-bridge",
    "source.bootstrap.servers": "zj-kafka:9092",
    "topics": ["events.canonical", "events.provenance"],
    "provenance.cluster": "zhejiang",
}
TARGET_KAFKA = KafkaSettings(bootstrap_servers="nat-kafka:9092", sasl_mechanism="PLAIN", sasl_username="national")


def context(kafka: KafkaSettings = TARGET_KAFKA, *, registry: bool = True) -> ConnectorContext:
    return ConnectorContext(
        settings=Settings(namespace="national"),
        kafka=kafka,
        registry=EmbeddedRegistry() if registry else None,
        state_dir=Path("/nonexistent"),
    )


def bridge(**keys: Any) -> KafkaBridge:
    found = spec("kafka-bridge")
    created = found.create(found.parse({**BASE, **keys}), context())
    assert isinstance(created, KafkaBridge)
    return created


def refused_keys(**keys: Any) -> list[str]:
    with pytest.raises(ConnectorConfigError) as refused:
        spec("kafka-bridge").parse({**BASE, **keys})
    return [key for key, _ in refused.value.problems]


def test_it_is_registered_as_a_bridge_source() -> None:
    found = spec("kafka-bridge")
    assert (found.kind, found.transport, found.config_model) == ("source", "bridge", KafkaBridgeConfig)
    assert found.conformance == "connectors.bridge.conformance:KafkaBridgeKit"


def test_topics_land_under_the_target_namespace_with_the_same_short_name_by_default() -> None:
    made = bridge()
    assert made.routes == {
        "tracebus.events.canonical": "national.events.canonical",
        "tracebus.events.provenance": "national.events.provenance",
    }
    assert made.group_id == "national-bridge-zj"


def test_rename_wins_over_the_prefix_and_the_source_namespace_is_configurable() -> None:
    made = bridge(
        **{
            "source.namespace": "zjbus",
            "target.topic.prefix": "zj.",
            "topic.rename": {"events.provenance": "provenance.zhejiang"},
            "consumer.group": "bridge-zj",
        }
    )
    assert made.routes == {
        "zjbus.events.canonical": "national.zj.events.canonical",
        "zjbus.events.provenance": "national.provenance.zhejiang",
    }
    assert made.group_id == "bridge-zj"


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"provenance.cluster": "zhe jiang"}, "provenance.cluster"),
        ({"topics": ["events canonical"]}, "topics"),
        ({"topics": ["a", "a"]}, "topics"),
        ({"topics": []}, "topics"),
        ({"source.bootstrap.servers": ""}, "source.bootstrap.servers"),
        ({"source.namespace": "Zhejiang"}, "source.namespace"),
        ({"source.schema.registry.url": "zj-registry:8081"}, "source.schema.registry.url"),
        ({"target.topic.prefix": "zj/"}, "target.topic.prefix"),
        ({"source.bootstrap.server": "x:1"}, "source.bootstrap.server"),
    ],
)
def test_bad_values_are_refused_naming_the_key(keys: dict[str, Any], problem: str) -> None:
    assert problem in refused_keys(**keys)


def test_inconsistent_keys_are_refused() -> None:
    with pytest.raises(ConnectorConfigError, match="not in topics"):
        spec("kafka-bridge").parse({**BASE, "topic.rename": {"deadletter": "zj.deadletter"}})
    with pytest.raises(ConnectorConfigError, match="is not a topic name"):
        spec("kafka-bridge").parse({**BASE, "topic.rename": {"events.canonical": "bad name"}})
    with pytest.raises(ConnectorConfigError, match="SASL_PLAINTEXT needs"):
        spec("kafka-bridge").parse({**BASE, "source.security.protocol": "SASL_PLAINTEXT"})


def test_the_source_cluster_never_gets_the_targets_credentials() -> None:
    config = spec("kafka-bridge").parse(BASE)
    assert isinstance(config, KafkaBridgeConfig)
    source = config.source_kafka(TARGET_KAFKA)
    assert source.bootstrap_servers == "zj-kafka:9092"
    assert (source.sasl_mechanism, source.sasl_username, source.security_protocol) == (None, None, "PLAINTEXT")
    assert source.session_timeout_ms == TARGET_KAFKA.session_timeout_ms  # the runtime's timeouts are kept


def test_secrets_are_masked_and_basic_auth_is_split() -> None:
    keys = {
        "source.security.protocol": "SASL_PLAINTEXT",
        "source.sasl.mechanism": "SCRAM-SHA-512",
        "source.sasl.username": "bridge",
        "source.sasl.password": "s3cret",
        "source.schema.registry.basic.auth.user.info": "reader:pa:ss",
    }
    config = spec("kafka-bridge").parse({**BASE, **keys})
    assert isinstance(config, KafkaBridgeConfig)
    shown = public_config(config)
    assert shown["source.sasl.password"] == MASK
    assert shown["source.schema.registry.basic.auth.user.info"] == MASK
    assert "s3cret" not in repr(config)
    assert config.source_registry_auth() == ("reader", "pa:ss")
    assert config.source_kafka(TARGET_KAFKA).sasl_password is not None


def test_bridging_a_topic_onto_itself_is_refused() -> None:
    found = spec("kafka-bridge")
    raw = {**BASE, "source.bootstrap.servers": "nat-kafka:9092", "source.namespace": "national"}
    with pytest.raises(ConnectorConfigError, match="onto itself"):
        found.create(found.parse(raw), context())
    renamed = found.create(found.parse({**raw, "target.topic.prefix": "copy."}), context())
    assert isinstance(renamed, KafkaBridge)  # same cluster, other topics: allowed


def test_a_bus_without_a_registry_cannot_host_the_bridge() -> None:
    found = spec("kafka-bridge")
    with pytest.raises(ConnectorConfigError, match="registry"):
        found.create(found.parse(BASE), context(registry=False))


def test_the_identity_comes_from_the_latest_hops_provenance_headers() -> None:
    one_hop = [
        ("x-origin", b"zj"),
        ("tracebus.bridge.cluster", b"hangzhou"),
        ("tracebus.bridge.topic", b"hz.events.canonical"),
        ("tracebus.bridge.partition", b"0"),
        ("tracebus.bridge.offset", b"7"),
    ]
    assert provenance_identity(one_hop) == "hangzhou:hz.events.canonical:0:7"
    two_hops = [
        *one_hop,
        ("tracebus.bridge.cluster", b"zhejiang"),
        ("tracebus.bridge.topic", b"zj.events.canonical"),
        ("tracebus.bridge.partition", b"2"),
        ("tracebus.bridge.offset", b"41"),
    ]
    assert provenance_identity(two_hops) == "zhejiang:zj.events.canonical:2:41"
    assert provenance_identity(one_hop[:3]) is None
    assert provenance_identity([]) is None


async def test_lag_is_unknown_before_the_source_was_read() -> None:
    made = bridge()
    await made.start({"tracebus.events.canonical:0": 12})  # local positions: ignored, no connection yet
    assert made.lag() is None
    await made.stop()
