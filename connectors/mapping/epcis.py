"""Mapper ``epcis``: the record already is an EPCIS 2.0 event (JSON binding), or a whole EPCIS document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import SourceRecordError
from connectors.mapping.base import DEFAULT_CONTEXT, Mapped, RecordMapper, register_mapper

EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
)


@register_mapper
class EpcisMapper(RecordMapper):
    name = "epcis"
    description = "records are EPCIS 2.0 events in the JSON binding (or EPCISDocuments); no mapping"

    def map(self, record: Mapping[str, Any]) -> Mapped:
        kind = record.get("type")
        context = record.get("@context")
        contexts = tuple(context) if isinstance(context, list) else (context,) if context else DEFAULT_CONTEXT
        if kind == "EPCISDocument":
            body = record.get("epcisBody")
            events = body.get("eventList") if isinstance(body, Mapping) else None
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise SourceRecordError("not-epcis", "EPCISDocument without an epcisBody.eventList of objects")
            return Mapped(tuple(events), contexts)
        if kind not in EVENT_TYPES:
            raise SourceRecordError("not-epcis", f"record type {kind!r} is neither an EPCIS event nor a document")
        event = {k: v for k, v in record.items() if k != "@context"}
        return Mapped((event,), contexts)
