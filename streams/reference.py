"""Reference (master) data: businesses, products and the product catalogue, kept in memory from Kafka.

Each kind lives on a compacted topic (``ops/topics.yaml``): the key is the
business's USCC, the product code or the category code (UTF-8), the value a
Confluent-framed Avro record (``schemas/avro/<kind>/v<N>.avsc``). A null value
(a tombstone) deletes the key. ``tracebus masterdata load`` writes them.

:class:`ReferenceTables` reads every topic from the beginning with a consumer
of its own, without a consumer group (all partitions assigned, no offsets
committed: every process keeps the whole table). It notes each partition's end
offset when it starts and sets :attr:`ReferenceTables.ready_event` once every
topic has been read up to those offsets; it then keeps tailing, so later
updates and deletions apply live. Lookups are plain dict reads, safe to call
from the hot path.

The entries handed out are dicts shaped like the ``trace_event`` v2 enrichment
records (``BusinessInfo``, ``ProductInfo``, ``CatalogueInfo``), shared between
every caller: treat them as read-only. :class:`StaticReferenceTables` is the
in-memory double for tests, behind the same :class:`ReferenceData` protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal, Protocol, TypedDict

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from mode import Service

from schemas.codec import Deserializer
from schemas.errors import RegistryUnavailableError, SchemaError
from schemas.registry.base import SchemaRegistry
from schemas.registry.embedded import SHIPPED_SCHEMAS
from streams.errors import TopicProvisioningError
from streams.kafka.clients import make_consumer
from streams.kafka.offsets import caught_up
from streams.settings import KafkaSettings, Settings

logger = logging.getLogger(__name__)

Kind = Literal["business", "product", "catalogue"]
KINDS: Final[tuple[Kind, ...]] = ("business", "product", "catalogue")
TOPICS: Final[Mapping[Kind, str]] = {
    "business": "reference.businesses",
    "product": "reference.products",
    "catalogue": "reference.catalogue",
}
"""Topic of each kind, relative to the bus namespace (``Settings.topic``)."""
SCHEMAS: Final[Mapping[Kind, str]] = {
    kind: (SHIPPED_SCHEMAS / kind / "v1.avsc").read_text(encoding="utf-8") for kind in KINDS
}
"""Latest value contract of each kind: written by the loader, read into by the tables."""


class BusinessEntry(TypedDict):
    uscc: str
    name: str
    natural_person: bool
    credit_grade: str | None
    region_code: str | None
    licences: list[str]


class ProductEntry(TypedDict):
    code: str
    name: str
    category: str | None
    spec: str | None


class CatalogueEntry(TypedDict):
    category: str
    name: str
    traced: bool
    department: str | None
    since: str | None


class ReferenceData(Protocol):
    """What the enrich step looks up; ``None`` when the key is unknown (or deleted)."""

    def business(self, uscc: str) -> BusinessEntry | None: ...

    def product(self, code: str) -> ProductEntry | None: ...

    def catalogue(self, category: str) -> CatalogueEntry | None: ...


def business_entry(uscc: str, value: Mapping[str, Any]) -> BusinessEntry:
    return {
        "uscc": uscc,
        "name": value["name"],
        "natural_person": bool(value.get("natural_person", False)),
        "credit_grade": value.get("credit_grade"),
        "region_code": value.get("region_code"),
        "licences": list(value.get("licences") or ()),
    }


def product_entry(code: str, value: Mapping[str, Any]) -> ProductEntry:
    return {"code": code, "name": value["name"], "category": value.get("category"), "spec": value.get("spec")}


def catalogue_entry(category: str, value: Mapping[str, Any]) -> CatalogueEntry:
    return {
        "category": category,
        "name": value["name"],
        "traced": bool(value["traced"]),
        "department": value.get("department"),
        "since": value.get("since"),
    }


_ENTRY: Final[Mapping[Kind, Callable[[str, Mapping[str, Any]], Any]]] = {
    "business": business_entry,
    "product": product_entry,
    "catalogue": catalogue_entry,
}


class _Tables:
    """The three key → entry dicts and how a (kind, key, value) record changes them."""

    def __init__(self) -> None:
        self.businesses: dict[str, BusinessEntry] = {}
        self.products: dict[str, ProductEntry] = {}
        self.categories: dict[str, CatalogueEntry] = {}
        self._by_kind: dict[Kind, dict[str, Any]] = {
            "business": self.businesses,
            "product": self.products,
            "catalogue": self.categories,
        }

    def apply(self, kind: Kind, key: str, value: Mapping[str, Any] | None) -> None:
        """Upsert ``key`` with ``value``; a ``None`` value (tombstone) deletes it."""
        table = self._by_kind[kind]
        if value is None:
            table.pop(key, None)
        else:
            table[key] = _ENTRY[kind](key, value)

    def sizes(self) -> dict[Kind, int]:
        return {kind: len(table) for kind, table in self._by_kind.items()}

    def business(self, uscc: str) -> BusinessEntry | None:
        return self.businesses.get(uscc)

    def product(self, code: str) -> ProductEntry | None:
        return self.products.get(code)

    def catalogue(self, category: str) -> CatalogueEntry | None:
        return self.categories.get(category)


class StaticReferenceTables(_Tables):
    """In-memory :class:`ReferenceData` for tests and tools: given entries, or records applied in order."""

    def __init__(
        self,
        businesses: Iterable[BusinessEntry] = (),
        products: Iterable[ProductEntry] = (),
        catalogue: Iterable[CatalogueEntry] = (),
    ) -> None:
        super().__init__()
        self.businesses.update((entry["uscc"], entry) for entry in businesses)
        self.products.update((entry["code"], entry) for entry in products)
        self.categories.update((entry["category"], entry) for entry in catalogue)

    @classmethod
    def from_records(cls, records: Iterable[tuple[Kind, str, Mapping[str, Any] | None]]) -> StaticReferenceTables:
        """Tables as a reader of the topics would hold them after these (kind, key, value) records."""
        tables = cls()
        for kind, key, value in records:
            tables.apply(kind, key, value)
        return tables


class _TopicReader:
    """One reference topic: its consumer, where "caught up" is, and whether it got there."""

    def __init__(self, kind: Kind, topic: str, consumer: AIOKafkaConsumer, deserializer: Deserializer) -> None:
        self.kind = kind
        self.topic = topic
        self.consumer = consumer
        self.deserializer = deserializer
        self.targets: dict[TopicPartition, int] = {}
        self.caught_up = False

    async def assign(self, metadata_timeout_s: float) -> None:
        """Assign every partition, rewind to the beginning, note the end offsets."""
        deadline = time.monotonic() + metadata_timeout_s
        partitions = self.consumer.partitions_for_topic(self.topic)
        while not partitions:
            if time.monotonic() > deadline:
                raise TopicProvisioningError(
                    f"reference topic {self.topic} does not exist: run `tracebus topics apply` (ops/topics.yaml)"
                )
            await self.consumer.topics()  # refreshes the cluster metadata
            partitions = self.consumer.partitions_for_topic(self.topic)
            if not partitions:
                await asyncio.sleep(0.2)
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_beginning(*assigned)
        self.targets = dict(await self.consumer.end_offsets(assigned))

    async def check_caught_up(self) -> bool:
        if not self.caught_up:
            for tp, end in self.targets.items():
                if not await caught_up(self.consumer, tp, end):
                    return False
            self.caught_up = True
        return True


class ReferenceTables(Service):
    """Reference data read from Kafka into memory; :attr:`ready` once the topics were read to their end.

    Lookups (:meth:`business`, :meth:`product`, :meth:`catalogue`) answer from
    memory at any time; before :attr:`ready` they may miss keys not read yet.
    """

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        registry: SchemaRegistry,
        topics: Mapping[Kind, str],
        poll_timeout_ms: int = 200,
        metadata_timeout_s: float = 30.0,
        retry_pause_s: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tables = _Tables()
        self._kafka = kafka
        self._registry = registry
        self._topics = dict(topics)
        self._poll_timeout_ms = poll_timeout_ms
        self._metadata_timeout_s = metadata_timeout_s
        self._retry_pause_s = retry_pause_s
        self._readers: list[_TopicReader] = []
        self.ready_event = asyncio.Event()
        self.skipped = 0
        """Records that cannot ever be applied (no key, undecodable value): logged and counted."""

    @classmethod
    def for_settings(
        cls, settings: Settings, registry: SchemaRegistry, *, kafka: KafkaSettings | None = None, **kwargs: Any
    ) -> ReferenceTables:
        """Tables on the namespace's reference topics (``kafka`` defaults to the settings' own)."""
        return cls(
            kafka=kafka if kafka is not None else settings.effective_kafka(),
            registry=registry,
            topics={kind: settings.topic(name) for kind, name in TOPICS.items()},
            **kwargs,
        )

    @property
    def ready(self) -> bool:
        return self.ready_event.is_set()

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        await asyncio.wait_for(self.ready_event.wait(), timeout_s)

    def business(self, uscc: str) -> BusinessEntry | None:
        return self.tables.businesses.get(uscc)

    def product(self, code: str) -> ProductEntry | None:
        return self.tables.products.get(code)

    def catalogue(self, category: str) -> CatalogueEntry | None:
        return self.tables.categories.get(category)

    def sizes(self) -> dict[Kind, int]:
        return self.tables.sizes()

    async def on_start(self) -> None:
        for kind, topic in self._topics.items():
            consumer = make_consumer(self._kafka, group_id=None, client_id=f"{self._kafka.client_id}-reference")
            reader = _TopicReader(kind, topic, consumer, Deserializer(self._registry, reader_schema=SCHEMAS[kind]))
            self._readers.append(reader)  # listed first, so on_shutdown stops it whatever happens next
            await consumer.start()
            await reader.assign(self._metadata_timeout_s)
        for reader in self._readers:
            self.add_future(self._tail(reader))
        await self._update_ready()

    async def on_shutdown(self) -> None:
        # after mode cancelled the tail tasks, so no getmany runs on a stopped consumer
        for reader in self._readers:
            await reader.consumer.stop()
        self._readers = []

    async def _tail(self, reader: _TopicReader) -> None:
        while not self.should_stop:
            try:
                batch = await reader.consumer.getmany(timeout_ms=self._poll_timeout_ms)
            except Exception:  # the fetch failed: nothing was consumed, so asking again loses nothing
                logger.exception("reading reference topic %s failed; retrying", reader.topic)
                await asyncio.sleep(self._retry_pause_s)
                continue
            for messages in batch.values():
                for message in messages:
                    await self._apply_message(reader, message)
            if not reader.caught_up:
                await self._update_ready()

    async def _apply_message(self, reader: _TopicReader, message: ConsumerRecord) -> None:
        where = f"{message.topic}[{message.partition}]@{message.offset}"
        if message.key is None:
            self.skipped += 1
            logger.warning("reference record %s has no key: skipped", where)
            return
        try:
            key = bytes(message.key).decode("utf-8")
        except UnicodeDecodeError:
            self.skipped += 1
            logger.warning("reference record %s skipped: its key is not UTF-8", where)
            return
        value: Mapping[str, Any] | None = None
        while message.value is not None:
            try:
                value = await reader.deserializer.decode_any(message.value)
                break
            except RegistryUnavailableError as exc:  # transient: wait, keeping this topic's order
                if self.should_stop:
                    return
                logger.warning("reference record %s: registry unavailable (%s); retrying", where, exc)
                await asyncio.sleep(self._retry_pause_s)
            except SchemaError as exc:
                self.skipped += 1
                logger.warning("reference record %s skipped: %s", where, exc)
                return
        try:
            self.tables.apply(reader.kind, key, value)
        except (KeyError, TypeError) as exc:  # a value missing a required field: not from a known contract
            self.skipped += 1
            logger.warning("reference record %s skipped: %s", where, exc)

    async def _update_ready(self) -> None:
        for reader in self._readers:
            if not await reader.check_caught_up():
                return
        if not self.ready_event.is_set():
            logger.info("reference data loaded: %s", self.sizes())
            self.ready_event.set()
