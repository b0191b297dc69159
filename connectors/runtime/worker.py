"""The connector worker: runs connector instances and answers the management operations.

One worker per process (inside ``tracebus up``, or alone with ``tracebus
connectors run``). It holds:

* *connectors*: instances created from config files (``ops/connectors/``) or
  through the API, each a source runner or a sink runner;
* *subscriptions*: the bus's webhook sink runners, adopted so that a
  subscriber can be paused, resumed, restarted and inspected on its own.

Operations (the same behind the REST API and the CLI): list, create, validate
(offline, and against the broker), pause, resume, restart, delete, status
(state, counts, lag, last error), offsets get and reset.

Lifecycle: ``on_start`` creates every configured connector (a config that is
refused is reported and skipped, the others start); ``on_stop`` stops every
runner. Configs created through the API are kept in ``<state dir>/configs``
so they survive a restart of the process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaProducer, TopicPartition
from mode import Service

from connectors.base import Sink, Source
from connectors.config import ConnectorConfig, SinkConfig, SourceConfig, public_config
from connectors.errors import ConnectorConfigError, ConnectorError, UnknownConnectorError
from connectors.positions import SourcePositions
from connectors.registry import ConnectorContext, ConnectorSpec, parse_any
from connectors.runtime.source_runner import SourceRunner
from connectors.runtime.status import ConnectorState
from connectors.transforms import FilteringSink
from schemas.codec import Deserializer, TopicSerializer
from schemas.registry.base import SchemaRegistry
from streams.deadletter import DeadLetterPublisher
from streams.kafka.clients import make_consumer
from streams.settings import KafkaSettings, Settings
from streams.sinks import RetryPolicy, SinkRunner

logger = logging.getLogger(__name__)
Runner = SourceRunner | SinkRunner
INCOMING_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "avro" / "incoming_event" / "v1.avsc"
CANONICAL_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "avro" / "trace_event" / "v3.avsc"


@dataclass
class Instance:
    """One running connector (or adopted subscription sink)."""

    name: str
    kind: Literal["source", "sink", "subscription"]
    runner: Runner
    spec: ConnectorSpec | None = None
    config: ConnectorConfig | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False
    remake: Callable[[], SinkRunner] | None = None
    """How to build a fresh runner for an adopted subscription sink (restart)."""

    @property
    def state(self) -> ConnectorState:
        if self.stopped:
            return "STOPPED"
        runner = self.runner
        if isinstance(runner, SourceRunner):
            return runner.state
        if runner.stats.failed_batches and runner.stats.last_error and not runner.ready:
            return "FAILED"
        if not runner.ready:
            return "UNASSIGNED"
        return "PAUSED" if runner.paused else "RUNNING"


class ConnectorWorker(Service):
    def __init__(
        self,
        *,
        settings: Settings,
        kafka: KafkaSettings,
        producer: AIOKafkaProducer,
        registry: SchemaRegistry,
        state_root: Path,
        config_files: list[Path] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.kafka = kafka
        self.producer = producer
        self.registry = registry
        self.state_root = state_root
        self.config_files = config_files or []
        self.connectors: dict[str, Instance] = {}
        self.subscriptions: dict[str, Instance] = {}
        self.refused: list[str] = []
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return all(i.stopped or i.runner.ready or i.state == "FAILED" for i in self.connectors.values())

    # --- lifecycle -------------------------------------------------------------------------

    async def on_start(self) -> None:
        self.incoming = TopicSerializer(
            self.registry, self.settings.topic("events.incoming"), INCOMING_SCHEMA.read_text()
        )
        await self.incoming.bind()
        raws: list[tuple[str, Mapping[str, Any]]] = []
        for path in self.config_files:
            from connectors.config import load_config_file

            raws.extend((str(path), raw) for raw in load_config_file(path))
        for path in sorted(self._config_dir().glob("*.json")):
            raws.append((str(path), json.loads(path.read_text(encoding="utf-8"))))
        for origin, raw in raws:
            try:
                await self.create(raw, origin=origin, persist=False)
            except ConnectorError as exc:  # one refused config must not keep the others from running
                self.refused.append(str(exc))
                logger.error("%s", exc)

    async def on_stop(self) -> None:
        for instance in list(self.connectors.values()):
            await self._stop_runner(instance)

    # --- operations ------------------------------------------------------------------------

    def validate(self, raw: Mapping[str, Any], *, origin: str = "request") -> tuple[ConnectorSpec, ConnectorConfig]:
        return parse_any(raw, origin=origin)

    async def create(self, raw: Mapping[str, Any], *, origin: str = "request", persist: bool = True) -> Instance:
        spec, config = self.validate(raw, origin=origin)
        async with self._lock:
            if config.name in self.connectors:
                raise ConnectorConfigError(
                    f"{origin}: a connector named {config.name!r} already exists", problems=(("name", "exists"),)
                )
            instance = Instance(config.name, spec.kind, self._runner(spec, config), spec, config, dict(raw))
            self.connectors[config.name] = instance
            if persist:
                self._config_dir().mkdir(parents=True, exist_ok=True)
                (self._config_dir() / f"{config.name}.json").write_text(json.dumps(dict(raw)), encoding="utf-8")
        try:
            await self.add_runtime_dependency(instance.runner)
        except Exception as exc:  # kept, FAILED with its reason: the operator can fix the cause and restart it
            _mark_failed(instance.runner, exc)
            raise ConnectorError(f"{config.name}: could not start: {exc}") from exc
        return instance

    async def delete(self, name: str) -> None:
        instance = self.instance(name)
        await self._stop_runner(instance)
        del self.connectors[name]
        (self._config_dir() / f"{name}.json").unlink(missing_ok=True)

    def instance(self, name: str, *, subscription: bool = False) -> Instance:
        table = self.subscriptions if subscription else self.connectors
        try:
            return table[name]
        except KeyError:
            what = "subscription with a sink" if subscription else "connector"
            raise UnknownConnectorError(f"no {what} named {name!r} (known: {', '.join(sorted(table))})") from None

    def pause_instance(self, name: str, *, subscription: bool = False) -> None:
        self.instance(name, subscription=subscription).runner.pause()

    def resume_instance(self, name: str, *, subscription: bool = False) -> None:
        self.instance(name, subscription=subscription).runner.resume()

    async def restart_instance(self, name: str, *, subscription: bool = False) -> Instance:
        """Stop the instance's runner and start a fresh one from the same config (a FAILED one too)."""
        instance = self.instance(name, subscription=subscription)
        await self._stop_runner(instance)
        await self._start_runner(instance, self._fresh_runner(instance))
        return instance

    def _fresh_runner(self, instance: Instance) -> Runner:
        if instance.remake is not None:  # an adopted subscription sink
            return instance.remake()
        assert instance.spec is not None
        assert instance.config is not None
        return self._runner(instance.spec, instance.config)

    async def _start_runner(self, instance: Instance, runner: Runner) -> None:
        instance.runner = runner
        instance.stopped = False
        await self.add_runtime_dependency(runner)

    async def stop_instance(self, name: str, *, subscription: bool = False) -> None:
        """Kafka Connect's STOPPED: the runner is shut down, the config kept; needed before an offset reset."""
        await self._stop_runner(self.instance(name, subscription=subscription))

    def adopt_subscription(self, name: str, runner: SinkRunner, remake: Callable[[], SinkRunner]) -> None:
        """Manage a subscription's sink runner (the bus started it); ``remake`` builds a fresh one for restarts."""
        self.subscriptions[name] = Instance(name, "subscription", runner, remake=remake)

    def drop_subscription(self, name: str) -> None:
        self.subscriptions.pop(name, None)

    def status(self, name: str, *, subscription: bool = False) -> dict[str, Any]:
        return self._status(self.instance(name, subscription=subscription))

    def statuses(self, *, subscription: bool = False) -> list[dict[str, Any]]:
        table = self.subscriptions if subscription else self.connectors
        return [self._status(table[name]) for name in sorted(table)]

    def config_of(self, name: str) -> dict[str, Any]:
        instance = self.instance(name)
        assert instance.config is not None
        return public_config(instance.config)

    async def offsets(self, name: str, *, subscription: bool = False) -> dict[str, Any]:
        instance = self.instance(name, subscription=subscription)
        runner = instance.runner
        if isinstance(runner, SourceRunner):
            return {"kind": "source", "positions": runner.positions.load()}
        return {"kind": "sink", "group": runner.group_id, "partitions": await self._group_offsets(runner)}

    async def reset_offsets(
        self, name: str, *, subscription: bool = False, to: Literal["earliest", "latest"] | int = "earliest"
    ) -> dict[str, Any]:
        """Rewind (or skip) the instance's input, then start it again.

        A source forgets its positions (``to`` must be ``earliest``). A sink's
        consumer group is moved to the start, the end, or the first offset at or
        after a timestamp (ms) on every partition — the way to backfill a
        subscriber from a point in time it has already been routed.
        """
        instance = self.instance(name, subscription=subscription)
        await self._stop_runner(instance)
        if isinstance(instance.runner, SourceRunner):
            if to != "earliest":
                raise ConnectorConfigError("a source's positions can only be reset to the start (earliest)")
            forgotten = await asyncio.to_thread(instance.runner.positions.reset)
            await self.restart_instance(name, subscription=subscription)
            return {"kind": "source", "forgotten_partitions": forgotten}
        fresh = self._fresh_runner(instance)
        assert isinstance(fresh, SinkRunner)
        fresh.reset_to = to  # applied by the new runner as a group member, before it delivers anything
        await self._start_runner(instance, fresh)
        deadline = time.monotonic() + self.kafka.session_timeout_ms / 1000 + 60
        while fresh.reset_to is not None and time.monotonic() < deadline:  # noqa: ASYNC110 - the reset is applied inside the consumer loop; polled
            await asyncio.sleep(0.2)
        if fresh.reset_to is not None:
            raise ConnectorError(f"{name}: the offset reset was not applied in time (is the group joined?)")
        return {
            "kind": "sink",
            "partitions": [
                {"topic": tp.topic, "partition": tp.partition, "offset": offset}
                for tp, offset in sorted(fresh.applied_reset.items())
            ],
        }

    # --- internals -------------------------------------------------------------------------

    def _config_dir(self) -> Path:
        return self.state_root / "configs"

    def _context(self, name: str) -> ConnectorContext:
        state_dir = self.state_root / "instances" / name
        state_dir.mkdir(parents=True, exist_ok=True)
        return ConnectorContext(self.settings, self.kafka, self.registry, state_dir)

    def _runner(self, spec: ConnectorSpec, config: ConnectorConfig) -> Runner:
        context = self._context(config.name)
        connector = spec.create(config, context)
        dead_letters = DeadLetterPublisher(self.producer, self.settings.topic(config.errors_deadletterqueue_topic_name))
        if isinstance(connector, Source):
            assert isinstance(config, SourceConfig)
            return SourceRunner(
                source=connector,
                config=config,
                producer=self.producer,
                incoming=self.incoming,
                dead_letters=dead_letters,
                positions=SourcePositions.in_dir(context.state_dir),
                loop=self.loop,
                beacon=self.beacon,
            )
        assert isinstance(connector, Sink)
        assert isinstance(config, SinkConfig)
        sink: Sink = FilteringSink(connector, config.transforms) if config.transforms else connector
        return SinkRunner(
            sink=sink,
            kafka=self.kafka,
            group_id=self.settings.group(f"connector-{config.name}"),
            topic=[self.settings.topic(short) for short in config.topics],
            deserializer=Deserializer(self.registry, reader_schema=CANONICAL_SCHEMA.read_text()),
            dead_letters=dead_letters,
            retry=RetryPolicy(
                max_attempts=max(1, config.errors_retry_timeout // max(1, config.errors_retry_delay_max_ms)),
                initial_s=0.2,
                max_s=config.errors_retry_delay_max_ms / 1000,
            ),
            max_batch=config.batch_max_records,
            loop=self.loop,
            beacon=self.beacon,
        )

    async def _stop_runner(self, instance: Instance) -> None:
        if not instance.stopped:
            await instance.runner.stop()
            instance.stopped = True

    def _status(self, instance: Instance) -> dict[str, Any]:
        runner = instance.runner
        status: dict[str, Any] = {"name": instance.name, "kind": instance.kind, "state": instance.state}
        if instance.spec is not None:
            status["connector.class"] = instance.spec.name
            status["transport"] = instance.spec.transport
        if isinstance(runner, SourceRunner):
            stats = runner.stats
            status.update(
                records=stats.records,
                events=stats.events,
                dead_letters=stats.dead_letters,
                errors=stats.errors,
                lag=runner.source.lag(),
                last_error=stats.last_error,
                last_error_at_ms=stats.last_error_at_ms,
            )
        else:
            loop = runner.stats
            status.update(
                records=loop.records,
                batches=loop.batches,
                failed_batches=loop.failed_batches,
                lag=runner.lag(),
                last_error=loop.last_error,
                last_error_at_ms=loop.last_error_at_ms,
            )
        return status

    async def _group_offsets(self, runner: SinkRunner) -> list[dict[str, Any]]:
        consumer = make_consumer(self.kafka, group_id=runner.group_id)
        await consumer.start()
        try:
            partitions = [TopicPartition(t, p) for t in runner.topics for p in sorted(await _partitions(consumer, t))]
            ends = await consumer.end_offsets(partitions) if partitions else {}
            rows = []
            for tp in partitions:
                committed = await consumer.committed(tp)
                rows.append({"topic": tp.topic, "partition": tp.partition, "committed": committed, "end": ends[tp]})
            return rows
        finally:
            await consumer.stop()


def _mark_failed(runner: Runner, exc: BaseException) -> None:
    if isinstance(runner, SourceRunner):
        runner.stats.error(exc)
        runner.stats.failed = True
    else:
        runner.stats.failed(exc)


async def _partitions(consumer: Any, topic: str) -> set[int]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer.topics()
        found = consumer.partitions_for_topic(topic)
    return set(found or ())
