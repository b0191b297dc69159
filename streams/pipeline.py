"""The router's per-batch pipeline, without Kafka: decode → dedupe → enrich → route → deliver once → encode.

Every step has a name; that name is the ``step`` label of
``tracebus_step_events_total`` / ``tracebus_dropped_events_total`` and the
``stage`` of the dead letters it produces. A step never raises for one
event: failures become :class:`~streams.deadletter.DeadLetter` records with
the original bytes, so nothing is lost and nothing stops the partition.

``process`` is synchronous and does no I/O except state reads (local LMDB);
the caller (:mod:`streams.router_service`) sends the outcome, awaits the
acknowledgements, commits the batch's state through the changelog, and only
then commits the input offsets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka.structs import ConsumerRecord

from schemas.codec import Deserializer, TopicSerializer
from schemas.errors import WireFormatError
from streams.deadletter import DeadLetter
from streams.metrics import DROPPED_EVENTS, ROUTED_EVENTS, STEP_OUTCOMES
from streams.state.batch import BatchState
from streams.steps.base import Emit, Fail, StepResult
from streams.steps.dedupe import STEP as DEDUPE
from streams.steps.dedupe import Deduplicator
from streams.steps.personal import entitled, masked_copy, personal_keys
from streams.steps.route import STEP as ROUTE
from streams.steps.route import Router

DECODE: Final = "decode"
ENRICH: Final = "enrich"
ENCODE: Final = "encode"
EVENT_ID_HEADER: Final = "tracebus-event-id"
OBSERVATION_HEADER: Final = "tracebus-observation-id"
REPLAY_HEADER: Final = "tracebus-replay"
"""Set by ``tracebus replay`` on re-published records: dedupe lets a repeat through to once-per-subscriber routing."""

Enricher = Callable[[dict[str, Any]], StepResult[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


@dataclass(slots=True)
class BatchOutcome:
    outgoing: list[Outgoing] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    routed: int = 0
    dropped: int = 0
    # counted per batch and added to the Prometheus counters once: a labelled inc per event costs
    # more than a pipeline step
    steps: Counter[tuple[str, str]] = field(default_factory=Counter)
    drops: Counter[tuple[str, str]] = field(default_factory=Counter)
    per_subscription: Counter[str] = field(default_factory=Counter)

    def flush_metrics(self) -> None:
        for (step, outcome), count in self.steps.items():
            STEP_OUTCOMES.labels(step, outcome).inc(count)
        for (step, reason), count in self.drops.items():
            DROPPED_EVENTS.labels(step, reason).inc(count)
        for name, count in self.per_subscription.items():
            ROUTED_EVENTS.labels(name).inc(count)
        self.steps.clear()
        self.drops.clear()
        self.per_subscription.clear()


def letter(message: ConsumerRecord, stage: str, reason: str, message_text: str, error_class: str) -> DeadLetter:
    return DeadLetter(
        key=message.key,
        value=message.value,
        stage=stage,
        reason=reason,
        message=message_text,
        error_class=error_class,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        original_headers=tuple(message.headers),
    )


class Pipeline:
    def __init__(
        self,
        *,
        deserializer: Deserializer,
        serializer: TopicSerializer,
        router: Router,
        deduplicator: Deduplicator,
        subscription_topics: Mapping[str, str],
        provenance_topic: str,
        enricher: Enricher | None = None,
    ) -> None:
        self._deserializer = deserializer
        self._serializer = serializer
        self.router = router
        self._deduplicator = deduplicator
        self._topics = dict(subscription_topics)
        self._provenance_topic = provenance_topic
        self._enricher = enricher
        self._personal = {s.name: (s.personal_data, s.department) for s in router.subscriptions}

    def set_router(self, router: Router, subscription_topics: Mapping[str, str]) -> None:
        """Swap subscriptions between batches (live subscription changes)."""
        self.router = router
        self._topics = dict(subscription_topics)
        self._deduplicator.subscription_names = list(subscription_topics)
        self._personal = {s.name: (s.personal_data, s.department) for s in router.subscriptions}

    async def prepare(self, messages: Sequence[ConsumerRecord]) -> None:
        """Fetch writer schemas the batch needs (the only awaited part of decoding)."""
        for message in messages:
            if message.value is not None and not self._deserializer.knows(message.value):
                try:
                    await self._deserializer.prepare(message.value)
                except WireFormatError:
                    continue  # decode() reports it as a dead letter with the record's context

    def process(
        self, messages: Sequence[ConsumerRecord], state: BatchState, now_ms: int, outcome: BatchOutcome
    ) -> None:
        for message in messages:
            try:
                self._one(message, state, now_ms, outcome)
            except Exception as exc:  # the last net: an unexpected error loses nothing, it is dead-lettered
                outcome.steps[("pipeline", "fail")] += 1
                outcome.dead_letters.append(
                    letter(message, "pipeline", "unexpected-error", str(exc), type(exc).__name__)
                )

    def _one(self, message: ConsumerRecord, state: BatchState, now_ms: int, outcome: BatchOutcome) -> None:
        try:
            record = self._deserializer.decode(message.value)
        except WireFormatError as exc:
            outcome.steps[(DECODE, "fail")] += 1
            outcome.dead_letters.append(letter(message, DECODE, "undecodable", str(exc), type(exc).__name__))
            return
        replay = any(name == REPLAY_HEADER for name, _ in message.headers)
        verdict = self._deduplicator.check(record, message.partition, state, now_ms, replay=replay)
        if verdict.duplicate:
            outcome.steps[(DEDUPE, "drop")] += 1
            outcome.drops[(DEDUPE, "duplicate")] += 1
            outcome.dropped += 1
            return
        outcome.steps[(DEDUPE, "emit")] += 1
        if self._enricher is not None:
            result = self._enricher(record)
            if isinstance(result, Fail):
                outcome.steps[(ENRICH, "fail")] += 1
                outcome.dead_letters.append(letter(message, ENRICH, result.reason, result.message, result.error_class))
                return
            assert isinstance(result, Emit)
            record = result.value
            outcome.steps[(ENRICH, "emit")] += 1
        targets = sorted(set(self.router.route(record)) | verdict.correction_targets)
        fresh = self._deduplicator.deliverable(record, targets, message.partition, state, verdict)
        if not fresh and not verdict.joined:
            outcome.steps[(ROUTE, "drop")] += 1
            reason = "no-subscriber" if not targets else "already-delivered"
            outcome.drops[(ROUTE, reason)] += 1
            outcome.dropped += 1
            return
        try:
            value = self._serializer.serialize(record)
        except WireFormatError as exc:
            outcome.steps[(ENCODE, "fail")] += 1
            outcome.dead_letters.append(letter(message, ENCODE, "unencodable", str(exc), type(exc).__name__))
            return
        headers = (
            (EVENT_ID_HEADER, record["event_id"].encode()),
            (OBSERVATION_HEADER, record["observation_id"].encode()),
        )
        if verdict.joined:  # lineage and archives: the merged observation, never to webhooks
            outcome.outgoing.append(Outgoing(self._provenance_topic, message.key, value, headers))
        personal = personal_keys(record)
        masked: bytes | None = None
        for name in fresh:
            delivered = value
            if personal and not entitled(*self._personal.get(name, (None, "")), record):
                if masked is None:  # one masked serialization per event, whoever receives it
                    masked = self._serializer.serialize(masked_copy(record, personal))
                delivered = masked
            outcome.outgoing.append(Outgoing(self._topics[name], message.key, delivered, headers))
            outcome.per_subscription[name] += 1
        if fresh:
            outcome.steps[(ROUTE, "emit")] += 1
            outcome.routed += 1
        else:  # a later report that reached no new subscriber: merged into its observation
            outcome.steps[(ROUTE, "drop")] += 1
            outcome.drops[(DEDUPE, "merged")] += 1
            outcome.dropped += 1
