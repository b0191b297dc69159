"""The bus of one process: topics, registry, capture API, router and sink runners, wired together.

Lifecycle (a mode service; inside ``tracebus up`` the faust worker hosts it):
``on_start`` provisions topics from ``ops/topics.yaml``, starts the producer
and the registry, binds serializers, then starts its children — router, sink
runners, API — in that order. Stopping stops the API first (no new captures),
then sinks, then the router; the producer and registry close last.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from mode import Service

from connectors.runtime.rest import management_routes
from connectors.runtime.worker import ConnectorWorker
from connectors.webhook import WebhookSink
from schemas.codec import Deserializer, TopicSerializer
from schemas.identifiers.region import RegionTable
from schemas.registry.base import SchemaRegistry, subject_for_topic
from schemas.registry.embedded import SHIPPED_SCHEMAS, EmbeddedRegistry
from schemas.registry.http import ConfluentRegistryClient
from streams.api import ApiServer, CaptureHandlers, build_app
from streams.capture.jobs import CaptureJobs
from streams.capture.service import Capturer
from streams.deadletter import DeadLetterPublisher
from streams.ingest_service import IngestService
from streams.kafka.clients import make_producer
from streams.kafka.schema_log import KafkaSchemaLog
from streams.kafka.topics import apply_topics, concrete_topics, load_topics
from streams.metrics import READY
from streams.pipeline import Pipeline
from streams.reference import ReferenceTables
from streams.replay import replay_range
from streams.router_service import RouterService
from streams.settings import KafkaSettings, Settings
from streams.sinks import RetryPolicy, RetryTopic, SinkRunner
from streams.state.batch import TABLES
from streams.state.changelog import ChangeloggedState
from streams.state.store import StateStore
from streams.steps.dedupe import DedupeSettings, Deduplicator
from streams.steps.enrich import enrich
from streams.steps.route import Router
from streams.subscription_store import SubscriptionStore
from streams.subscriptions import Subscription

CANONICAL_SCHEMA = SHIPPED_SCHEMAS / "trace_event" / "v3.avsc"  # the latest: written, and read into
RAW_SCHEMA = SHIPPED_SCHEMAS / "raw_submission" / "v1.avsc"
logger = logging.getLogger(__name__)


def make_registry(settings: Settings, kafka: KafkaSettings, producer: AIOKafkaProducer) -> SchemaRegistry:
    """The registry the settings select: Confluent-compatible over HTTP, else the embedded one on Kafka."""
    if settings.schema_registry_url:
        return ConfluentRegistryClient(settings.schema_registry_url)
    return EmbeddedRegistry(KafkaSchemaLog(kafka, settings.topic("schemas"), producer))


class Bus(Service):
    def __init__(
        self,
        settings: Settings,
        subscriptions: list[Subscription],
        *,
        bootstrap_servers: str,
        after_ready: Callable[[Bus], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._after_ready = after_ready
        self.settings = settings
        self.subscriptions = subscriptions
        self.kafka: KafkaSettings = settings.effective_kafka().model_copy(
            update={"bootstrap_servers": bootstrap_servers}
        )
        self.producer: AIOKafkaProducer | None = None
        self.registry: SchemaRegistry | None = None
        self.router: RouterService | None = None
        self.sinks: list[SinkRunner] = []
        self.api: ApiServer | None = None
        self._change_lock = asyncio.Lock()
        self.store: SubscriptionStore | None = None
        self.reference: ReferenceTables | None = None
        self.ingest: IngestService | None = None
        self.worker: ConnectorWorker | None = None

    def subscription_topic(self, name: str) -> str:
        return self.settings.topic(f"deliver.{name}")

    def readiness(self) -> dict[str, bool]:
        roles = self.settings.roles
        components: dict[str, bool] = {"subscriptions": self.store is not None and self.store.ready}
        if "router" in roles:
            components["reference-data"] = self.reference is not None and self.reference.ready
        if "router" in roles:
            components["router"] = self.router is not None and self.router.ready
        if "api" in roles:
            components["api"] = self.api is not None and bool(self.api.url)
        components.update({f"sink:{r.sink.name}": r.ready for r in self.sinks})
        if self.worker is not None:
            components["connectors"] = self.worker.started
        READY.set(1 if all(components.values()) else 0)
        return components

    @property
    def ready(self) -> bool:
        return all(self.readiness().values())

    async def on_start(self) -> None:
        settings = self.settings
        self._topics_spec = load_topics(settings.topics_file)
        await apply_topics(
            self.kafka, concrete_topics(settings, self._topics_spec, [s.name for s in self.subscriptions])
        )
        self.producer = producer = make_producer(self.kafka)
        await producer.start()
        self.registry = registry = make_registry(settings, self.kafka, producer)
        await registry.start()
        self.canonical = canonical = TopicSerializer(
            registry, settings.topic("events.canonical"), CANONICAL_SCHEMA.read_text()
        )
        raw = TopicSerializer(registry, settings.topic("capture.raw"), RAW_SCHEMA.read_text())
        await canonical.bind()
        await raw.bind()
        self.dead_letters = DeadLetterPublisher(producer, settings.topic("deadletter"))
        # the file seeds the subscriptions topic; from here on the topic rules (streams/subscription_store.py)
        self.store = SubscriptionStore(
            kafka=self.kafka,
            topic=settings.topic("subscriptions"),
            seed=self.subscriptions,
            producer=producer,
            loop=self.loop,
            beacon=self.beacon,
        )
        await self.add_runtime_dependency(self.store)
        self.subscriptions = list(self.store.router.subscriptions)  # the topic's, seeded from the file
        await self._provision(self.subscriptions)
        if "router" in settings.roles:
            # workers route only once master data is loaded: enrichment and its flags depend on it
            self.reference = ReferenceTables.for_settings(
                settings, registry, kafka=self.kafka, loop=self.loop, beacon=self.beacon
            )
            await self.add_runtime_dependency(self.reference)
            await self.reference.wait_ready(settings.reference_load_timeout_s)
            self.router = await self._make_router(canonical, producer, self.dead_letters)
            self.ingest = IngestService(
                kafka=self.kafka,
                group_id=settings.group("ingest"),
                input_topic=settings.topic("events.incoming"),
                canonical=canonical,
                deserializer=Deserializer(registry),
                producer=producer,
                dead_letters=self.dead_letters,
                future_skew=timedelta(seconds=settings.event_future_skew_s),
                loop=self.loop,
                beacon=self.beacon,
            )
        self.worker = ConnectorWorker(
            settings=settings,
            kafka=self.kafka,
            producer=producer,
            registry=registry,
            state_root=settings.connector_state_dir,
            config_files=self._connector_files(),
            loop=self.loop,
            beacon=self.beacon,
        )
        if "sinks" in settings.roles:
            self.sinks = [self._make_sink(s) for s in self.subscriptions if s.webhook is not None]
            for runner in self.sinks:
                self._adopt(runner)
        capturer = Capturer(
            producer=producer,
            raw=raw,
            canonical=canonical,
            jobs=CaptureJobs(settings.api.capture_jobs_kept),
            max_events=settings.api.max_events_per_document,
            publish_timeout_s=settings.api.publish_timeout_s,
            future_skew=timedelta(seconds=settings.event_future_skew_s),
        )
        app = build_app(CaptureHandlers(capturer, self.readiness), settings.api.max_body_bytes)
        app.router.add_routes(management_routes(self.worker, backfill=self._backfill))
        self.api = ApiServer(
            app,
            host=settings.api.host,
            port=settings.api.port,
            loop=self.loop,
            beacon=self.beacon,
        )
        children: list[Service] = [
            *(service for service in (self.router, self.ingest) if service is not None),
            *self.sinks,
            self.worker,
        ]
        if "api" in settings.roles:
            children.append(self.api)
        for child in children:
            await self.add_runtime_dependency(child)
        self.store.on_change(self._subscriptions_changed)

    def _connector_files(self) -> list[Path]:
        directory = self.settings.connectors_dir
        if "connectors" not in self.settings.roles or directory is None or not directory.is_dir():
            return []
        return sorted(directory.glob("*.yaml"))

    def _adopt(self, runner: SinkRunner) -> None:
        """Hand a subscription's sink runner to the worker, so it can be paused, restarted and inspected alone."""
        if self.worker is not None:
            name = runner.sink.name
            self.worker.adopt_subscription(name, runner, remake=lambda: self._remake_sink(name))

    def _remake_sink(self, name: str) -> SinkRunner:
        subscription = next(s for s in self.subscriptions if s.name == name)
        fresh = self._make_sink(subscription)
        self.sinks = [fresh if r.sink.name == name else r for r in self.sinks]
        return fresh

    async def _backfill(self, name: str, from_ms: int, to_ms: int) -> dict[str, Any]:
        """Re-route canonical events of [from_ms, to_ms]: every subscriber lacking one of them receives it.

        Subscribers that already have an observation never get it twice (the
        router's once-per-subscriber check), so this is how a new subscriber is
        backfilled from a point in time.
        """
        if name not in {s.name for s in self.subscriptions}:
            raise ValueError(f"no subscription named {name!r}")
        report = await replay_range(self.kafka, self.settings.topic("events.canonical"), from_ms=from_ms, to_ms=to_ms)
        return {"subscription": name, "scanned": report.scanned, "rerouted": sum(report.republished.values())}

    async def _provision(self, subscriptions: Sequence[Subscription]) -> None:
        """Topics and schema subjects for the subscriptions' delivery topics (idempotent)."""
        names = [s.name for s in subscriptions]
        await apply_topics(self.kafka, concrete_topics(self.settings, self._topics_spec, names))
        assert self.registry is not None
        for name in names:  # TopicNameStrategy: the routed record's schema under each topic
            await self.registry.register(
                subject_for_topic(self.subscription_topic(name)), self.canonical.codec.schema_text
            )

    def _make_sink(self, subscription: Subscription) -> SinkRunner:
        """A webhook runner: a few attempts in line, then the subscriber's retry topic, then dead letters."""
        settings = self.settings
        webhook = subscription.webhook
        assert webhook is not None
        assert self.registry is not None
        assert self.producer is not None
        name = subscription.name

        def sink() -> WebhookSink:
            return WebhookSink(name, str(webhook.url), webhook.token(), timeout_s=settings.webhook_timeout_s)

        retry_topic = None
        if settings.webhook_retry_topic_attempts > 0:
            retry_topic = RetryTopic(
                topic=settings.topic(f"retry.{name}"),
                group_id=settings.group(f"sink-{name}-retry"),
                producer=self.producer,
                sink=sink(),  # the retry lane's own instance: the lanes write concurrently
                policy=RetryPolicy(
                    max_attempts=settings.webhook_retry_topic_attempts,
                    initial_s=settings.webhook_retry_backoff_initial_s,
                    max_s=settings.webhook_retry_backoff_max_s,
                ),
            )
        return SinkRunner(
            sink=sink(),
            kafka=self.kafka,
            group_id=settings.group(f"sink-{name}"),
            topic=self.subscription_topic(name),
            deserializer=Deserializer(self.registry, reader_schema=self.canonical.codec.schema_text),
            dead_letters=self.dead_letters,
            retry=RetryPolicy(
                max_attempts=settings.webhook_inline_attempts,
                initial_s=settings.webhook_backoff_initial_s,
                max_s=settings.webhook_backoff_max_s,
            ),
            max_batch=settings.webhook_max_events,
            retry_topic=retry_topic,
            loop=self.loop,
            beacon=self.beacon,
        )

    async def _subscriptions_changed(self, router: Router) -> None:
        """A live change: provision new topics, swap the router between batches, start or stop sinks."""
        async with self._change_lock:
            old = {s.name: s for s in self.subscriptions}
            new = {s.name: s for s in router.subscriptions}
            changed = [s for name, s in new.items() if old.get(name) != s]
            await self._provision(changed)
            if self.router is not None:
                await self.router.swap(router, {name: self.subscription_topic(name) for name in new})
            if "sinks" in self.settings.roles:
                stale = {name for name in old if old[name] != new.get(name)}
                for runner in [r for r in self.sinks if r.sink.name in stale]:
                    await runner.stop()
                    self.sinks.remove(runner)
                    if self.worker is not None:
                        self.worker.drop_subscription(runner.sink.name)
                for subscription in changed:
                    if subscription.webhook is not None:
                        runner = self._make_sink(subscription)
                        self.sinks.append(runner)
                        self._adopt(runner)
                        await self.add_runtime_dependency(runner)
            self.subscriptions = list(new.values())
            logger.info("subscriptions now: %s", sorted(new))

    @Service.task
    async def _announce_ready(self) -> None:
        while not self.should_stop and not self.ready:  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # readiness is a condition over several components, polled
        if self._after_ready is not None and not self.should_stop:
            try:
                await self._after_ready(self)
            except Exception:  # a failing hook (e.g. the demo feed) must not take the bus down
                logger.exception("after-ready hook failed")

    async def _make_router(
        self, canonical: TopicSerializer, producer: AIOKafkaProducer, dead_letters: DeadLetterPublisher
    ) -> RouterService:
        settings = self.settings
        registry = self.registry
        assert registry is not None
        assert self.reference is not None
        routed_topics = {s.name: self.subscription_topic(s.name) for s in self.subscriptions}
        deduplicator = Deduplicator(
            DedupeSettings(
                window_ms=int(settings.dedupe_window_s * 1000),
                require_distinct_reporters=settings.dedupe_require_distinct_reporters,
            ),
            list(routed_topics),
        )
        pipeline = Pipeline(
            deserializer=Deserializer(registry, reader_schema=canonical.codec.schema_text),
            serializer=canonical,
            router=Router(self.subscriptions),
            deduplicator=deduplicator,
            subscription_topics=routed_topics,
            provenance_topic=settings.topic("events.provenance"),
            enricher=functools.partial(enrich, data=self.reference, regions=RegionTable.load_default()),
        )
        state_path = None if settings.state_dir is None else settings.state_dir / settings.group("router")
        tables = ChangeloggedState(
            StateStore(state_path, TABLES), kafka=self.kafka, topic=settings.topic("state.router"), producer=producer
        )
        return RouterService(
            kafka=self.kafka,
            group_id=settings.group("router"),
            input_topic=canonical.topic,
            pipeline=pipeline,
            tables=tables,
            producer=producer,
            dead_letters=dead_letters,
            retention_ms=int(settings.dedupe_retention_s * 1000),
            sweep_interval_s=settings.state_sweep_interval_s,
            loop=self.loop,
            beacon=self.beacon,
        )

    async def on_shutdown(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if self.registry is not None:
            await self.registry.close()
