"""streams.steps.validate: one test per rejection reason, then the canonical record of valid events."""

from __future__ import annotations

import calendar
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from streams.steps.base import Emit, Fail
from streams.steps.validate import CaptureContext, validate_event

NOW = datetime(2026, 11, 19, 12, 0, 0, tzinfo=UTC)
SKEW = timedelta(seconds=300)
CONTEXT = CaptureContext(
    reporter="浙江省市场监管局", capture_id="cap-1", received_at_ms=1_763_553_600_000, context_json='["x"]'
)
EPC = "urn:epc:id:sgtin:6901234.012345.1001"


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-19T07:40:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [EPC],
        "action": "OBSERVE",
        "bizStep": "shipping",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def transformation(**changes: Any) -> dict[str, Any]:
    return event(**{"type": "TransformationEvent", "action": None, "epcList": None, **changes})


def valid(value: Any) -> dict[str, Any]:
    result = validate_event(value, CONTEXT, now=NOW, future_skew=SKEW)
    assert isinstance(result, Emit), result
    record: dict[str, Any] = result.value
    return record


def rejected(value: Any) -> Fail:
    result = validate_event(value, CONTEXT, now=NOW, future_skew=SKEW)
    assert isinstance(result, Fail), result
    assert result.error_class == "ValidationError"
    return result


def utc_ms(*fields: int) -> int:
    return calendar.timegm((*fields, 0, 0, 0)) * 1000


# --- rejections ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason", "fragment"),
    [
        ([event()], "not-an-object", "event is not a JSON object"),
        ("ObjectEvent", "not-an-object", "event is not a JSON object"),
        (event(type="EPCISDocument"), "unknown-event-type", "type 'EPCISDocument' is not one of"),
        (event(type=None), "unknown-event-type", "type None is not one of"),
        (event(eventTimeZoneOffset="+8:00"), "bad-time-zone-offset", "eventTimeZoneOffset '+8:00' is not like +08:00"),
        (event(eventTimeZoneOffset="+15:00"), "bad-time-zone-offset", "'+15:00' is not like"),
        (event(eventTimeZoneOffset="Z"), "bad-time-zone-offset", "'Z' is not like"),
        (event(eventTimeZoneOffset=None), "bad-time-zone-offset", "None is not like"),
        (event(eventTime="yesterday"), "bad-event-time", "eventTime 'yesterday' is not an ISO 8601 date-time"),
        (event(eventTime=1763509200000), "bad-event-time", "eventTime 1763509200000 is not"),
        (event(eventTime=None), "bad-event-time", "eventTime None is not"),
        (transformation(action="ADD", inputEPCList=[EPC]), "unexpected-action", "a TransformationEvent has no action"),
        (transformation(), "transformation-without-io", "needs inputs or outputs"),
        (transformation(inputEPCList=[], outputQuantityList=[]), "transformation-without-io", "needs inputs"),
        (event(action="UPDATE"), "bad-action", "action 'UPDATE' is not one of ADD, OBSERVE, DELETE"),
        (event(action=None), "bad-action", "action None is not one of"),
        (event(action="add"), "bad-action", "action 'add'"),
    ],
)
def test_rejection_reason_and_message(value: Any, reason: str, fragment: str) -> None:
    failure = rejected(value)
    assert failure.reason == reason
    assert fragment in failure.message


def test_event_time_exactly_at_the_skew_boundary_is_accepted() -> None:
    record = valid(event(eventTime="2026-11-19T20:05:00+08:00"))  # NOW + 300 s
    assert record["event_time_ms"] == utc_ms(2026, 11, 19, 12, 5, 0)


def test_event_time_one_millisecond_past_the_skew_is_rejected() -> None:
    failure = rejected(event(eventTime="2026-11-19T12:05:00.001+00:00"))
    assert failure.reason == "event-time-in-future"
    assert "is more than 300s ahead of 2026-11-19T12:00:00+00:00" in failure.message
    zero = validate_event(event(eventTime="2026-11-19T12:00:01Z"), CONTEXT, now=NOW, future_skew=timedelta(0))
    assert isinstance(zero, Fail)
    assert zero.reason == "event-time-in-future"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"quantityList": [{"epcClass": EPC, "quantity": -1}]}, "quantityList[0].quantity is negative: -1"),
        ({"childQuantityList": [{"epcClass": EPC, "quantity": -0.5}]}, "childQuantityList[0].quantity is negative"),
        ({"quantityList": [{"epcClass": EPC, "quantity": "12"}]}, "quantityList[0].quantity is not a number: '12'"),
        ({"quantityList": [{"epcClass": EPC, "quantity": True}]}, "quantityList[0].quantity is not a number: True"),
        ({"quantityList": [{"epcClass": EPC, "quantity": 1}, {"quantity": 2}]}, "quantityList[1] has no epcClass"),
        ({"quantityList": ["urn:epc:class:lgtin:6901234.012345.L1"]}, "quantityList[0] has no epcClass"),
        ({"quantityList": {"epcClass": EPC}}, "quantityList must be a list"),
    ],
)
def test_bad_quantity(changes: dict[str, Any], fragment: str) -> None:
    failure = rejected(event(**changes))
    assert failure.reason == "bad-quantity"
    assert fragment in failure.message


def test_bad_quantity_in_transformation_output() -> None:
    failure = rejected(transformation(outputQuantityList=[{"epcClass": EPC, "quantity": -3}]))
    assert (failure.reason, failure.message) == ("bad-quantity", "outputQuantityList[0].quantity is negative: -3")


@pytest.mark.parametrize(
    ("list_name", "item", "reason"),
    [("sourceList", "source", "bad-source-list"), ("destinationList", "destination", "bad-destination-list")],
)
def test_bad_party_lists(list_name: str, item: str, reason: str) -> None:
    not_a_list = rejected(event(**{list_name: {item: "urn:epc:id:pgln:6901234.00000"}}))
    assert (not_a_list.reason, not_a_list.message) == (reason, f"{list_name} must be a list")
    missing = rejected(event(**{list_name: [{"type": "owning_party", item: "a"}, {"type": "owning_party"}]}))
    assert (missing.reason, missing.message) == (reason, f"{list_name}[1] has no {item}")
    not_a_string = rejected(event(**{list_name: [{"type": "owning_party", item: 7}]}))
    assert not_a_string.message == f"{list_name}[0] has no {item}"


# --- valid events -------------------------------------------------------------------------------


def test_quantity_without_uom_and_without_quantity_are_valid() -> None:
    classes = ["urn:epc:class:lgtin:6901234.012345.L1", "urn:epc:class:lgtin:6901234.012345.L2"]
    record = valid(
        event(epcList=None, quantityList=[{"epcClass": classes[0], "quantity": 12}, {"epcClass": classes[1]}])
    )
    assert record["epcs"] == classes


def test_zero_and_fractional_quantities_are_valid() -> None:
    valid(event(quantityList=[{"epcClass": EPC, "quantity": 0}, {"epcClass": EPC, "quantity": 2.5, "uom": "KGM"}]))


def test_event_time_with_its_own_offset() -> None:
    # 07:40 at +08:00 is 23:40 UTC the day before
    assert valid(event())["event_time_ms"] == utc_ms(2026, 11, 18, 23, 40, 0)
    assert valid(event(eventTime="2026-11-18T23:40:00.250Z"))["event_time_ms"] == utc_ms(2026, 11, 18, 23, 40, 0) + 250


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        ("+08:00", utc_ms(2026, 11, 17, 23, 40, 0)),
        ("-05:30", utc_ms(2026, 11, 18, 13, 10, 0)),
        ("+00:00", utc_ms(2026, 11, 18, 7, 40, 0)),
    ],
)
def test_event_time_without_offset_uses_event_time_zone_offset(offset: str, expected: int) -> None:
    record = valid(event(eventTime="2026-11-18T07:40:00", eventTimeZoneOffset=offset))
    assert record["event_time_ms"] == expected
    assert record["event_time_zone_offset"] == offset


def test_declared_event_id_is_the_identity() -> None:
    record = valid(event(eventID="ni:///sha-256;abc?ver=CBV2.0"))
    assert record["event_id"] == record["declared_event_id"] == "ni:///sha-256;abc?ver=CBV2.0"


SAMPLE: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2026-11-19T07:40:00+08:00",
    "eventTimeZoneOffset": "+08:00",
    "quantityList": [{"uom": "KGM", "quantity": 1200, "epcClass": "urn:epc:class:lgtin:6905555.000871.B3"}],
    "action": "ADD",
    "readPoint": {"id": "urn:epc:id:sgln:6905555.00003.0"},
    "demo:plot": "萧山区 3 号基地 B 地块",
    "demo:measure": {"z": 2.5, "a": [True, None]},
}


def test_identity_without_event_id_is_sha256_of_sorted_json() -> None:
    canonical = json.dumps(SAMPLE, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    # the hand-made canonical text agrees with orjson's sorted output for this sample
    assert canonical == orjson.dumps(SAMPLE, option=orjson.OPT_SORT_KEYS)
    record = valid(SAMPLE)
    assert record["event_id"] == "tracebus:digest:sha256:" + hashlib.sha256(canonical).hexdigest()
    assert record["declared_event_id"] is None
    assert record["trace_key"] == "urn:epc:class:lgtin:6905555.000871.B3"


def test_identity_does_not_depend_on_key_order() -> None:
    reordered = {k: SAMPLE[k] for k in reversed(list(SAMPLE))}
    reordered["demo:measure"] = {"a": [True, None], "z": 2.5}
    assert list(reordered) != list(SAMPLE)
    assert valid(reordered)["event_id"] == valid(SAMPLE)["event_id"]


def test_identity_changes_with_content() -> None:
    assert valid({**SAMPLE, "action": "OBSERVE"})["event_id"] != valid(SAMPLE)["event_id"]


def test_empty_event_id_is_not_an_identity() -> None:
    assert valid(event(eventID=""))["event_id"].startswith("tracebus:digest:sha256:")


FULL_WHAT: dict[str, Any] = {
    "parentID": "urn:epc:id:sscc:6901234.0000000019",
    "epcList": ["urn:epc:id:sgtin:6901234.012345.1"],
    "childEPCs": ["urn:epc:id:sgtin:6901234.012345.2"],
    "inputEPCList": ["urn:epc:id:sgtin:6901234.012345.3"],
    "outputEPCList": ["urn:epc:id:sgtin:6901234.012345.4"],
    "quantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.Q1"}],
    "childQuantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.Q2"}],
    "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.Q3"}],
    "outputQuantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.Q4"}],
}
WHAT_ORDER = list(FULL_WHAT)


def _first_identifier(what: dict[str, Any]) -> str:
    value = what[next(iter(what))]
    if isinstance(value, str):
        return value
    item = value[0]
    return item if isinstance(item, str) else str(item["epcClass"])


@pytest.mark.parametrize("dropped", range(len(WHAT_ORDER)))
def test_trace_key_is_the_first_identifier_in_priority_order(dropped: int) -> None:
    what = {name: FULL_WHAT[name] for name in WHAT_ORDER[dropped:]}
    record = valid(event(**{"epcList": None, **what}))
    assert record["trace_key"] == _first_identifier(what)


def test_epcs_lists_every_identifier_in_order() -> None:
    record = valid(event(**FULL_WHAT))
    assert record["epcs"] == [
        "urn:epc:id:sscc:6901234.0000000019",
        *(f"urn:epc:id:sgtin:6901234.012345.{n}" for n in range(1, 5)),
        *(f"urn:epc:class:lgtin:6901234.012345.Q{n}" for n in range(1, 5)),
    ]


def test_trace_key_without_identifiers_is_the_identity() -> None:
    record = valid(event(epcList=[], eventID="urn:uuid:1"))
    assert record["epcs"] == []
    assert record["trace_key"] == "urn:uuid:1"


@pytest.mark.parametrize(
    ("biz_step", "expected"),
    [
        ("urn:epcglobal:cbv:bizstep:shipping", "shipping"),
        ("https://ref.gs1.org/cbv/BizStep-shipping", "shipping"),
        ("cbv:BizStep-receiving", "receiving"),
        ("shipping", "shipping"),
        ("https://vocab.example.cn/bizstep/收购", "https://vocab.example.cn/bizstep/收购"),
        ("urn:example:bizstep:slaughtering", "urn:example:bizstep:slaughtering"),
        (None, None),
    ],
)
def test_biz_step_bare_name(biz_step: str | None, expected: str | None) -> None:
    assert valid(event(bizStep=biz_step))["biz_step"] == expected


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("urn:epcglobal:cbv:disp:in_transit", "in_transit"),
        ("https://ref.gs1.org/cbv/Disp-in_transit", "in_transit"),
        ("gs1:Disp-recalled", "recalled"),
        ("in_transit", "in_transit"),
        ("urn:epcglobal:cbv:bizstep:shipping", "urn:epcglobal:cbv:bizstep:shipping"),
    ],
)
def test_disposition_bare_name(disposition: str, expected: str) -> None:
    assert valid(event(disposition=disposition))["disposition"] == expected


def test_record_carries_places_parties_and_capture_context() -> None:
    unnamed = valid(event(readPoint="urn:epc:id:sgln:6901234.00001.0", bizLocation={"name": "x"}))
    assert (unnamed["read_point"], unnamed["biz_location"]) == (None, None)
    source = {"type": "owning_party", "source": "urn:epc:id:pgln:6901234.00000"}
    submitted = event(
        readPoint={"id": "urn:epc:id:sgln:6901234.00001.0"},
        bizLocation={"id": "urn:epc:id:sgln:6901234.00002.0"},
        sourceList=[source],
        destinationList=[{"destination": "urn:epc:id:pgln:6905555.00000"}],
    )
    record = valid(submitted)
    assert record["read_point"] == "urn:epc:id:sgln:6901234.00001.0"
    assert record["biz_location"] == "urn:epc:id:sgln:6901234.00002.0"
    assert record["sources"] == [{"type": "owning_party", "id": "urn:epc:id:pgln:6901234.00000"}]
    assert record["destinations"] == [{"type": "", "id": "urn:epc:id:pgln:6905555.00000"}]
    assert (record["reporter"], record["capture_id"]) == ("浙江省市场监管局", "cap-1")
    assert (record["received_at_ms"], record["context_json"]) == (1_763_553_600_000, '["x"]')
    assert (record["event_type"], record["action"]) == ("ObjectEvent", "OBSERVE")
    assert json.loads(record["event_json"]) == submitted


def test_valid_transformation_has_no_action() -> None:
    record = valid(transformation(inputEPCList=[EPC], outputQuantityList=[{"epcClass": EPC, "quantity": 1}]))
    assert (record["event_type"], record["action"], record["epcs"]) == ("TransformationEvent", None, [EPC, EPC])


@pytest.mark.parametrize("offset", ["+08:00\n", "+14:59", "+15:00", "08:00"])
def test_offsets_outside_the_xsd_range_or_form_are_refused(offset: str) -> None:
    assert rejected(event(eventTimeZoneOffset=offset)).reason == "bad-time-zone-offset"


def test_a_date_without_time_is_not_an_event_time() -> None:
    assert rejected(event(eventTime="2024-05-01")).reason == "bad-event-time"
