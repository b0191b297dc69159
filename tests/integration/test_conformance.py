"""The conformance suite: the same checks over every registered connector, on real transports.

A connector is under this suite by registering (:mod:`connectors.registry`)
with a kit (:mod:`connectors.testing.kit`). For each one:

* ``test_refuses_a_bad_config`` — a bad value is refused before start, naming the key;
* ``test_runs_delivers_and_dead_letters`` — in a connector worker on the embedded broker: it
  starts, its records come out, a bad record ends in the dead-letter topic with its original
  bytes and context, its status counts them, pause holds it and resume lets it go on, and it
  stops cleanly;
* ``test_resumes_after_sigkill`` — a standalone worker (``tracebus connectors run``) SIGKILLs
  itself at a failpoint after a write and before the position is saved; a new one resumes:
  every record comes out, and the only repeats are of the records in flight at the kill,
  with the same identities.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.config import SourceConfig
from connectors.errors import ConnectorConfigError
from connectors.registry import ConnectorSpec, parse_any, specs
from connectors.runtime.worker import CANONICAL_SCHEMA, ConnectorWorker
from connectors.testing.kafka import canonical_records, read_topic
from connectors.testing.kit import ConformanceKit, SinkKit, SourceKit
from schemas.codec import Deserializer, TopicSerializer
from schemas.registry.embedded import EmbeddedRegistry
from streams.deadletter import read_context
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.clients import make_producer
from streams.kafka.schema_log import KafkaSchemaLog
from streams.kafka.topics import apply_topics, concrete_topics, load_topics
from streams.settings import Settings
from tests.integration.conftest import TEST_KAFKA, unique_namespace, wait_until

pytestmark = pytest.mark.integration

SPECS = specs()
SINK_INPUT = "deliver.conf"  # the suite's subscription "conf": its delivery topic feeds every sink
GOOD = 10
BATCH = 2
TRACEBUS = Path(sys.executable).with_name("tracebus")


def _kit(spec: ConnectorSpec) -> ConformanceKit:
    assert spec.conformance, f"connector {spec.name!r} registered without a conformance kit"
    module, _, name = spec.conformance.partition(":")
    kit = getattr(importlib.import_module(module), name)()
    assert isinstance(kit, SourceKit if spec.kind == "source" else SinkKit)
    assert kit.connector_class == spec.name
    return kit


def test_every_registered_connector_has_a_kit() -> None:
    assert {s.name for s in SPECS} >= {"webhook"}
    for spec in SPECS:
        _kit(spec)


def _settings(bootstrap: str, namespace: str, state: Path) -> Settings:
    return Settings(
        namespace=namespace,
        bootstrap_servers=bootstrap,
        kafka=TEST_KAFKA,
        connectors_dir=None,
        connector_state_dir=state,
    )


def _config(kit: ConformanceKit, spec: ConnectorSpec, name: str) -> dict[str, Any]:
    raw = kit.config(name, SINK_INPUT) if isinstance(kit, SinkKit) else kit.config(name)
    raw["batch.max.records"] = BATCH  # several polls or batches, so a kill falls between two
    raw.setdefault("errors.retry.timeout", 30_000)
    return raw


@asynccontextmanager
async def _transport(spec: ConnectorSpec, broker: EmbeddedBroker, tmp_path: Path) -> AsyncIterator[Any]:
    kit = _kit(spec)
    namespace = unique_namespace("c")
    settings = _settings(broker.bootstrap_servers, namespace, tmp_path / "state")
    await apply_topics(
        settings.effective_kafka(), concrete_topics(settings, load_topics(settings.topics_file), ["conf"])
    )
    workdir = tmp_path / "transport"
    workdir.mkdir()
    await kit.setup(workdir, bootstrap_servers=broker.bootstrap_servers, namespace=namespace)
    try:
        yield kit, settings
    finally:
        await kit.teardown()


async def _feed_sink(settings: Settings, count: int, *, bad: bytes | None = None, start: int = 0) -> list[str]:
    """Publish ``count`` canonical records (and optionally one undecodable record) to the sinks' input."""
    kafka = settings.effective_kafka()
    producer = make_producer(kafka)
    await producer.start()
    registry = EmbeddedRegistry(KafkaSchemaLog(kafka, settings.topic("schemas"), producer))
    await registry.start()
    try:
        serializer = TopicSerializer(registry, settings.topic(SINK_INPUT), CANONICAL_SCHEMA.read_text())
        await serializer.bind()
        records = canonical_records(count, start=start)
        for record in records:
            await producer.send_and_wait(
                settings.topic(SINK_INPUT), serializer.serialize(record), key=record["trace_key"].encode()
            )
        if bad is not None:
            await producer.send_and_wait(settings.topic(SINK_INPUT), bad, key=b"bad")
        return [str(r["event_id"]) for r in records]
    finally:
        await registry.close()
        await producer.stop()


async def _source_outputs(kit: SourceKit, settings: Settings) -> list[str]:
    kafka = settings.effective_kafka()
    producer = make_producer(kafka)
    await producer.start()
    registry = EmbeddedRegistry(KafkaSchemaLog(kafka, settings.topic("schemas"), producer))
    await registry.start()
    try:
        messages = await read_topic(kafka, kit.output_topic(settings.namespace))
        return await kit.identities(messages, Deserializer(registry))
    finally:
        await registry.close()
        await producer.stop()


async def _dead_letters(settings: Settings) -> list[tuple[dict[str, str], bytes | None]]:
    messages = await read_topic(settings.effective_kafka(), settings.topic("deadletter"))
    return [(read_context(m.headers), m.value) for m in messages]


async def _eventually(probe: Any, done: Any, *, timeout_s: float, what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await probe()
        if done(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last: {value!r}")
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
async def test_refuses_a_bad_config(spec: ConnectorSpec, broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with _transport(spec, broker, tmp_path) as (kit, _):
        raw, key = kit.bad_config("bad-one", SINK_INPUT) if isinstance(kit, SinkKit) else kit.bad_config("bad-one")
        with pytest.raises(ConnectorConfigError) as refused:
            parse_any(raw)
        assert key in [problem_key for problem_key, _ in refused.value.problems], refused.value.problems
        assert key in str(refused.value)
        good = _config(kit, spec, "good-one")
        with pytest.raises(ConnectorConfigError, match="unknown key"):
            parse_any({**good, "no.such.key": 1})


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
async def test_runs_delivers_and_dead_letters(spec: ConnectorSpec, broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with _transport(spec, broker, tmp_path) as (kit, settings):
        kafka = settings.effective_kafka()
        producer = make_producer(kafka)
        await producer.start()
        registry = EmbeddedRegistry(KafkaSchemaLog(kafka, settings.topic("schemas"), producer))
        await registry.start()
        name = f"conf-{spec.name}"
        config_file = tmp_path / "connector.yaml"
        config_file.write_text(yaml.safe_dump(_config(kit, spec, name)), encoding="utf-8")
        worker = ConnectorWorker(
            settings=settings,
            kafka=kafka,
            producer=producer,
            registry=registry,
            state_root=settings.connector_state_dir,
            config_files=[config_file],
        )
        try:
            if isinstance(kit, SourceKit) and not kit.pushes_while_running:
                expected = await kit.put_good(GOOD)
                bad = await kit.put_bad()
            elif isinstance(kit, SinkKit):
                bad = b"\x00\x00\x00\x00\x07not avro"
                expected = await _feed_sink(settings, GOOD, bad=bad)
            await worker.start()
            assert not worker.refused, worker.refused
            await wait_until(lambda: worker.connectors[name].runner.ready, timeout_s=60, what=f"{name} running")
            if isinstance(kit, SourceKit) and kit.pushes_while_running:
                expected = await kit.put_good(GOOD)
                bad = await kit.put_bad()
            if isinstance(kit, SourceKit):
                out = await _eventually(
                    lambda: _source_outputs(kit, settings),
                    lambda ids: set(ids) >= set(expected),
                    timeout_s=60,
                    what=f"{name} outputs",
                )
            else:
                out = await _eventually(
                    kit.delivered, lambda ids: set(ids) >= set(expected), timeout_s=60, what=f"{name} deliveries"
                )
            assert Counter(out) == Counter(expected), "no repeats without a crash"
            letters = await _eventually(
                lambda: _dead_letters(settings), lambda found: len(found) >= 1, timeout_s=30, what="dead letter"
            )
            assert len(letters) == 1
            context, value = letters[0]
            assert value == bad, "the dead letter keeps the original bytes"
            assert context["connector.name"] == name or context["stage"] == "decode"
            assert context["reason"]
            assert context["exception.message"]
            if isinstance(kit, SourceKit):
                assert context["stage"] == f"source:{name}"
            status = worker.status(name)
            assert status["state"] == "RUNNING"
            assert status["records"] >= GOOD

            worker.pause_instance(name)
            assert worker.status(name)["state"] == "PAUSED"
            read_back: Callable[[], Awaitable[list[str]]]
            if isinstance(kit, SourceKit):
                held = [] if kit.pushes_while_running else await kit.put_good(2, start=GOOD)
                read_back = functools.partial(_source_outputs, kit, settings)
            else:
                held = await _feed_sink(settings, 2, start=GOOD)
                read_back = kit.delivered
            await asyncio.sleep(2.0)
            if held:
                assert not set(held) & set(await read_back()), "a paused connector writes nothing"
            worker.resume_instance(name)
            if held:
                await _eventually(read_back, lambda ids: set(ids) >= set(held), timeout_s=60, what="after resume")
        finally:
            await worker.stop()
            await registry.close()
            await producer.stop()
        assert worker.connectors[name].stopped


def _worker_process(config: Path, settings: Settings, state: Path, *, failpoint: str | None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": str(settings.bootstrap_servers),
        "TRACEBUS_NAMESPACE": settings.namespace,
        "TRACEBUS_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "TRACEBUS_KAFKA__HEARTBEAT_INTERVAL_MS": "300",
        "TRACEBUS_KAFKA__REBALANCE_TIMEOUT_MS": "6000",
        "TRACEBUS_KAFKA__REQUEST_TIMEOUT_MS": "6000",
    }
    env.pop("TRACEBUS_FAILPOINTS", None)
    if failpoint:
        env["TRACEBUS_FAILPOINTS"] = failpoint
    return subprocess.Popen(
        [str(TRACEBUS), "connectors", "run", str(config), "--port", "0", "--state-dir", str(state)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
async def test_resumes_after_sigkill(spec: ConnectorSpec, broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with _transport(spec, broker, tmp_path) as (kit, settings):
        name = f"kill-{uuid.uuid4().hex[:6]}"
        config = tmp_path / "connector.yaml"
        config.write_text(yaml.safe_dump(_config(kit, spec, name)), encoding="utf-8")
        state = tmp_path / "worker-state"
        point = "source.after-publish:2" if spec.kind == "source" else "sink.during-delivery:2"
        if isinstance(kit, SinkKit):
            expected = await _feed_sink(settings, GOOD)
        elif not kit.pushes_while_running:
            expected = await kit.put_good(GOOD)
        first = _worker_process(config, settings, state, failpoint=point)
        pushing = None
        if isinstance(kit, SourceKit) and kit.pushes_while_running:
            pushing = asyncio.ensure_future(kit.put_good(GOOD))
        try:
            code = await asyncio.wait_for(asyncio.to_thread(first.wait), timeout=90)
        finally:
            if first.poll() is None:
                first.kill()
        stderr = first.stderr.read().decode() if first.stderr else ""
        assert code == -signal.SIGKILL, f"the worker did not die at {point}: exit {code}\n{stderr[-2000:]}"
        assert f"tracebus failpoint {point.split(':')[0]} reached" in stderr
        second = _worker_process(config, settings, state, failpoint=None)
        try:
            if pushing is not None:
                expected = await asyncio.wait_for(pushing, timeout=90)
            if isinstance(kit, SourceKit):
                out = await _eventually(
                    lambda: _source_outputs(kit, settings),
                    lambda ids: set(ids) >= set(expected),
                    timeout_s=90,
                    what=f"{name} outputs after restart",
                )
            else:
                out = await _eventually(
                    kit.delivered,
                    lambda ids: set(ids) >= set(expected),
                    timeout_s=90,
                    what=f"{name} deliveries after restart",
                )
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(second.wait), timeout=30)
            except TimeoutError:
                second.kill()
        counts = Counter(out)
        assert set(counts) == set(expected), "nothing lost, nothing invented"
        repeated = sum(n - 1 for n in counts.values())
        in_flight = BATCH * (max(1, len(expected) // GOOD))
        assert repeated <= in_flight, f"{repeated} repeats, more than the {in_flight} records in flight: {counts}"
        config_model = spec.config_model
        assert issubclass(config_model, SourceConfig) == (spec.kind == "source")
