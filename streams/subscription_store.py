"""Live subscriptions: a compacted topic, read at start, then tailed.

The topic (``subscriptions`` in ``ops/topics.yaml``) is keyed by subscription
name; a value is the subscription as JSON (:meth:`Subscription.store_json`, the
webhook token included: the topic *is* the store), a null value removes it.

Start (:meth:`SubscriptionStore.on_start`, so ``await store.start()`` returns
only once the store is ready):

1. an own consumer, without a group, is assigned every partition of the topic
   and reads it from the beginning to the end offsets taken at start;
2. **the file seeds, the topic rules afterwards**: each subscription given as
   ``seed`` (``ops/subscriptions.yaml``) whose name has no record in the topic —
   neither a value nor a removal — is written to it; a name the topic already
   knows keeps the topic's version, so editing that entry in the file changes
   nothing (use :meth:`put`). A removal holds while its null record is kept; once
   compaction has dropped it (after ``delete.retention.ms``) a name still in the
   file is seeded again at the next start, so remove it from the file too;
3. the seeds are read back, an immutable :class:`Router` is built, listeners
   are called with it, and ``ready`` is set.

Then a task keeps tailing the topic. Each change (a new, different or removed
subscription) builds a new :class:`Router` and calls every listener registered
with :meth:`on_change`, in order, with it; a consumer swaps it in between
batches. :meth:`put` and :meth:`remove` publish, wait for the broker's ack
(acks=all) and then for this store to have read the record back, so the caller
sees its own change in :attr:`router` when they return.

A record that does not parse, or whose key is not the name inside it, is
skipped with a warning (the name keeps its previous version). Nothing here
logs or lists a secret: use :meth:`Subscription.public_view`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from mode import Service
from pydantic import ValidationError

from streams.errors import ConfigurationError, PublishError
from streams.kafka.clients import make_consumer, make_producer
from streams.kafka.offsets import caught_up
from streams.settings import KafkaSettings
from streams.steps.route import Router
from streams.subscriptions import NAME_PATTERN, Subscription

logger = logging.getLogger(__name__)

Listener = Callable[[Router], Awaitable[None] | None]


def _safe_errors(exc: ValidationError) -> str:
    """Where and why validation failed, without the input values (they may hold a token)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )


class SubscriptionStore(Service):
    """The subscriptions topic as a live, ordered mapping of name → :class:`Subscription`."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        topic: str,
        seed: Iterable[Subscription] = (),
        producer: AIOKafkaProducer | None = None,
        ack_timeout_s: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._kafka = kafka
        self._topic = topic
        self._seed = tuple(seed)
        self._own_producer = producer is None
        self._producer = producer
        self._ack_timeout_s = ack_timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._current: dict[str, Subscription] = {}
        self._removed: set[str] = set()  # names whose latest record is a removal
        self._applied: dict[int, int] = {}  # partition → next offset read
        self._progress = asyncio.Event()
        self._router = Router(())
        self._listeners: list[Listener] = []
        self._ready = asyncio.Event()

    # --- reading ---------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def router(self) -> Router:
        """The router over the current subscriptions (empty before ``ready``)."""
        return self._router

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return self._router.subscriptions

    def get(self, name: str) -> Subscription | None:
        return self._current.get(name)

    def public_listing(self) -> list[dict[str, Any]]:
        """Every subscription's :meth:`~Subscription.public_view` (secrets masked), in router order."""
        return [s.public_view() for s in self._router.subscriptions]

    def on_change(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(router)`` (sync or async) after each change; returns the unregister function.

        Not called for the router current at registration: read :attr:`router` first
        (no await in between, so no change is missed).
        """
        self._listeners.append(callback)

        def unregister() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unregister

    # --- writing ---------------------------------------------------------------------------------

    async def put(self, subscription: Subscription) -> None:
        """Create or replace ``subscription``; returns once acknowledged and read back."""
        await self._publish(subscription.name, subscription.store_json())
        logger.info("subscription %s written", subscription.name)

    async def remove(self, name: str) -> None:
        """Remove the subscription ``name`` (idempotent); returns once acknowledged and read back."""
        if not re.fullmatch(NAME_PATTERN, name):
            raise ValueError(f"{name!r} is not a subscription name (pattern {NAME_PATTERN})")
        await self._publish(name, None)
        logger.info("subscription %s removed", name)

    async def _publish(self, name: str, value: bytes | None) -> None:
        if self._producer is None or self._consumer is None:
            raise PublishError("the subscription store is not started")
        partition, offset = await self._send(name, value)
        if self.ready:
            await self._await_read_back(partition, offset)

    async def _send(self, name: str, value: bytes | None) -> tuple[int, int]:
        assert self._producer is not None
        try:
            future = await self._producer.send(self._topic, value, key=name.encode())
            metadata = await asyncio.wait_for(future, self._ack_timeout_s)
        except (TimeoutError, KafkaError) as exc:
            raise PublishError(f"subscription {name}: Kafka did not acknowledge the write: {exc!r}") from exc
        return int(metadata.partition), int(metadata.offset)

    async def _await_read_back(self, partition: int, offset: int) -> None:
        deadline = time.monotonic() + self._ack_timeout_s
        while self._applied.get(partition, 0) <= offset:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.warning("subscriptions: offset %d acknowledged but not read back yet", offset)
                return
            progress = self._progress
            try:
                await asyncio.wait_for(progress.wait(), remaining)
            except TimeoutError:
                continue

    # --- lifecycle -------------------------------------------------------------------------------

    async def on_start(self) -> None:
        if self._producer is None:
            self._producer = make_producer(self._kafka)
        if self._own_producer:
            await self._producer.start()
        self._consumer = make_consumer(self._kafka, group_id=None)
        try:
            await self._consumer.start()
            await self._load(self._consumer, self._producer)
        except BaseException:
            await self.on_shutdown()
            raise
        self._ready.set()
        logger.info("subscription store ready: %d subscriptions from %s", len(self._current), self._topic)

    async def _load(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        if self._topic not in await consumer.topics():
            raise ConfigurationError(f"topic {self._topic} does not exist: apply ops/topics.yaml first")
        partitions = [TopicPartition(self._topic, p) for p in sorted(await producer.partitions_for(self._topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        await self._read_to(await consumer.end_offsets(partitions))
        if await self._write_seeds():
            await self._read_to(await consumer.end_offsets(partitions))
        await self._changed()

    async def _write_seeds(self) -> bool:
        missing = [s for s in self._seed if s.name not in self._current and s.name not in self._removed]
        for subscription in missing:
            await self._send(subscription.name, subscription.store_json())
            logger.info("subscription %s seeded from the file", subscription.name)
        return bool(missing)

    async def _read_to(self, ends: Mapping[TopicPartition, int]) -> None:
        consumer = self._consumer
        assert consumer is not None
        pending = {tp for tp, end in ends.items() if not await caught_up(consumer, tp, end)}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500)
            self._apply(batch)
            for tp in list(pending):
                if await caught_up(consumer, tp, ends[tp]):
                    pending.discard(tp)

    @Service.task
    async def _tail(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self.should_stop:
            try:
                batch = await consumer.getmany(timeout_ms=200)
            except KafkaError:
                logger.exception("subscriptions: reading %s failed; retrying", self._topic)
                await asyncio.sleep(1.0)
                continue
            if not batch:
                continue
            if self._apply(batch):
                await self._changed()
            self._signal_progress()

    async def on_shutdown(self) -> None:
        # after mode cancelled the tail task, so no getmany runs on a stopped consumer
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._producer is not None and self._own_producer:
            await self._producer.stop()
            self._producer = None

    # --- applying records ------------------------------------------------------------------------

    def _apply(self, batch: Mapping[TopicPartition, Sequence[ConsumerRecord]]) -> bool:
        changed = False
        for tp, messages in batch.items():
            for message in messages:
                changed = self._apply_one(message) or changed
                self._applied[tp.partition] = message.offset + 1
        return changed

    def _apply_one(self, message: ConsumerRecord) -> bool:
        where = f"{message.topic}[{message.partition}]@{message.offset}"
        try:
            name = message.key.decode() if message.key is not None else ""
        except UnicodeDecodeError:
            name = ""
        if not re.fullmatch(NAME_PATTERN, name):
            logger.warning("subscriptions: %s skipped: key is not a subscription name", where)
            return False
        if message.value is None:
            self._removed.add(name)
            return self._current.pop(name, None) is not None
        try:
            subscription = Subscription.model_validate_json(message.value)
        except ValidationError as exc:
            logger.warning("subscriptions: %s (%s) skipped: %s", where, name, _safe_errors(exc))
            return False
        if subscription.name != name:
            logger.warning("subscriptions: %s skipped: key %s, name inside %s", where, name, subscription.name)
            return False
        self._removed.discard(name)
        if self._current.get(name) == subscription:
            return False
        self._current[name] = subscription
        return True

    async def _changed(self) -> None:
        self._router = router = Router(self._current.values())
        logger.info("subscriptions now %s", router.subscription_names)
        for callback in list(self._listeners):
            try:
                result = callback(router)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # one failing listener must not stop the others or the tail
                logger.exception("subscriptions: listener %r failed", callback)

    def _signal_progress(self) -> None:
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()
