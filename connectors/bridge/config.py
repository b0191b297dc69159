"""Configuration of the Kafka bridge (``connector.class: kafka-bridge``).

Keys follow MirrorMaker 2 where it has them (``topics``, ``source.*`` for the
cluster read from); ours are dotted lowercase::

    name: zhejiang-to-national
    connector.class: kafka-bridge
    source.bootstrap.servers: zj-kafka-1:9092,zj-kafka-2:9092
    source.namespace: tracebus                 # the provincial bus's topic prefix
    source.schema.registry.url: http://zj-registry:8081   # absent: the source's embedded registry
    topics: [events.canonical]                 # short names on the source
    target.topic.prefix: ""                    # or topic.rename: {events.canonical: zhejiang.events}
    provenance.cluster: zhejiang               # stamped on every forwarded record
    transforms:
      - type: filter
        filter: {regions: ["330000"]}
"""

from __future__ import annotations

import re
from typing import Final, Literal

from pydantic import Field, field_validator, model_validator

from connectors.config import Secret, SourceConfig
from streams.settings import KafkaSettings

_TOPIC: Final = re.compile(r"[A-Za-z0-9._-]+")


def _check_short_name(topic: str) -> str:
    if not _TOPIC.fullmatch(topic):
        raise ValueError(f"{topic!r} is not a topic name")
    return topic


class KafkaBridgeConfig(SourceConfig):
    """Keys of the bridge: the source cluster, the topics it forwards, where they land, and the provenance label."""

    source_bootstrap_servers: str = Field(
        min_length=1,
        pattern=r"^\S+$",
        alias="source.bootstrap.servers",
        description="the source cluster's brokers (host:port, comma-separated)",
    )
    source_namespace: str = Field(
        default="tracebus",
        pattern=r"^[a-z][a-z0-9_-]*$",
        alias="source.namespace",
        description="topic prefix of the source bus (its TRACEBUS_NAMESPACE)",
    )
    source_schema_registry_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        alias="source.schema.registry.url",
        description="the source's Confluent-compatible registry; absent: its embedded registry "
        "(the <source.namespace>.schemas topic on the source cluster)",
    )
    source_schema_registry_basic_auth_user_info: Secret | None = Field(
        default=None,
        alias="source.schema.registry.basic.auth.user.info",
        description="user:password for the source registry (Confluent's basic.auth.user.info)",
    )
    source_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT"] = Field(
        default="PLAINTEXT", alias="source.security.protocol"
    )
    source_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, alias="source.sasl.mechanism"
    )
    source_sasl_username: str | None = Field(default=None, alias="source.sasl.username")
    source_sasl_password: Secret | None = Field(default=None, alias="source.sasl.password")
    topics: list[str] = Field(min_length=1, description="source topics to forward, short names (events.canonical)")
    target_topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        alias="target.topic.prefix",
        description="put before each short name on the target (zhejiang. → <target ns>.zhejiang.events.canonical)",
    )
    topic_rename: dict[str, str] = Field(
        default_factory=dict,
        alias="topic.rename",
        description="source short name → target short name; wins over target.topic.prefix",
    )
    consumer_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]+$",
        alias="consumer.group",
        description="group on the source cluster that holds the bridge's position; default <target ns>-bridge-<name>",
    )
    provenance_cluster: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        alias="provenance.cluster",
        description="label of the source cluster (zhejiang), in the provenance headers and identities",
    )

    @field_validator("topics")
    @classmethod
    def _topics_are_names(cls, topics: list[str]) -> list[str]:
        for topic in topics:
            _check_short_name(topic)
        duplicated = sorted({t for t in topics if topics.count(t) > 1})
        if duplicated:
            raise ValueError(f"topics named twice: {duplicated}")
        return topics

    @model_validator(mode="after")
    def _consistent(self) -> KafkaBridgeConfig:
        for source, target in self.topic_rename.items():
            if source not in self.topics:
                raise ValueError(f"topic.rename names {source!r}, which is not in topics")
            _check_short_name(target)
        if self.source_sasl_mechanism is not None and self.source_security_protocol != "SASL_PLAINTEXT":
            raise ValueError("source.sasl.mechanism needs source.security.protocol: SASL_PLAINTEXT")
        if self.source_security_protocol == "SASL_PLAINTEXT" and (
            self.source_sasl_mechanism is None or self.source_sasl_username is None
        ):
            raise ValueError("SASL_PLAINTEXT needs source.sasl.mechanism and source.sasl.username")
        return self

    def target_short_name(self, topic: str) -> str:
        """Where source topic ``topic`` (short name) lands on the target, without the target namespace."""
        return self.topic_rename.get(topic, self.target_topic_prefix + topic)

    def source_kafka(self, base: KafkaSettings) -> KafkaSettings:
        """Client settings for the source cluster: the runtime's timeouts, the source's address and credentials.

        The target's credentials are never reused: the two clusters belong to different departments.
        """
        return base.model_copy(
            update={
                "bootstrap_servers": self.source_bootstrap_servers,
                "security_protocol": self.source_security_protocol,
                "sasl_mechanism": self.source_sasl_mechanism,
                "sasl_username": self.source_sasl_username,
                "sasl_password": self.source_sasl_password,
            }
        )

    def source_registry_auth(self) -> tuple[str, str] | None:
        if self.source_schema_registry_basic_auth_user_info is None:
            return None
        user, _, password = self.source_schema_registry_basic_auth_user_info.get_secret_value().partition(":")
        return user, password
