"""EPCIS 2.0 JSON-LD out of canonical records: a whole ``EPCISDocument``, or one event that stands alone.

Both render each event as it was submitted (:func:`schemas.epcis.jsonld.render_events`),
so its CBV 2.0 hash — the record's ``event_id`` — can be recomputed from what
was written. Neither adds an ``eventID``: a reader that needs the identity
recomputes the hash or reads it from the sink's own field or header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from schemas.epcis.jsonld import render_events


def epcis_timestamp(moment: datetime) -> str:
    """``2026-11-20T06:30:00.000Z``: UTC, milliseconds, as EPCIS documents write ``creationDate``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epcis_document(records: Sequence[Mapping[str, Any]], *, created: datetime) -> dict[str, Any]:
    """An EPCIS 2.0 ``EPCISDocument`` holding the events of ``records``, in order."""
    contexts, events = render_events(records)
    return {
        "@context": contexts,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": epcis_timestamp(created),
        "epcisBody": {"eventList": events},
    }


def standalone_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """One event as a JSON-LD object with its own ``@context`` (for a JSON line or a Kafka value)."""
    contexts, (event,) = render_events([record])
    if "@context" in event:  # render_events only does this on conflicts, never for a single record
        return event
    return {"@context": contexts, **event}
