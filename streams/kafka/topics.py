"""Topics as code: the ``ops/topics.yaml`` model, and a plan/apply against a cluster.

``plan`` lists what differs; ``apply`` creates missing topics with their
partitions and configs. It never deletes a topic and never adds partitions to
an existing one (that would move keys to other partitions and break
per-trace-key ordering and partition-local state): such drift is reported as
an error for an operator to resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from pydantic import BaseModel, Field, ValidationError, field_validator

from streams.errors import ConfigurationError, TopicProvisioningError
from streams.kafka.clients import make_admin
from streams.settings import KafkaSettings, Settings

TEMPLATE_FIELD = "{subscription}"
_DURATION = re.compile(r"^(forever|\d+(ms|s|m|h|d))$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(text: str) -> int:
    """``30d`` → milliseconds; ``forever`` → -1 (Kafka's "no time limit")."""
    if text == "forever":
        return -1
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text)
    if match is None:
        raise ValueError(f"duration {text!r} is not like 30d, 12h, 15m, 500ms or forever")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


class TopicSpec(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(pattern=r"^[a-z0-9._-]+(\{subscription\})?[a-z0-9._-]*$")
    partitions: int = Field(ge=1, le=1000)
    retention: str
    cleanup_policy: Literal["delete", "compact", "compact,delete"]
    key: str
    value: str
    description: str
    copartitioned_with: str | None = None

    @field_validator("retention")
    @classmethod
    def _retention_is_duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError(f"retention {value!r} is not like 30d, 12h, 15m, 500ms or forever")
        return value

    @property
    def is_template(self) -> bool:
        return TEMPLATE_FIELD in self.name

    def configs(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(duration_ms(self.retention))}


class TopicsFile(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    topics: list[TopicSpec]

    def spec(self, name: str) -> TopicSpec:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise ConfigurationError(f"topic {name!r} is not declared in ops/topics.yaml")

    def check(self) -> None:
        names = [t.name for t in self.topics]
        duplicated = {n for n in names if names.count(n) > 1}
        if duplicated:
            raise ConfigurationError(f"topics declared twice: {sorted(duplicated)}")
        for topic in self.topics:
            if topic.copartitioned_with is None:
                continue
            other = self.spec(topic.copartitioned_with)
            if other.partitions != topic.partitions:
                raise ConfigurationError(
                    f"{topic.name} must have as many partitions as {other.name} "
                    f"({topic.partitions} != {other.partitions}): its state is partition-local"
                )


def load_topics(path: Path) -> TopicsFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        topics = TopicsFile.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
    topics.check()
    return topics


@dataclass(frozen=True, slots=True)
class ConcreteTopic:
    """A topic as it exists on the cluster: full name, partitions, configs."""

    name: str
    partitions: int
    configs: dict[str, str]


def concrete_topics(settings: Settings, topics: TopicsFile, subscriptions: Iterable[str]) -> list[ConcreteTopic]:
    names = sorted(set(subscriptions))
    result: list[ConcreteTopic] = []
    for spec in topics.topics:
        expanded = [spec.name.replace(TEMPLATE_FIELD, s) for s in names] if spec.is_template else [spec.name]
        result.extend(ConcreteTopic(settings.topic(n), spec.partitions, spec.configs()) for n in expanded)
    return result


@dataclass(frozen=True, slots=True)
class TopicPlan:
    create: list[ConcreteTopic]
    unchanged: list[str]
    conflicts: list[str]


async def plan_topics(kafka: KafkaSettings, wanted: Sequence[ConcreteTopic]) -> TopicPlan:
    admin = make_admin(kafka)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        described = await admin.describe_topics([t.name for t in wanted if t.name in existing]) if existing else []
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    create = [t for t in wanted if t.name not in existing]
    conflicts = [
        f"{t.name} has {partitions[t.name]} partitions, ops/topics.yaml declares {t.partitions}"
        for t in wanted
        if t.name in partitions and partitions[t.name] != t.partitions
    ]
    unchanged = [t.name for t in wanted if t.name in existing and t.name not in {c.split()[0] for c in conflicts}]
    return TopicPlan(create=create, unchanged=unchanged, conflicts=conflicts)


async def apply_topics(kafka: KafkaSettings, wanted: Sequence[ConcreteTopic]) -> TopicPlan:
    """Create what is missing; raise ``TopicProvisioningError`` on partition-count drift."""
    plan = await plan_topics(kafka, wanted)
    if plan.conflicts:
        raise TopicProvisioningError("; ".join(plan.conflicts))
    if plan.create:
        admin = make_admin(kafka)
        await admin.start()
        try:
            for topic in plan.create:
                try:
                    await admin.create_topics(
                        [
                            NewTopic(
                                topic.name,
                                topic.partitions,
                                kafka.topic_replication_factor,
                                topic_configs=topic.configs,
                            )
                        ]
                    )
                except TopicAlreadyExistsError:
                    continue  # another worker created it between plan and apply
        finally:
            await admin.close()
    return plan
