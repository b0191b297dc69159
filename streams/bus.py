"""The bus of one process: topics, registry, capture API, router and sink runners, wired together.

Lifecycle (a mode service; inside ``tracebus up`` the faust worker hosts it):
``on_start`` provisions topics from ``ops/topics.yaml``, starts the producer
and the registry, binds serializers, then starts its children — router, sink
runners, API — in that order. Stopping stops the API first (no new captures),
then sinks, then the router; the producer and registry close last.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from mode import Service

from connectors.webhook import WebhookSink
from schemas.codec import Deserializer, TopicSerializer
from schemas.registry.base import SchemaRegistry, subject_for_topic
from schemas.registry.embedded import SHIPPED_SCHEMAS, EmbeddedRegistry
from schemas.registry.http import ConfluentRegistryClient
from streams.api import ApiServer, CaptureHandlers, build_app
from streams.capture.jobs import CaptureJobs
from streams.capture.service import Capturer
from streams.deadletter import DeadLetterPublisher
from streams.kafka.clients import make_producer
from streams.kafka.schema_log import KafkaSchemaLog
from streams.kafka.topics import apply_topics, concrete_topics, load_topics
from streams.metrics import READY
from streams.pipeline import Pipeline
from streams.router_service import RouterService
from streams.settings import KafkaSettings, Settings
from streams.sinks import RetryPolicy, SinkRunner
from streams.state.batch import TABLES
from streams.state.changelog import ChangeloggedState
from streams.state.store import StateStore
from streams.steps.dedupe import DedupeSettings, Deduplicator
from streams.steps.route import Router
from streams.subscriptions import Subscription

CANONICAL_SCHEMA = SHIPPED_SCHEMAS / "trace_event" / "v2.avsc"  # the latest: written, and read into
RAW_SCHEMA = SHIPPED_SCHEMAS / "raw_submission" / "v1.avsc"
logger = logging.getLogger(__name__)


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

    def subscription_topic(self, name: str) -> str:
        return self.settings.topic(f"deliver.{name}")

    def readiness(self) -> dict[str, bool]:
        roles = self.settings.roles
        components: dict[str, bool] = {}
        if "router" in roles:
            components["router"] = self.router is not None and self.router.ready
        if "api" in roles:
            components["api"] = self.api is not None and bool(self.api.url)
        components.update({f"sink:{r.sink.name}": r.ready for r in self.sinks})
        READY.set(1 if all(components.values()) else 0)
        return components

    @property
    def ready(self) -> bool:
        return all(self.readiness().values())

    async def on_start(self) -> None:
        settings = self.settings
        topics = load_topics(settings.topics_file)
        await apply_topics(self.kafka, concrete_topics(settings, topics, [s.name for s in self.subscriptions]))
        self.producer = producer = make_producer(self.kafka)
        await producer.start()
        self.registry = registry = self._make_registry(producer)
        await registry.start()
        canonical = TopicSerializer(registry, settings.topic("events.canonical"), CANONICAL_SCHEMA.read_text())
        raw = TopicSerializer(registry, settings.topic("capture.raw"), RAW_SCHEMA.read_text())
        await canonical.bind()
        await raw.bind()
        dead_letters = DeadLetterPublisher(producer, settings.topic("deadletter"))
        if "router" in settings.roles:
            self.router = await self._make_router(canonical, registry, producer, dead_letters)
        retry = RetryPolicy(
            max_attempts=settings.webhook_max_attempts,
            initial_s=settings.webhook_backoff_initial_s,
            max_s=settings.webhook_backoff_max_s,
        )
        for subscription in self.subscriptions:
            if subscription.webhook is None:
                continue  # the department consumes its topic directly
            sink = WebhookSink(
                subscription.name,
                str(subscription.webhook.url),
                subscription.webhook.token(),
                timeout_s=settings.webhook_timeout_s,
            )
            self.sinks.append(
                SinkRunner(
                    sink=sink,
                    kafka=self.kafka,
                    group_id=settings.group(f"sink-{subscription.name}"),
                    topic=self.subscription_topic(subscription.name),
                    deserializer=Deserializer(registry, reader_schema=canonical.codec.schema_text),
                    dead_letters=dead_letters,
                    retry=retry,
                    max_batch=settings.webhook_max_events,
                    loop=self.loop,
                    beacon=self.beacon,
                )
            )
        capturer = Capturer(
            producer=producer,
            raw=raw,
            canonical=canonical,
            jobs=CaptureJobs(settings.api.capture_jobs_kept),
            max_events=settings.api.max_events_per_document,
            publish_timeout_s=settings.api.publish_timeout_s,
            future_skew=timedelta(seconds=settings.event_future_skew_s),
        )
        self.api = ApiServer(
            build_app(CaptureHandlers(capturer, self.readiness), settings.api.max_body_bytes),
            host=settings.api.host,
            port=settings.api.port,
            loop=self.loop,
            beacon=self.beacon,
        )
        roles = settings.roles
        children: list[Service] = []
        if self.router is not None:
            children.append(self.router)
        if "sinks" in roles:
            children.extend(self.sinks)
        else:
            self.sinks = []
        if "api" in roles:
            children.append(self.api)
        for child in children:
            await self.add_runtime_dependency(child)

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
        self,
        canonical: TopicSerializer,
        registry: SchemaRegistry,
        producer: AIOKafkaProducer,
        dead_letters: DeadLetterPublisher,
    ) -> RouterService:
        settings = self.settings
        routed_topics = {s.name: self.subscription_topic(s.name) for s in self.subscriptions}
        for topic in routed_topics.values():  # TopicNameStrategy: the routed record's schema under each topic
            await registry.register(subject_for_topic(topic), canonical.codec.schema_text)
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
            loop=self.loop,
            beacon=self.beacon,
        )

    def _make_registry(self, producer: AIOKafkaProducer) -> SchemaRegistry:
        if self.settings.schema_registry_url:
            return ConfluentRegistryClient(self.settings.schema_registry_url)
        return EmbeddedRegistry(KafkaSchemaLog(self.kafka, self.settings.topic("schemas"), producer))

    async def on_shutdown(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if self.registry is not None:
            await self.registry.close()
