"""Step ``validate``: one EPCIS event (JSON binding dict) → canonical record, or why not.

Rejects only what is malformed. The same function runs synchronously at
capture (its failures are reported in the capture job) and, from the
connector framework on, in the stream for connector input (its failures are
dead-lettered).

Identity (provisional until the CBV 2.0 event hash): the submitted ``eventID``
when present, else ``tracebus:digest:sha256:<hex>`` over the event's JSON with
sorted keys. Trace key (provisional): see ``ops/topics.yaml``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import orjson

from streams.steps.base import Emit, Fail, StepResult
from streams.steps.vocabulary import bare_cbv

STEP = "validate"
EVENT_TYPES: Final = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
)
ACTIONS: Final = frozenset({"ADD", "OBSERVE", "DELETE"})
_OFFSET = re.compile(r"[+-](0\d:[0-5]\d|1[0-3]:[0-5]\d|14:00)")
_QUANTITY_LISTS: Final = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_EPC_LISTS: Final = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")


@dataclass(frozen=True, slots=True)
class CaptureContext:
    """What capture knows about the submission an event came in."""

    reporter: str
    capture_id: str
    received_at_ms: int
    context_json: str


def _fail(reason: str, message: str) -> Fail:
    return Fail(reason=reason, message=message, error_class="ValidationError")


def parse_event_time(text: Any, offset: str) -> datetime | None:
    if not isinstance(text, str) or "T" not in text:
        return None  # a date without a time is not an xsd:dateTime
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        sign = -1 if offset.startswith("-") else 1
        hours, minutes = offset[1:].split(":")
        moment = moment.replace(tzinfo=timezone(sign * timedelta(hours=int(hours), minutes=int(minutes))))
    return moment


def what_identifiers(event: Mapping[str, Any]) -> list[str]:
    """Every instance and class identifier of the what dimension, in a fixed order."""
    found: list[str] = []
    parent = event.get("parentID")
    if isinstance(parent, str):
        found.append(parent)
    for name in _EPC_LISTS:
        values = event.get(name)
        if isinstance(values, list):
            found.extend(v for v in values if isinstance(v, str))
    for name in _QUANTITY_LISTS:
        values = event.get(name)
        if isinstance(values, list):
            found.extend(q["epcClass"] for q in values if isinstance(q, dict) and isinstance(q.get("epcClass"), str))
    return found


def _quantity_problem(event: Mapping[str, Any]) -> str | None:
    for name in _QUANTITY_LISTS:
        values = event.get(name)
        if values is None:
            continue
        if not isinstance(values, list):
            return f"{name} must be a list"
        for index, element in enumerate(values):
            if not isinstance(element, dict) or not isinstance(element.get("epcClass"), str):
                return f"{name}[{index}] has no epcClass"
            quantity = element.get("quantity")
            # EPCIS allows a quantity element without quantity or unit
            if quantity is None:
                continue
            if isinstance(quantity, bool) or not isinstance(quantity, int | float):
                return f"{name}[{index}].quantity is not a number: {quantity!r}"
            if quantity < 0:
                return f"{name}[{index}].quantity is negative: {quantity}"
    return None


def _parties(event: Mapping[str, Any], list_name: str, item_name: str) -> list[dict[str, str]] | str:
    values = event.get(list_name)
    if values is None:
        return []
    if not isinstance(values, list):
        return f"{list_name} must be a list"
    parties: list[dict[str, str]] = []
    for index, element in enumerate(values):
        if not isinstance(element, dict) or not isinstance(element.get(item_name), str):
            return f"{list_name}[{index}] has no {item_name}"
        parties.append({"type": str(element.get("type", "")), "id": element[item_name]})
    return parties


def _place(event: Mapping[str, Any], name: str) -> str | None:
    value = event.get(name)
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def provisional_identity(event: Mapping[str, Any]) -> str:
    declared = event.get("eventID")
    if isinstance(declared, str) and declared:
        return declared
    digest = hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"tracebus:digest:sha256:{digest}"


def validate_event(
    event: Any, context: CaptureContext, *, now: datetime, future_skew: timedelta
) -> StepResult[dict[str, Any]]:
    if not isinstance(event, dict):
        return _fail("not-an-object", "event is not a JSON object")
    event_type = event.get("type")
    if event_type not in EVENT_TYPES:
        return _fail("unknown-event-type", f"type {event_type!r} is not one of {sorted(EVENT_TYPES)}")
    offset = event.get("eventTimeZoneOffset")
    if not isinstance(offset, str) or not _OFFSET.fullmatch(offset):
        return _fail("bad-time-zone-offset", f"eventTimeZoneOffset {offset!r} is not like +08:00")
    moment = parse_event_time(event.get("eventTime"), offset)
    if moment is None:
        return _fail("bad-event-time", f"eventTime {event.get('eventTime')!r} is not an ISO 8601 date-time")
    if moment > now + future_skew:
        return _fail(
            "event-time-in-future",
            f"eventTime {event['eventTime']} is more than {future_skew.total_seconds():.0f}s ahead of {now.isoformat()}",
        )
    action = event.get("action")
    if event_type == "TransformationEvent":
        if action is not None:
            return _fail("unexpected-action", "a TransformationEvent has no action")
        if not any(
            event.get(name) for name in ("inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList")
        ):
            return _fail("transformation-without-io", "a TransformationEvent needs inputs or outputs")
    elif action not in ACTIONS:
        return _fail("bad-action", f"action {action!r} is not one of ADD, OBSERVE, DELETE")
    problem = _quantity_problem(event)
    if problem is not None:
        return _fail("bad-quantity", problem)
    sources = _parties(event, "sourceList", "source")
    if isinstance(sources, str):
        return _fail("bad-source-list", sources)
    destinations = _parties(event, "destinationList", "destination")
    if isinstance(destinations, str):
        return _fail("bad-destination-list", destinations)
    identity = provisional_identity(event)
    epcs = what_identifiers(event)
    declared = event.get("eventID")
    return Emit(
        {
            "event_id": identity,
            "declared_event_id": declared if isinstance(declared, str) else None,
            "event_type": event_type,
            "event_time_ms": int(moment.timestamp() * 1000),
            "event_time_zone_offset": offset,
            "action": action,
            "biz_step": bare_cbv(event.get("bizStep"), "bizstep"),
            "disposition": bare_cbv(event.get("disposition"), "disp"),
            "read_point": _place(event, "readPoint"),
            "biz_location": _place(event, "bizLocation"),
            "epcs": epcs,
            "sources": sources,
            "destinations": destinations,
            "trace_key": epcs[0] if epcs else identity,
            "reporter": context.reporter,
            "capture_id": context.capture_id,
            "received_at_ms": context.received_at_ms,
            "event_json": orjson.dumps(event).decode(),
            "context_json": context.context_json,
        }
    )
