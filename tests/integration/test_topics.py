"""Topics as code against the real broker: apply creates, plan converges, drift is refused."""

from __future__ import annotations

import pytest
from aiokafka.admin import NewTopic

from streams.errors import TopicProvisioningError
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_admin
from streams.kafka.topics import apply_topics, concrete_topics, load_topics, plan_topics
from streams.settings import OPS_DIR
from tests.integration.conftest import TEST_KAFKA, bus_settings

pytestmark = pytest.mark.integration


async def test_apply_creates_every_declared_topic_then_plan_is_empty(broker: EmbeddedBroker) -> None:
    settings = bus_settings(broker.bootstrap_servers)
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    wanted = concrete_topics(settings, load_topics(OPS_DIR / "topics.yaml"), ["dept-a", "dept-b"])
    names = {t.name for t in wanted}
    ns = settings.namespace
    assert {f"{ns}.deliver.dept-a", f"{ns}.deliver.dept-b", f"{ns}.events.canonical", f"{ns}.deadletter"} <= names
    first = await apply_topics(kafka, wanted)
    assert {t.name for t in first.create} == names
    second = await plan_topics(kafka, wanted)
    assert second.create == []
    assert second.conflicts == []
    assert set(second.unchanged) == names
    admin = make_admin(kafka)
    await admin.start()
    try:
        described = {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(sorted(names))}
    finally:
        await admin.close()
    assert described == {t.name: t.partitions for t in wanted}


async def test_partition_drift_is_refused(broker: EmbeddedBroker) -> None:
    settings = bus_settings(broker.bootstrap_servers)
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    wanted = concrete_topics(settings, load_topics(OPS_DIR / "topics.yaml"), [])
    canonical = settings.topic("events.canonical")
    admin = make_admin(kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(canonical, 2, 1)])
    finally:
        await admin.close()
    with pytest.raises(TopicProvisioningError, match=f"{canonical} has 2 partitions, ops/topics.yaml declares 6"):
        await apply_topics(kafka, wanted)
