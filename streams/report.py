"""Reconciliation (对账): per source connector and day, what came in and what became of it.

A platform operator compares these figures with the platform's own daily
totals. Everything is counted from what is on the topics — never from a
process's memory — so any worker, or an operator's shell, gets the same answer:

* ``records``: native records read that day (distinct ``source_record`` of ``events.incoming``, plus records
  that could not be mapped);
* ``events``: events published (``incoming_event`` envelopes, repeats excluded);
* ``repeats``: envelopes published again with the same identity (a connector restarted with records in flight);
* ``rejected``: events the stream's validation refused, by reason (dead letters of stage ``validate``);
* ``unmappable``: native records the mapper refused, by reason (dead letters of stage ``source:<name>``);
* ``accepted``: ``events − rejected``;
* ``merged``: accepted events that joined another report's observation (``events.provenance``).

The day of an event is its business date: the China date (+08:00) of its event time, since platforms export
by business date. A record that could not be mapped has no event time: it is counted on the China date it was
dead-lettered.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import orjson

from schemas.codec import Deserializer
from schemas.errors import WireFormatError
from schemas.registry.base import SchemaRegistry
from streams.deadletter import read_context
from streams.kafka.read import read_topic
from streams.settings import KafkaSettings, Settings

CHINA = timezone(timedelta(hours=8))


@dataclass
class SourceDay:
    source: str
    records: int = 0
    events: int = 0
    repeats: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    unmappable: Counter[str] = field(default_factory=Counter)
    merged: int = 0

    @property
    def accepted(self) -> int:
        return self.events - sum(self.rejected.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "records": self.records,
            "events": self.events,
            "repeats": self.repeats,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "unmappable": dict(self.unmappable),
            "merged": self.merged,
        }


def _business_date(event_json: str) -> date | None:
    try:
        text = str(orjson.loads(event_json)["eventTime"])
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(CHINA).date()
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _ms_date(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, CHINA).date()


async def source_report(
    settings: Settings, kafka: KafkaSettings, registry: SchemaRegistry, day: date
) -> list[SourceDay]:
    """The reconciliation figures of ``day`` for every source that published on it, by source name."""
    deserializer = Deserializer(registry)
    rows: dict[str, SourceDay] = defaultdict(lambda: SourceDay(""))
    seen: set[tuple[str, str, str]] = set()
    records_of: dict[str, set[str]] = defaultdict(set)
    owner: dict[str, str] = {}  # source_record → source, for events of the day
    for message in await read_topic(kafka, settings.topic("events.incoming")):
        try:
            envelope = await deserializer.decode_any(message.value)
        except WireFormatError:
            continue  # counted where it was dead-lettered
        if _business_date(envelope["event_json"]) != day:
            continue
        source, record_id = envelope["source"], envelope["source_record"] or ""
        row = rows[source]
        identity = (source, record_id, envelope["event_json"])
        if identity in seen:
            row.repeats += 1
            continue
        seen.add(identity)
        row.events += 1
        records_of[source].add(record_id)
        owner[record_id] = source
    for message in await read_topic(kafka, settings.topic("deadletter")):
        context = read_context(message.headers)
        stage = context.get("stage", "")
        if stage.startswith("source:"):
            stamp = int(context.get("timestamp", "0") or 0)
            if _ms_date(stamp) == day:
                source = context.get("connector.name") or stage.removeprefix("source:")
                rows[source].unmappable[context.get("reason", "?")] += 1
        elif stage == "validate" and context.get("topic") == settings.topic("events.incoming"):
            try:
                envelope = await deserializer.decode_any(message.value)
            except WireFormatError:
                continue
            if _business_date(envelope["event_json"]) == day:
                rows[envelope["source"]].rejected[context.get("reason", "?")] += 1
    for message in await read_topic(kafka, settings.topic("events.provenance")):
        try:
            record = await deserializer.decode_any(message.value)
        except WireFormatError:
            continue
        source = owner.get(str(record.get("capture_id")))
        if source is not None:
            rows[source].merged += 1
    for source, row in rows.items():
        row.source = source
        row.records = len(records_of[source]) + sum(row.unmappable.values())
    return [rows[name] for name in sorted(rows)]
