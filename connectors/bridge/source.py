"""The Kafka bridge (桥接): forwards topics of one tracebus bus to another, e.g. a provincial bus to the national one.

The bridge runs inside the TARGET bus's connector runtime: the runtime's
producer writes what the bridge polls to the target, and the bridge itself only
reads the SOURCE cluster. Per record it

1. reads the Confluent header, fetches the writer schema from the SOURCE
   registry (HTTP, or the source bus's embedded registry read from its
   ``<source.namespace>.schemas`` topic) and decodes the Avro body;
2. applies the connector's ``transforms`` to the decoded record: a record that
   does not pass is dropped (it still moves the position);
3. registers the writer schema under the target topic's subject
   (TopicNameStrategy) with the TARGET registry and re-frames the same Avro
   body with the target's id — the two registries' ids differ in general;
4. hands the result over as a pre-framed :class:`~connectors.base.KafkaMessage`
   with the original key and headers plus the provenance headers below.

Provenance headers (Kafka headers, ASCII values)::

    tracebus.bridge.cluster     the source cluster's label (provenance.cluster)
    tracebus.bridge.topic       the source topic (full name)
    tracebus.bridge.partition   the source partition
    tracebus.bridge.offset      the source offset

A record bridged twice (county → province → nation) carries one set per hop,
the latest last: read the *last* header of a key (Kafka's ``lastHeader``).

Position. The bridge's position is its consumer group's committed offsets in
the SOURCE cluster, committed in :meth:`KafkaBridge.committed` (the record's
offset + 1, after the runtime published the batch and saved it locally).
``start(positions)`` ignores the locally saved positions on purpose: the source
cluster's group is the one truth that survives a move of the runtime to another
machine, that operators see and reset with Kafka's own tools
(``kafka-consumer-groups --describe``), and that stays right when partitions
are reassigned within the group. A local position can only be ahead of the
group by the one batch whose commit a crash interrupted: that batch is
forwarded again with the same identities, which the target drops by event id.

Identity of a record: ``<cluster>:<source topic>:<partition>:<offset>``.

Failure modes: a source cluster or source registry that cannot be reached makes
``poll`` raise :class:`~connectors.errors.SourceUnavailableError`; a record
without a Confluent header, with an id the source registry does not know, or
whose body does not decode is an error record (reason ``undecodable``, raw =
the original value); a writer schema the target refuses is ``incompatible-schema``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from connectors.base import KafkaMessage, Source, SourceRecord, SourceRecordError
from connectors.bridge.config import KafkaBridgeConfig
from connectors.errors import SourceUnavailableError
from connectors.transforms import RecordFilter
from schemas.codec import AvroCodec, frame, unframe
from schemas.errors import (
    IncompatibleSchemaError,
    RegistryUnavailableError,
    SchemaError,
    SchemaNotFoundError,
    WireFormatError,
)
from schemas.registry.base import SchemaRegistry, subject_for_topic
from schemas.registry.embedded import EmbeddedRegistry, SchemaLogEntry
from schemas.registry.http import ConfluentRegistryClient
from streams.kafka.clients import make_consumer
from streams.kafka.schema_log import KafkaSchemaLog
from streams.settings import KafkaSettings

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer
    from aiokafka.structs import ConsumerRecord

logger = logging.getLogger(__name__)

HEADER_PREFIX: Final = "tracebus.bridge."
CLUSTER_HEADER: Final = HEADER_PREFIX + "cluster"
TOPIC_HEADER: Final = HEADER_PREFIX + "topic"
PARTITION_HEADER: Final = HEADER_PREFIX + "partition"
OFFSET_HEADER: Final = HEADER_PREFIX + "offset"
# what reaching the source cluster or its registry may raise besides our own errors
_UNREACHABLE: Final = (KafkaError, OSError, TimeoutError, RegistryUnavailableError)


def provenance_identity(headers: Sequence[tuple[str, bytes]]) -> str | None:
    """The identity a bridged record's (latest) provenance headers name, or None when it was not bridged."""
    found: dict[str, str] = {}
    for key, value in headers:
        if key.startswith(HEADER_PREFIX):
            found[key] = value.decode()  # later hops overwrite earlier ones: the last header wins
    parts = [found.get(key) for key in (CLUSTER_HEADER, TOPIC_HEADER, PARTITION_HEADER, OFFSET_HEADER)]
    if any(part is None for part in parts):
        return None
    return ":".join(cast(list[str], parts))


class _ReadOnlySchemaLog(KafkaSchemaLog):
    """The source bus's schema log, read only: the bridge never registers anything on the source."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        # read_all needs no producer; append, which would, is refused below
        super().__init__(kafka, topic, cast("AIOKafkaProducer", None))

    async def append(self, entry: SchemaLogEntry) -> None:
        raise SchemaError(f"the bridge does not register schemas on the source cluster ({entry.subject})")


@dataclass(frozen=True, slots=True)
class _Writer:
    """A source writer schema: its text (re-registered on the target) and its codec (to decode for filters)."""

    text: str
    codec: AvroCodec


class KafkaBridge(Source):
    """Forwards topics of a source tracebus cluster, re-framed for the target's registry, with provenance.

    Lifecycle: ``start`` only records what to do; the first ``poll`` connects to
    the source (a source down at start is then retried like any later outage).
    Between ``poll`` and ``committed`` the records handed out are remembered: a
    ``poll`` that follows a ``poll`` without ``committed`` (the runtime failed
    to publish) first rewinds to them, so nothing is skipped. ``stop`` commits
    what is still pending and leaves the group.
    """

    def __init__(
        self, config: KafkaBridgeConfig, *, target_namespace: str, target_registry: SchemaRegistry, kafka: KafkaSettings
    ) -> None:
        self.name = config.name
        self.config = config
        self.group_id = config.consumer_group or f"{target_namespace}-bridge-{config.name}"
        self.routes: dict[str, str] = {
            f"{config.source_namespace}.{topic}": f"{target_namespace}.{config.target_short_name(topic)}"
            for topic in config.topics
        }
        self._target_registry = target_registry
        self._source_kafka = config.source_kafka(kafka)
        self._filter = RecordFilter(config.transforms)
        self._consumer: AIOKafkaConsumer | None = None
        self._source_registry: SchemaRegistry | None = None
        self._writers: dict[int, _Writer] = {}  # source id → writer; ids never change meaning
        self._target_ids: dict[tuple[int, str], int] = {}  # (source id, target topic) → target id
        self._partitions: dict[str, TopicPartition] = {}  # SourceRecord.partition → TopicPartition
        self._handed_out: dict[TopicPartition, tuple[int, int]] = {}  # first and last offset not yet committed
        self._to_commit: dict[TopicPartition, int] = {}  # next offset to read, not yet committed to the group
        self._next: dict[TopicPartition, int] = {}  # next offset after what was handed out (for lag)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, positions: dict[str, Any]) -> None:
        """Nothing to open yet; ``positions`` are ignored: the source group's offsets are the position (see module)."""
        if positions:
            logger.debug("bridge %s: local positions ignored, resuming from group %s", self.name, self.group_id)

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        registry, self._source_registry = self._source_registry, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._commit(consumer), self._timeout_s)
            await _stop_consumer(consumer)
        if registry is not None:
            with contextlib.suppress(Exception):
                await registry.close()

    @property
    def _timeout_s(self) -> float:
        return self._source_kafka.request_timeout_ms / 1000

    async def _connect(self) -> AIOKafkaConsumer:
        if self._consumer is not None:
            return self._consumer
        consumer = make_consumer(self._source_kafka, group_id=self.group_id)
        registry = self._make_source_registry()
        try:
            await consumer.start()
            await asyncio.wait_for(registry.start(), self._timeout_s)
        except BaseException as exc:  # also when cancelled: leave no half-started client behind
            await _stop_consumer(consumer)
            with contextlib.suppress(Exception):
                await registry.close()
            if isinstance(exc, _UNREACHABLE):
                raise SourceUnavailableError(
                    f"source cluster {self.config.source_bootstrap_servers} unreachable: {exc!r}"
                ) from exc
            raise
        consumer.subscribe(topics=list(self.routes))
        self._consumer, self._source_registry = consumer, registry
        return consumer

    def _make_source_registry(self) -> SchemaRegistry:
        if self.config.source_schema_registry_url is not None:
            return ConfluentRegistryClient(
                self.config.source_schema_registry_url,
                basic_auth=self.config.source_registry_auth(),
                timeout_s=self._timeout_s,
            )
        topic = f"{self.config.source_namespace}.schemas"
        return EmbeddedRegistry(_ReadOnlySchemaLog(self._source_kafka, topic))

    # -- reading --------------------------------------------------------------------------------

    async def poll(self) -> Sequence[SourceRecord]:
        consumer = await self._connect()
        self._rewind(consumer)
        try:
            batches = await consumer.getmany(
                timeout_ms=self.config.poll_interval_ms, max_records=self.config.batch_max_records
            )
        except KafkaError as exc:
            raise SourceUnavailableError(f"reading the source cluster failed: {exc!r}") from exc
        if not batches:
            # aiokafka answers "nothing" while the cluster is gone: ask it something to tell the two apart
            await self._check_reachable(consumer)
            return []
        records: list[SourceRecord] = []
        try:
            for messages in batches.values():
                for message in messages:
                    records.append(await self._bridge(message))
        except BaseException:
            # nothing of this batch is handed out: read it again next time (also when cancelled)
            for tp, messages in batches.items():
                if messages and tp in consumer.assignment():
                    consumer.seek(tp, messages[0].offset)
            raise
        for tp, messages in batches.items():
            if messages:
                self._handed_out[tp] = (messages[0].offset, messages[-1].offset)
                self._next[tp] = messages[-1].offset + 1
        return records

    def _rewind(self, consumer: AIOKafkaConsumer) -> None:
        """Seek back to records handed out but never committed: the runtime did not publish them."""
        for tp, (first, _) in self._handed_out.items():
            if tp in consumer.assignment():
                logger.warning("bridge %s: %s from offset %d was not published; reading it again", self.name, tp, first)
                consumer.seek(tp, first)
                self._next[tp] = first
        self._handed_out.clear()

    async def _check_reachable(self, consumer: AIOKafkaConsumer) -> None:
        try:
            await asyncio.wait_for(consumer.topics(), self._timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise SourceUnavailableError(
                f"source cluster {self.config.source_bootstrap_servers} unreachable: {exc!r}"
            ) from exc

    async def _bridge(self, message: ConsumerRecord[bytes, bytes]) -> SourceRecord:
        topic, partition, offset = message.topic, message.partition, message.offset
        position = f"{topic}:{partition}"
        self._partitions.setdefault(position, TopicPartition(topic, partition))
        identity = f"{self.config.provenance_cluster}:{topic}:{partition}:{offset}"
        target = self.routes[topic]
        provenance = (
            (CLUSTER_HEADER, self.config.provenance_cluster.encode()),
            (TOPIC_HEADER, topic.encode()),
            (PARTITION_HEADER, str(partition).encode()),
            (OFFSET_HEADER, str(offset).encode()),
        )
        headers = (*((key, bytes(value)) for key, value in message.headers), *provenance)
        value = message.value
        if value is None:  # a tombstone has no schema: the deletion of its key is forwarded as is
            return SourceRecord(
                position, offset, identity, b"", messages=(KafkaMessage(target, message.key, None, headers),)
            )

        def failed(reason: str, error: Exception) -> SourceRecord:
            return SourceRecord(position, offset, identity, value, error=SourceRecordError(reason, str(error)))

        try:
            schema_id, body = unframe(value)
            writer = await self._writer(schema_id)
            record = writer.codec.decode(body)
        except WireFormatError as exc:
            return failed("undecodable", exc)
        if self._filter:
            try:
                accepted = self._filter.accepts(record)
            except (KeyError, TypeError, AttributeError) as exc:  # not a trace_event: filters cannot read it
                return failed("unfilterable", exc)
            if not accepted:
                return SourceRecord(position, offset, identity, value)
        try:
            target_id = await self._target_id(schema_id, writer, target)
        except IncompatibleSchemaError as exc:
            return failed("incompatible-schema", exc)
        except RegistryUnavailableError:
            raise
        except SchemaError as exc:
            return failed("schema-refused", exc)
        reframed = frame(target_id, bytes(body))
        return SourceRecord(
            position, offset, identity, value, messages=(KafkaMessage(target, message.key, reframed, headers),)
        )

    async def _writer(self, schema_id: int) -> _Writer:
        writer = self._writers.get(schema_id)
        if writer is None:
            assert self._source_registry is not None
            try:
                text = await asyncio.wait_for(self._source_registry.schema_by_id(schema_id), self._timeout_s)
            except SchemaNotFoundError as exc:
                raise WireFormatError(f"schema id {schema_id} is unknown to the source registry") from exc
            except _UNREACHABLE as exc:
                raise SourceUnavailableError(f"source schema registry unreachable: {exc!r}") from exc
            writer = self._writers[schema_id] = _Writer(text, AvroCodec(text))
        return writer

    async def _target_id(self, schema_id: int, writer: _Writer, target_topic: str) -> int:
        key = (schema_id, target_topic)
        target_id = self._target_ids.get(key)
        if target_id is None:
            subject = subject_for_topic(target_topic)
            target_id = self._target_ids[key] = await self._target_registry.register(subject, writer.text)
        return target_id

    # -- position -------------------------------------------------------------------------------

    async def committed(self, records: Sequence[SourceRecord]) -> None:
        """Commit offset + 1 of the latest of ``records`` per partition to the source group.

        A commit that fails is kept and tried again with the next one (a later
        offset of a partition covers the earlier); a partition the group gave
        to another member is dropped: that member resumes from the last commit.
        """
        latest: dict[TopicPartition, int] = {}
        for record in records:
            tp = self._partitions[record.partition]
            latest[tp] = max(latest.get(tp, -1), int(record.offset))
        for tp, offset in latest.items():
            self._to_commit[tp] = offset + 1
            handed = self._handed_out.get(tp)
            if handed is not None:
                if offset >= handed[1]:
                    del self._handed_out[tp]
                else:
                    self._handed_out[tp] = (offset + 1, handed[1])
        if self._consumer is not None:
            await self._commit(self._consumer)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        if not self._to_commit:
            return
        assigned = consumer.assignment()
        offsets = {tp: offset for tp, offset in self._to_commit.items() if tp in assigned}
        try:
            if offsets:
                await consumer.commit(offsets)
            self._to_commit.clear()
        except CommitFailedError as exc:
            logger.warning("bridge %s: group rebalanced, commit dropped (%s); records may repeat", self.name, exc)
            self._to_commit.clear()
        except KafkaError as exc:
            logger.warning("bridge %s: commit to the source group failed, kept for the next one: %r", self.name, exc)

    def lag(self) -> int | None:
        """Records waiting in the assigned source partitions, from the last fetch's high watermarks."""
        consumer = self._consumer
        if consumer is None:
            return None
        total = 0
        for tp in consumer.assignment():
            high, read = consumer.highwater(tp), self._next.get(tp)
            if high is None or read is None:
                return None  # not fetched yet: unknown, not zero
            total += max(0, int(high) - read)
        return total


async def _stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop ``consumer``; aiokafka lets a CancelledError of its own fetch tasks escape when the broker is gone."""
    task = asyncio.current_task()
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        if task is not None and task.cancelling():
            raise
    except Exception as exc:  # stopping must not raise
        logger.debug("stopping the source consumer: %r", exc)


__all__ = ["HEADER_PREFIX", "KafkaBridge", "provenance_identity"]
