"""Test doubles shipped with the code, for unit tests of code that produces to Kafka.

:class:`RecordingProducer` stands in for aiokafka's ``AIOKafkaProducer`` where a
component only calls ``send``/``send_and_wait`` (capture, the dead-letter
publisher, the schema log). It records every record it is given and
acknowledges it at once, or, when told to, fails the acknowledgement
(``fail_with``) or never gives one (``hang``), so that the "Kafka did not
acknowledge" paths can be exercised without a broker and without sleeping.

It only checks what the caller asked for; it knows nothing of partitioning,
batching, ordering across partitions or delivery semantics. It never replaces
the broker in integration tests: those run against the embedded (or a real)
Kafka broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MARKET",
    "SLAUGHTERHOUSE",
    "RecordMetadataLike",
    "RecordingProducer",
    "SentRecord",
    "movement_record",
    "sample_shipment",
]


@dataclass(frozen=True, slots=True)
class SentRecord:
    """One record as it was handed to ``send``."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None
    headers: list[tuple[str, bytes]] | None


@dataclass(frozen=True, slots=True)
class RecordMetadataLike:
    """The fields of aiokafka's ``RecordMetadata`` that callers read after an acknowledgement."""

    topic: str
    partition: int
    offset: int
    timestamp: int


class RecordingProducer:
    """An ``AIOKafkaProducer`` look-alike that records instead of producing.

    * ``sent``: records whose send was acknowledged, in call order.
    * ``attempts``: every record given to ``send``, acknowledged or not.
    * ``fail_with``: when set, each later ``send`` returns a future failed with
      this exception (the broker did not acknowledge); the record goes to
      ``attempts`` only.
    * ``hang``: when true, each later ``send`` returns a future that never
      resolves (a broker that never answers); the caller's timeout must end it.

    ``partition`` in the metadata is the one asked for, else 0; offsets count
    up per (topic, partition) from 0.
    """

    def __init__(self) -> None:
        self.sent: list[SentRecord] = []
        self.attempts: list[SentRecord] = []
        self.fail_with: Exception | None = None
        self.hang = False
        self.started = False
        self.stopped = False
        self._offsets: dict[tuple[str, int], int] = {}
        self._pending: list[asyncio.Future[RecordMetadataLike]] = []

    async def start(self) -> None:
        self.started = True
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True
        for future in self._pending:
            if not future.done():
                future.cancel()
        self._pending.clear()

    def on_topic(self, topic: str) -> list[SentRecord]:
        """The acknowledged records of ``topic``, in call order."""
        return [record for record in self.sent if record.topic == topic]

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[RecordMetadataLike]:
        if self.stopped:
            raise RuntimeError("RecordingProducer.send after stop()")
        if value is None and key is None:
            raise ValueError("need at least one of key or value")  # as aiokafka asserts
        record = SentRecord(
            topic=topic,
            key=key,
            value=value,
            partition=partition,
            headers=list(headers) if headers is not None else None,
        )
        self.attempts.append(record)
        future: asyncio.Future[RecordMetadataLike] = asyncio.get_running_loop().create_future()
        if self.hang:
            self._pending.append(future)
            return future
        if self.fail_with is not None:
            future.set_exception(self.fail_with)
            return future
        chosen = partition if partition is not None else 0
        offset = self._offsets.get((topic, chosen), 0)
        self._offsets[(topic, chosen)] = offset + 1
        self.sent.append(record)
        future.set_result(RecordMetadataLike(topic=topic, partition=chosen, offset=offset, timestamp=timestamp_ms or 0))
        return future

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> RecordMetadataLike:
        future = await self.send(topic, value, key, partition, timestamp_ms, headers)
        return await future


def sample_shipment(serial: int | None = None) -> dict[str, Any]:
    """A realistic EPCIS shipment (JSON binding) as a slaughterhouse's platform reports it.

    One lot with quantity and unit, a read point, owner parties, a transaction voucher
    and the traceability extension; ``serial`` adds one SGTIN so events differ. Used by
    the benchmarks as their representative event.
    """
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-20T06:30:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [] if serial is None else [f"urn:epc:id:sgtin:6901234.012345.{serial}"],
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:6901234.012345.SL20261120A", "quantity": 420.5, "uom": "KGM"}
        ],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:6901234.00001.0"},
        "bizTransactionList": [{"type": "desadv", "bizTransaction": "urn:tracebus:doc:voucher:PF-20261120-000917"}],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:6901234.00000"}],
        "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:6907777.00000"}],
        "tb:reportingDepartment": "MOFCOM",
        "tb:businessUSCC": "91350200776049653A",
        "tb:regionCode": "330109",
        "tb:certificates": [{"tb:type": "animal-quarantine", "tb:number": "3301202611200042"}],
    }
    return event


SLAUGHTERHOUSE: Final = "91350200776049653A"
MARKET: Final = "91440101MA5CJQ4N59"


def movement_record(
    *, event_time: str, trace_code: str, reporter: str, certificates: Sequence[str] = ()
) -> dict[str, Any]:
    """The canonical record of a shipment of lot L1 from the slaughterhouse to the market, validated as
    capture would: a template that generators copy and vary (identity, trace key, department, time)."""
    from datetime import UTC, datetime, timedelta

    from streams.steps.base import Emit
    from streams.steps.validate import CaptureContext, validate_event

    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": event_time,
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "quantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.L1", "quantity": 420.5, "uom": "KGM"}],
        "readPoint": {"id": "urn:epc:id:sgln:6901234.00001.0"},
        "tb:reportingDepartment": "MOFCOM",
        "tb:businessUSCC": SLAUGHTERHOUSE,
        "tb:regionCode": "330109",
        "tb:traceCode": trace_code,
        "tb:sourceBusiness": {"tb:uscc": SLAUGHTERHOUSE},
        "tb:destinationBusiness": {"tb:uscc": MARKET},
    }
    if certificates:
        event["tb:certificates"] = [{"tb:type": "animal-quarantine", "tb:number": n} for n in certificates]
    context = CaptureContext.of(
        reporter=reporter, capture_id=reporter, received_at_ms=0, context=[{"tb": "urn:tracebus:ns:trace:"}]
    )
    result = validate_event(event, context, now=datetime.now(UTC), future_skew=timedelta(minutes=5))
    assert isinstance(result, Emit), result
    return result.value
