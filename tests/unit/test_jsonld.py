"""Writing JSON-LD for delivery: prefixes keep the meaning each submitter gave them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.epcis import parse_document
from schemas.epcis.hash import event_hash
from schemas.epcis.jsonld import EPCIS_CONTEXT, render_events, trace_prefix
from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def _record(event: dict[str, Any], context: list[Any]) -> dict[str, Any]:
    ctx = CaptureContext.of(reporter="T", capture_id="c", received_at_ms=0, context=context)
    result = validate_event(event, ctx, now=NOW, future_skew=timedelta(minutes=5))
    assert isinstance(result, Emit), result
    return result.value


def _event(**extra: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-11-19T07:40:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sgtin:6901234.012345.1"],
        **extra,
    }


def test_trace_prefix_prefers_the_submitters_own_then_tb_when_free() -> None:
    assert trace_prefix({"trace": "urn:tracebus:ns:trace:"}) == "trace"
    assert trace_prefix({}) == "tb"
    assert trace_prefix({"tb": "https://other.example/ns/"}) == "tb1"
    assert trace_prefix({"tb": "https://other.example/ns/", "tb1": "https://x/"}) == "tb2"


def test_a_user_tb_prefix_bound_elsewhere_is_not_overwritten() -> None:
    context = [EPCIS_CONTEXT, {"tb": "https://other.example/ns/", "trace": "urn:tracebus:ns:trace:"}]
    submitted = _event(**{"tb:traceCode": "A-OTHER-NAMESPACE", "trace:traceCode": "T-TRACEBUS"})
    record = _record(submitted, context)
    contexts, events = render_events([record])
    assert events == [submitted]
    assert contexts == context
    assert event_hash(events[0], contexts) == record["event_id"]


def test_conflicting_bindings_across_records_keep_an_event_level_context() -> None:
    first_context = [EPCIS_CONTEXT, {"ex": "https://one.example/"}]
    second_context = [EPCIS_CONTEXT, {"ex": "https://two.example/"}]
    first = _record(_event(**{"ex:colour": "red"}), first_context)
    second = _record(_event(**{"ex:colour": "blue"}), second_context)
    contexts, events = render_events([first, second])
    assert contexts == first_context
    assert "@context" not in events[0]
    assert events[1]["@context"] == second_context
    # each event keeps the identity it was captured with
    assert event_hash(events[0], contexts) == first["event_id"]
    assert event_hash({k: v for k, v in events[1].items() if k != "@context"}, second_context) == second["event_id"]


def test_trace_extension_gets_tb_bound_only_when_used() -> None:
    plain = _record(_event(), [EPCIS_CONTEXT])
    traced = _record(_event(**{"tb:traceCode": "T1"}), [EPCIS_CONTEXT, {"tb": "urn:tracebus:ns:trace:"}])
    assert render_events([plain])[0] == [EPCIS_CONTEXT]
    contexts, events = render_events([plain, traced])
    assert contexts == [EPCIS_CONTEXT, {"tb": "urn:tracebus:ns:trace:"}]
    assert events[1]["tb:traceCode"] == "T1"


def test_one_certificate_in_xml_is_read_as_a_list_of_one() -> None:
    body = b"""<?xml version="1.0"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:tb="urn:tracebus:ns:trace:" schemaVersion="2.0"
    creationDate="2026-11-19T08:00:00+08:00">
  <EPCISBody><EventList><ObjectEvent>
    <eventTime>2026-11-19T07:40:00+08:00</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
    <epcList><epc>urn:epc:id:sgtin:6901234.012345.1</epc></epcList><action>OBSERVE</action>
    <tb:certificates><tb:type>animal-quarantine</tb:type><tb:number>3301202611200042</tb:number></tb:certificates>
  </ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>"""
    document = parse_document(body, "application/xml")
    record = _record(document.events[0], document.context)
    assert record["trace"]["certificates"] == [
        {"type": "ANIMAL_QUARANTINE", "number": "3301202611200042", "issuer": None}
    ]
