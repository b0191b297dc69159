"""Step ``validate``: one EPCIS event (JSON binding dict) → canonical ``trace_event`` record, or why not.

Rejects only what is malformed. The same function runs synchronously at
capture (its failures are reported in the capture job) and, from the
connector framework on, in the stream for connector input (its failures are
dead-lettered).

Identity: the CBV 2.0 event hash of the event exactly as submitted, before
anything the bus adds. A submitted ``eventID`` is kept in the event; when it
is an ``ni:`` hash that differs from the recomputed one (GS1's own examples
carry stale ones), the event is accepted under the recomputed hash and
flagged ``stale-event-id``. Trace key: :mod:`streams.steps.trace_key`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import orjson

from schemas.epcis.convert import EventShapeError, prefix_map, to_record_event
from schemas.epcis.hash import event_hash
from schemas.epcis.trace_extension import TraceExtensionError
from schemas.identifiers.epc import canonical_epc, urn_to_digital_link
from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.private_uri import PREFIX as PRIVATE_PREFIX
from schemas.identifiers.private_uri import parse as parse_private_uri
from schemas.identifiers.uscc import validate_uscc
from streams.steps.base import Emit, Fail, StepResult
from streams.steps.trace_key import trace_key

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
    """What capture knows about the submission an event came in (built once per document)."""

    reporter: str
    capture_id: str
    received_at_ms: int
    context: Sequence[Any]
    context_json: str
    prefixes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, *, reporter: str, capture_id: str, received_at_ms: int, context: Sequence[Any]) -> CaptureContext:
        return cls(
            reporter=reporter,
            capture_id=capture_id,
            received_at_ms=received_at_ms,
            context=context,
            context_json=orjson.dumps(list(context)).decode(),
            prefixes=prefix_map(context),
        )


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


def _party_problem(event: Mapping[str, Any], list_name: str, item_name: str) -> str | None:
    values = event.get(list_name)
    if values is None:
        return None
    if not isinstance(values, list):
        return f"{list_name} must be a list"
    for index, element in enumerate(values):
        if not isinstance(element, dict) or not isinstance(element.get(item_name), str):
            return f"{list_name}[{index}] has no {item_name}"
    return None


STALE_EVENT_ID: Final = "stale-event-id"
_WHAT_LISTS: Final = ("epc_list", "child_epcs", "input_epc_list", "output_epc_list")
_WHAT_QUANTITIES: Final = ("quantity_list", "child_quantity_list", "input_quantity_list", "output_quantity_list")


def _what(event: Mapping[str, Any]) -> list[str]:
    found = [event["parent_id"]] if event["parent_id"] is not None else []
    for name in _WHAT_LISTS:
        found.extend(event[name] or ())
    for name in _WHAT_QUANTITIES:
        found.extend(q["epc_class"] for q in event[name] or ())
    return found


def identifier_problem(event: Mapping[str, Any], trace: Mapping[str, Any] | None) -> str | None:
    """Why an identifier the event names is malformed (None when all pass).

    Checked: EPC URNs of the what dimension (syntax and GS1 check digits where the URN
    carries them), tracebus private URIs (canonical form), and the traceability
    extension's USCCs and GB/T 2260 region code format. Whether a region code exists at the
    event date, or a business is known, is reference data: ``enrich`` flags it, never rejects.
    """
    for identifier in _what(event):
        if identifier.startswith(("urn:epc:id:", "urn:epc:class:")) and canonical_epc(identifier) == identifier:
            try:
                urn_to_digital_link(identifier)
            except IdentifierError as exc:
                return f"{identifier}: {exc}"
        elif identifier.startswith(PRIVATE_PREFIX):
            try:
                parse_private_uri(identifier)
            except IdentifierError as exc:
                return f"{identifier}: {exc}"
    if trace is None:
        return None
    usccs = [("tb:businessUSCC", trace["business_uscc"])] + [
        (f"tb:{side}Business", (trace[f"{side}_business"] or {}).get("uscc")) for side in ("source", "destination")
    ]
    for field_name, uscc in usccs:
        if uscc is not None:
            try:
                validate_uscc(uscc)
            except IdentifierError as exc:
                return f"{field_name}: {exc}"
    region = trace["region_code"]
    if region is not None and not (len(region) == 6 and region.isascii() and region.isdigit()):
        return f"tb:regionCode: {region!r} is not a 6-digit GB/T 2260 code"
    return None


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
    for list_name, item_name in (("sourceList", "source"), ("destinationList", "destination")):
        problem = _party_problem(event, list_name, item_name)
        if problem is not None:
            return _fail(f"bad-{item_name}-list", problem)
    try:
        record_event, trace = to_record_event(event, context.prefixes)
    except (EventShapeError, TraceExtensionError) as exc:
        return _fail("bad-shape", str(exc))
    problem = identifier_problem(record_event, trace)
    if problem is not None:
        return _fail("bad-identifier", problem)
    identity = event_hash(event, context.context)
    declared = event.get("eventID")
    flags = (
        [STALE_EVENT_ID] if isinstance(declared, str) and declared.startswith("ni:") and declared != identity else []
    )
    return Emit(
        {
            "event_id": identity,
            "trace_key": trace_key(record_event, trace, identity),
            "reporter": context.reporter,
            "capture_id": context.capture_id,
            "received_at_ms": context.received_at_ms,
            "context_json": context.context_json,
            "flags": flags,
            "event": record_event,
            "trace": trace,
            "enrichment": None,
            "observation_id": None,
            "provenance": [],
            "linked_observations": [],
        }
    )
