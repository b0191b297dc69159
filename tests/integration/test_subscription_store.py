"""The live subscription store on the real embedded broker: seeding, live changes, listeners, secrets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition

from streams.errors import ConfigurationError
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_consumer, make_producer
from streams.kafka.topics import apply_topics, concrete_topics, load_topics
from streams.settings import OPS_DIR, KafkaSettings
from streams.steps.route import Router
from streams.subscription_store import SubscriptionStore
from streams.subscriptions import Subscription, SubscriptionFilter, load_subscriptions
from tests.integration.conftest import TEST_KAFKA, bus_settings, wait_until

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-token-萧山"
URL_SECRET = "dingtalk-access-token-0042"
SEED_FILE = """\
subscriptions:
  - name: zj-province
    department: MOFCOM
    filter: {regions: ["330000"]}
  - name: recalls
    department: GACC
    filter: {dispositions: [recalled]}
    webhook: {url: "http://127.0.0.1:1/hooks/recalls", signature_token: seeded-token}
"""


def event_record(region: str, disposition: str = "in_transit") -> dict[str, Any]:
    """A minimal canonical record: what the router reads."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "parent_id": None,
        "epc_list": ["urn:epc:id:sgtin:6901234.012345.1"],
        "child_epcs": None,
        "input_epc_list": None,
        "output_epc_list": None,
        "quantity_list": None,
        "child_quantity_list": None,
        "input_quantity_list": None,
        "output_quantity_list": None,
        "biz_step": "shipping",
        "disposition": disposition,
        "read_point": None,
        "biz_location": None,
    }
    return {"reporter": "mofcom-platform", "event": event, "trace": {"region_code": region}, "flags": []}


@pytest.fixture
async def store_kafka(broker: EmbeddedBroker) -> tuple[KafkaSettings, str]:
    """Kafka settings and a fresh subscriptions topic in a namespace of its own."""
    settings = bus_settings(broker.bootstrap_servers)
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    topic = settings.topic("subscriptions")
    wanted = [t for t in concrete_topics(settings, load_topics(OPS_DIR / "topics.yaml"), []) if t.name == topic]
    assert [(t.partitions, t.configs["cleanup.policy"]) for t in wanted] == [(1, "compact")]
    await apply_topics(kafka, wanted)
    return kafka, topic


@asynccontextmanager
async def running(
    kafka: KafkaSettings, topic: str, seed: list[Subscription] | None = None
) -> AsyncIterator[SubscriptionStore]:
    store = SubscriptionStore(kafka=kafka, topic=topic, seed=seed or [], ack_timeout_s=10.0)
    await store.start()
    try:
        assert store.ready
        yield store
    finally:
        await store.stop()


def seed_from(tmp_path: Path, text: str) -> list[Subscription]:
    path = tmp_path / "subscriptions.yaml"
    path.write_text(text, encoding="utf-8")
    return load_subscriptions(path)


async def raw_values(kafka: KafkaSettings, topic: str) -> list[tuple[bytes, bytes | None]]:
    consumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        found: list[tuple[bytes, bytes | None]] = []
        while await consumer.position(tp) < end:
            for message in (await consumer.getmany(tp, timeout_ms=500)).get(tp, []):
                found.append((message.key, message.value))
        return found
    finally:
        await consumer.stop()


async def test_the_file_seeds_then_the_topic_rules(store_kafka: tuple[KafkaSettings, str], tmp_path: Path) -> None:
    kafka, topic = store_kafka
    async with running(kafka, topic, seed_from(tmp_path, SEED_FILE)) as first:
        assert [s.name for s in first.subscriptions] == ["zj-province", "recalls"]
        assert first.router.route(event_record("330109")) == ["zj-province"]
        assert first.router.route(event_record("320102", "recalled")) == ["recalls"]
        seeded = first.get("recalls")
        assert seeded is not None
        assert seeded.webhook is not None
        assert seeded.webhook.token() == b"seeded-token"  # read back from the topic, token kept
    assert [key for key, _ in await raw_values(kafka, topic)] == [b"zj-province", b"recalls"]

    edited = SEED_FILE.replace('regions: ["330000"]', 'regions: ["320000"]') + (
        "  - name: added-later\n    department: SAMR\n"
    )
    async with running(kafka, topic, seed_from(tmp_path, edited)) as second:
        assert [s.name for s in second.subscriptions] == ["zj-province", "recalls", "added-later"]
        province = second.get("zj-province")
        assert province is not None
        assert province.filter.regions == ["330000"]  # the topic's version, not the edited file's
    assert [key for key, _ in await raw_values(kafka, topic)] == [b"zj-province", b"recalls", b"added-later"]


async def test_live_put_and_remove_reach_another_instance_and_its_listeners(
    store_kafka: tuple[KafkaSettings, str], tmp_path: Path
) -> None:
    kafka, topic = store_kafka
    seed = seed_from(tmp_path, SEED_FILE)
    async with running(kafka, topic, seed) as writer, running(kafka, topic, seed) as reader:
        assert reader.router.subscription_names == ["zj-province", "recalls"]
        seen: list[Router] = []
        called_async: list[list[str]] = []

        async def async_listener(router: Router) -> None:
            called_async.append(router.subscription_names)

        def broken_listener(router: Router) -> None:
            raise RuntimeError("a broken listener must not stop the others")

        reader.on_change(broken_listener)
        reader.on_change(seen.append)
        unregister = reader.on_change(async_listener)

        hangzhou = Subscription(
            name="hz-city", department="SAMR", filter=SubscriptionFilter(regions=["330100"], flags_none=["stale"])
        )
        await writer.put(hangzhou)
        assert "hz-city" in writer.router.subscription_names  # the writer reads its own change on return
        await wait_until(lambda: reader.get("hz-city") is not None, timeout_s=15, what="put seen by the reader")
        assert seen[-1] is reader.router
        assert seen[-1].subscription_names == ["zj-province", "recalls", "hz-city"]
        assert seen[-1].route(event_record("330109")) == ["zj-province", "hz-city"]
        assert seen[-1].route(event_record("330200")) == ["zj-province"]
        assert called_async[-1] == ["zj-province", "recalls", "hz-city"]

        unregister()
        calls = len(seen)
        await writer.put(hangzhou)  # the same value again: no change, no call
        await writer.remove("zj-province")
        await wait_until(lambda: reader.get("zj-province") is None, timeout_s=15, what="removal seen by the reader")
        assert len(seen) == calls + 1
        assert seen[-1].subscription_names == ["recalls", "hz-city"]
        assert seen[-1].route(event_record("330109")) == ["hz-city"]
        assert called_async[-1] == ["zj-province", "recalls", "hz-city"]  # unregistered: not called again

    async with running(kafka, topic, seed) as restarted:  # the removal holds: the file does not seed it again
        assert [s.name for s in restarted.subscriptions] == ["recalls", "hz-city"]
    assert (b"zj-province", None) in await raw_values(kafka, topic)


async def test_secrets_stay_in_the_topic_and_out_of_every_view(
    store_kafka: tuple[KafkaSettings, str], caplog: pytest.LogCaptureFixture
) -> None:
    kafka, topic = store_kafka
    caplog.set_level(logging.DEBUG, logger="streams")
    secret = Subscription.model_validate(
        {
            "name": "nmpa-secret",
            "department": "NMPA",
            "webhook": {
                "url": f"https://hooks:{URL_SECRET}@oapi.example.cn/robot/send?access_token={URL_SECRET}",
                "signature_token": SECRET,
            },
        }
    )
    async with running(kafka, topic) as writer, running(kafka, topic) as reader:
        await writer.put(secret)
        await wait_until(lambda: reader.get("nmpa-secret") is not None, timeout_s=15, what="put seen by the reader")
        stored = reader.get("nmpa-secret")
        assert stored == secret
        assert stored is not None
        assert stored.webhook is not None
        assert stored.webhook.token() == SECRET.encode()  # the topic is the store: the token survives it

        listing = reader.public_listing()
        view = stored.public_view()
        assert listing == [view]
        assert view["webhook"]["signature_token"] == "**********"
        assert view["webhook"]["url"] == ("https://hooks:**********@oapi.example.cn/robot/send?access_token=**********")
        for shown in (
            orjson.dumps(listing).decode(),
            repr(stored),
            str(stored),
            stored.model_dump_json(),
            repr(reader.router),
        ):
            assert SECRET not in shown
            assert URL_SECRET not in shown

    ((_, value),) = await raw_values(kafka, topic)
    assert value is not None
    written = orjson.loads(value)
    assert written["webhook"]["signature_token"] == SECRET
    assert URL_SECRET in written["webhook"]["url"]
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("streams"))
    assert "subscription nmpa-secret written" in ours
    assert SECRET not in ours
    assert URL_SECRET not in ours


async def test_records_that_do_not_parse_are_skipped_without_echoing_them(
    store_kafka: tuple[KafkaSettings, str], caplog: pytest.LogCaptureFixture
) -> None:
    kafka, topic = store_kafka
    caplog.set_level(logging.WARNING, logger="streams.subscription_store")
    good = Subscription(name="good-one", department="SAMR")
    leaked = {
        "name": "bad-token",
        "department": "X",
        "webhook": {"url": "http://127.0.0.1:1/h", "signature_token": SECRET, "signature_token_env": "BOTH"},
    }
    producer = make_producer(kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{not json", key=b"broken")
        await producer.send_and_wait(topic, orjson.dumps(leaked), key=b"bad-token")
        await producer.send_and_wait(topic, good.store_json(), key=b"other-name")
        await producer.send_and_wait(topic, good.store_json(), key=b"Not A Name")
        await producer.send_and_wait(topic, good.store_json(), key=b"good-one")
    finally:
        await producer.stop()
    async with running(kafka, topic) as store:
        assert [s.name for s in store.subscriptions] == ["good-one"]
    assert "broken" in caplog.text
    assert "key other-name, name inside good-one" in caplog.text
    assert "webhook: Value error, give exactly one of signature_token or signature_token_env" in caplog.text
    assert SECRET not in caplog.text


async def test_a_missing_topic_is_a_configuration_error(broker: EmbeddedBroker) -> None:
    kafka = TEST_KAFKA.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    topic = bus_settings(broker.bootstrap_servers).topic("subscriptions")
    store = SubscriptionStore(kafka=kafka, topic=topic)
    with pytest.raises(ConfigurationError, match=rf"topic {topic} does not exist"):
        await store.start()
    await store.stop()
