"""Settings, from the environment (``TRACEBUS_*``) with the Kafka ecosystem's usual names where they exist.

``KAFKA_BOOTSTRAP_SERVERS`` set → the bus uses that cluster; unset → it starts
the embedded broker. ``SCHEMA_REGISTRY_URL`` set → a Confluent-compatible
registry; unset → the embedded registry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

OPS_DIR = Path(__file__).resolve().parent.parent / "ops"


class KafkaSettings(BaseModel):
    """Client settings shared by every producer and consumer the bus creates."""

    model_config = {"frozen": True, "extra": "forbid"}

    bootstrap_servers: str | None = None
    client_id: str = "tracebus"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    request_timeout_ms: int = Field(default=15_000, ge=1_000)
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    heartbeat_interval_ms: int = Field(default=1_000, ge=100)
    rebalance_timeout_ms: int = Field(default=10_000, ge=1_000)
    max_poll_records: int = Field(default=2_000, ge=1)
    fetch_max_wait_ms: int = Field(default=100, ge=0)
    # the one producer setting that mattered in ../shared/reference/performance.md
    max_batch_size: int = Field(default=262_144, ge=16_384)
    linger_ms: int = Field(default=5, ge=0)
    topic_replication_factor: int = Field(default=1, ge=1)


class ApiSettings(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_events_per_document: int = Field(default=10_000, ge=1)
    publish_timeout_s: float = Field(default=10.0, gt=0)
    capture_jobs_kept: int = Field(default=10_000, ge=1)


class Settings(BaseSettings):
    """Everything configurable about one bus process."""

    model_config = SettingsConfigDict(env_prefix="TRACEBUS_", env_nested_delimiter="__", frozen=True, extra="ignore")

    namespace: str = Field(default="tracebus", pattern=r"^[a-z][a-z0-9_-]*$")
    """Prefix of every topic and consumer group: several buses can share one cluster."""

    kafka: KafkaSettings = KafkaSettings()
    api: ApiSettings = ApiSettings()
    bootstrap_servers: str | None = None
    """Kafka cluster to use; ``KAFKA_BOOTSTRAP_SERVERS`` (the ecosystem's name) also sets it."""
    schema_registry_url: str | None = None
    """Confluent-compatible registry; ``SCHEMA_REGISTRY_URL`` also sets it."""
    topics_file: Path = OPS_DIR / "topics.yaml"
    subscriptions_file: Path = OPS_DIR / "subscriptions.yaml"
    roles: frozenset[Literal["api", "router", "sinks", "connectors"]] = frozenset(
        {"api", "router", "sinks", "connectors"}
    )
    """What this process runs: the capture API, the router, the subscription sinks, the connectors in
    ``connectors_dir`` (all four by default). Large deployments run capture front ends (``api``) apart from
    stream workers (``router,sinks``) and connect workers (``connectors``)."""
    connectors_dir: Path | None = OPS_DIR / "connectors"
    """Connector config files (``*.yaml``) started by the ``connectors`` role; None: none."""
    connector_state_dir: Path = Path(".tracebus") / "connectors"
    """Local state of connectors (source positions, processed files, configs created through the API).
    Kept across restarts on purpose: the embedded broker forgets everything when it stops."""
    reference_load_timeout_s: float = Field(default=120.0, gt=0)
    """How long a worker waits for the reference topics to load before giving up at start."""
    state_dir: Path | None = None
    """Where the router keeps its local state files (a cache of the changelog); None: a temporary directory."""
    dedupe_window_s: float = Field(default=24 * 3600, gt=0)
    """Reports of one observation by several departments may be this far apart in event time."""
    dedupe_require_distinct_reporters: bool = False
    dedupe_retention_s: float = Field(default=30 * 24 * 3600, gt=0)
    """How long identities and observations are remembered (exact dedup, merges, who received what)."""
    state_sweep_interval_s: float = Field(default=3600.0, gt=0)
    event_future_skew_s: float = Field(default=300.0, ge=0)
    """Events whose time is further in the future than this are rejected as malformed."""
    webhook_max_events: int = Field(default=50, ge=1, le=500)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_inline_attempts: int = Field(default=3, ge=1)
    """Attempts of a batch in line (holding back its subscriber's partition) before it is parked on the
    subscriber's retry topic (streams/retry_lane.py). Pauses between them: webhook_backoff_*."""
    webhook_max_attempts: int | None = Field(default=None, ge=1)
    """Former name of webhook_inline_attempts, still honoured: when set (and the new name is not), it is
    the number of attempts in line."""
    webhook_backoff_initial_s: float = Field(default=0.5, gt=0)
    webhook_backoff_max_s: float = Field(default=30.0, gt=0)
    webhook_retry_topic_attempts: int = Field(default=10, ge=0)
    """Attempts of a parked event from the retry topic before it is dead-lettered (reason
    ``retries-exhausted``); 0 disables the retry topic: a batch whose in-line attempts fail is dead-lettered."""
    webhook_retry_backoff_initial_s: float = Field(default=5.0, gt=0)
    """Wait before the first attempt from the retry topic; doubled at each further attempt."""
    webhook_retry_backoff_max_s: float = Field(default=300.0, gt=0)
    """Longest wait between two attempts from the retry topic."""

    @model_validator(mode="before")
    @classmethod
    def _ecosystem_variables(cls, data: Any) -> Any:
        # The Kafka ecosystem's own variable names, honoured unless the value was given explicitly.
        if isinstance(data, dict):
            for field, variable in (
                ("bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS"),
                ("schema_registry_url", "SCHEMA_REGISTRY_URL"),
            ):
                if data.get(field) is None and os.environ.get(variable):
                    data = {**data, field: os.environ[variable]}
            if data.get("webhook_max_attempts") is not None and data.get("webhook_inline_attempts") is None:
                data = {**data, "webhook_inline_attempts": data["webhook_max_attempts"]}
        return data

    def effective_kafka(self) -> KafkaSettings:
        """Kafka settings with the bootstrap servers resolved (env wins over nested setting)."""
        if self.bootstrap_servers is None:
            return self.kafka
        return self.kafka.model_copy(update={"bootstrap_servers": self.bootstrap_servers})

    def topic(self, name: str) -> str:
        """Full topic name for a name from ``ops/topics.yaml``."""
        return f"{self.namespace}.{name}"

    def group(self, role: str) -> str:
        return f"{self.namespace}-{role}"
