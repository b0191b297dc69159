"""streams.steps.validate: one test per rejection reason, then the canonical ``trace_event`` v1 record of valid events.

The identity is checked against the CBV 2.0 reference hashes of the shared vectors, read in
place from the workplace's ``shared/vectors`` folder (never copied); those tests skip when it
is absent. A hand-written pre-hash string checks one event without the vectors.
"""

from __future__ import annotations

import calendar
import copy
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.epcis import parse_document
from schemas.epcis.convert import from_record_event
from schemas.epcis.hash import event_hash
from schemas.epcis.trace_extension import TRACE_NAMESPACE
from streams.steps.base import Emit, Fail
from streams.steps.route import RouteView
from streams.steps.validate import STALE_EVENT_ID, CaptureContext, validate_event
from tests.vectors import require_vectors

NOW = datetime(2026, 11, 19, 12, 0, 0, tzinfo=UTC)
SKEW = timedelta(seconds=300)
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
DEMO = "https://demo.tracebus.invalid/ns/"
SUBMITTED_CONTEXT: list[Any] = [EPCIS_CONTEXT, {"demo": DEMO}, {"tb": TRACE_NAMESPACE}]
CONTEXT = CaptureContext.of(
    reporter="浙江省市场监管局", capture_id="cap-1", received_at_ms=1_763_553_600_000, context=SUBMITTED_CONTEXT
)
EPC = "urn:epc:id:sgtin:6901234.012345.1001"
HASH_ID = re.compile(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0")


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


def valid(value: Any, context: CaptureContext = CONTEXT) -> dict[str, Any]:
    result = validate_event(value, context, now=NOW, future_skew=SKEW)
    assert isinstance(result, Emit), result
    record: dict[str, Any] = result.value
    return record


def rejected(value: Any, context: CaptureContext = CONTEXT) -> Fail:
    result = validate_event(value, context, now=NOW, future_skew=SKEW)
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
    assert record["event"]["event_time_ms"] == utc_ms(2026, 11, 19, 12, 5, 0)
    assert record["event"]["event_time"] == "2026-11-19T20:05:00+08:00"


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
    assert record["event"]["epc_list"] is None
    assert record["event"]["quantity_list"] == [
        {"epc_class": classes[0], "quantity": 12.0, "uom": None},
        {"epc_class": classes[1], "quantity": None, "uom": None},
    ]
    assert list(RouteView.of(record).identifiers) == classes
    assert record["trace_key"] == "lot:https://id.gs1.org/01/06901234123456/10/L1"  # the smaller lot


def test_zero_and_fractional_quantities_are_valid() -> None:
    record = valid(
        event(quantityList=[{"epcClass": EPC, "quantity": 0}, {"epcClass": EPC, "quantity": 2.5, "uom": "KGM"}])
    )
    assert record["event"]["quantity_list"] == [
        {"epc_class": EPC, "quantity": 0.0, "uom": None},
        {"epc_class": EPC, "quantity": 2.5, "uom": "KGM"},
    ]


def test_event_time_with_its_own_offset() -> None:
    # 07:40 at +08:00 is 23:40 UTC the day before
    assert valid(event())["event"]["event_time_ms"] == utc_ms(2026, 11, 18, 23, 40, 0)
    quarter = valid(event(eventTime="2026-11-18T23:40:00.250Z"))["event"]
    assert quarter["event_time_ms"] == utc_ms(2026, 11, 18, 23, 40, 0) + 250
    assert quarter["event_time"] == "2026-11-18T23:40:00.250Z"  # as submitted


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
    assert record["event"]["event_time_ms"] == expected
    assert record["event"]["event_time_zone_offset"] == offset
    assert record["event"]["event_time"] == "2026-11-18T07:40:00"


def test_declared_event_id_is_kept_but_the_identity_is_the_recomputed_hash() -> None:
    record = valid(event(eventID="ni:///sha-256;abc?ver=CBV2.0"))
    assert record["event"]["event_id"] == "ni:///sha-256;abc?ver=CBV2.0"
    assert record["event_id"] == valid(event())["event_id"]
    assert HASH_ID.fullmatch(record["event_id"])
    assert record["flags"] == [STALE_EVENT_ID]


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


# CBV 2.0 pre-hash of event(), written out by hand from the standard's rules: fields in canonical
# order, the time in UTC with milliseconds, the SGTIN as a GS1 Digital Link URI (GTIN 0690123412345
# + check digit 6), the bare CBV term as its https://ref.gs1.org/cbv/ URI.
EVENT_PREHASH = (
    "eventType=ObjectEvent"
    "eventTime=2026-11-18T23:40:00.000Z"
    "eventTimeZoneOffset=+08:00"
    "epcListepc=https://id.gs1.org/01/06901234123456/21/1001"
    "action=OBSERVE"
    "bizStep=https://ref.gs1.org/cbv/BizStep-shipping"
)


def test_identity_is_the_cbv_hash_of_a_hand_written_pre_hash() -> None:
    expected = "ni:///sha-256;" + hashlib.sha256(EVENT_PREHASH.encode()).hexdigest() + "?ver=CBV2.0"
    record = valid(event())
    assert record["event_id"] == expected
    assert record["flags"] == []


def test_identity_without_event_id_is_a_stable_cbv_hash() -> None:
    record = valid(SAMPLE)
    assert HASH_ID.fullmatch(record["event_id"])
    assert record["event_id"] == event_hash(SAMPLE, SUBMITTED_CONTEXT)
    assert valid(copy.deepcopy(SAMPLE))["event_id"] == record["event_id"]  # the same on every call
    assert record["event"]["event_id"] is None
    assert record["flags"] == []
    assert record["trace_key"] == "lot:https://id.gs1.org/01/06905555008713/10/B3"


def test_identity_does_not_depend_on_key_order() -> None:
    reordered = {k: SAMPLE[k] for k in reversed(list(SAMPLE))}
    reordered["demo:measure"] = {"a": [True, None], "z": 2.5}
    reordered["quantityList"] = [{k: v for k, v in reversed(SAMPLE["quantityList"][0].items())}]
    assert list(reordered) != list(SAMPLE)
    assert valid(reordered)["event_id"] == valid(SAMPLE)["event_id"]


@pytest.mark.parametrize(
    ("biz_step", "disposition"),
    [
        ("urn:epcglobal:cbv:bizstep:shipping", "urn:epcglobal:cbv:disp:in_transit"),
        ("https://ref.gs1.org/cbv/BizStep-shipping", "https://ref.gs1.org/cbv/Disp-in_transit"),
        ("cbv:BizStep-shipping", "cbv:Disp-in_transit"),
    ],
)
def test_identity_does_not_depend_on_the_cbv_spelling(biz_step: str, disposition: str) -> None:
    bare = valid(event(disposition="in_transit"))["event_id"]
    assert valid(event(bizStep=biz_step, disposition=disposition))["event_id"] == bare


def test_identity_leaves_out_event_id_and_record_time() -> None:
    bare = valid(event())["event_id"]
    record = valid(event(eventID="urn:uuid:6f0b6a1e-0000-4000-8000-000000000001", recordTime="2026-11-19T08:00:00Z"))
    assert record["event_id"] == bare
    assert record["flags"] == []  # only an ni: eventID can be stale
    assert (record["event"]["event_id"], record["event"]["record_time"]) == (
        "urn:uuid:6f0b6a1e-0000-4000-8000-000000000001",
        "2026-11-19T08:00:00Z",
    )


def test_identity_changes_with_content() -> None:
    assert valid({**SAMPLE, "action": "OBSERVE"})["event_id"] != valid(SAMPLE)["event_id"]
    assert valid({**SAMPLE, "demo:plot": "萧山区 4 号基地"})["event_id"] != valid(SAMPLE)["event_id"]


def test_empty_event_id_is_not_an_identity() -> None:
    record = valid(event(eventID=""))
    assert record["event_id"] == valid(event())["event_id"]
    assert HASH_ID.fullmatch(record["event_id"])
    assert (record["event"]["event_id"], record["flags"]) == ("", [])


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


def test_record_carries_every_identifier_in_its_field_and_in_order() -> None:
    record = valid(event(**FULL_WHAT))
    what = record["event"]
    assert what["parent_id"] == "urn:epc:id:sscc:6901234.0000000019"
    for field, n in (("epc_list", 1), ("child_epcs", 2), ("input_epc_list", 3), ("output_epc_list", 4)):
        assert what[field] == [f"urn:epc:id:sgtin:6901234.012345.{n}"]
    for field, n in (("quantity_list", 1), ("child_quantity_list", 2), ("input_quantity_list", 3)):
        assert what[field] == [{"epc_class": f"urn:epc:class:lgtin:6901234.012345.Q{n}", "quantity": None, "uom": None}]
    assert what["output_quantity_list"] == [
        {"epc_class": "urn:epc:class:lgtin:6901234.012345.Q4", "quantity": None, "uom": None}
    ]
    assert list(RouteView.of(record).identifiers) == [
        "urn:epc:id:sscc:6901234.0000000019",
        *(f"urn:epc:id:sgtin:6901234.012345.{n}" for n in range(1, 5)),
        *(f"urn:epc:class:lgtin:6901234.012345.Q{n}" for n in range(1, 5)),
    ]


def test_trace_key_without_identifiers_is_the_identity() -> None:
    record = valid(event(epcList=[], eventID="urn:uuid:1"))
    assert record["event"]["epc_list"] == []
    assert RouteView.of(record).identifiers == ()
    assert record["trace_key"] == "event:" + record["event_id"]
    assert HASH_ID.fullmatch(record["event_id"])


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
def test_biz_step_is_kept_as_submitted_and_routed_by_bare_name(biz_step: str | None, expected: str | None) -> None:
    record = valid(event(bizStep=biz_step))
    assert record["event"]["biz_step"] == biz_step
    assert RouteView.of(record).biz_step == expected


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
def test_disposition_is_kept_as_submitted_and_routed_by_bare_name(disposition: str, expected: str) -> None:
    record = valid(event(disposition=disposition))
    assert record["event"]["disposition"] == disposition
    assert RouteView.of(record).disposition == expected


def test_record_carries_places_parties_and_capture_context() -> None:
    source = {"type": "owning_party", "source": "urn:epc:id:pgln:6901234.00000"}
    submitted = event(
        readPoint={"id": "urn:epc:id:sgln:6901234.00001.0", "demo:gate": "3 号门"},
        bizLocation={"id": "urn:epc:id:sgln:6901234.00002.0"},
        sourceList=[source],
        destinationList=[{"type": "location", "destination": "urn:epc:id:sgln:6905555.00000.0"}],
        bizTransactionList=[{"bizTransaction": "urn:epcglobal:cbv:bt:6901234000001:采购-1"}],
    )
    record = valid(submitted)
    what = record["event"]
    assert what["read_point"] == {"id": "urn:epc:id:sgln:6901234.00001.0", "extensions": {"demo:gate": '"3 号门"'}}
    assert what["biz_location"] == {"id": "urn:epc:id:sgln:6901234.00002.0", "extensions": {}}
    assert what["source_list"] == [{"type": "owning_party", "id": "urn:epc:id:pgln:6901234.00000"}]
    assert what["destination_list"] == [{"type": "location", "id": "urn:epc:id:sgln:6905555.00000.0"}]
    assert what["biz_transaction_list"] == [{"type": None, "value": "urn:epcglobal:cbv:bt:6901234000001:采购-1"}]
    assert RouteView.of(record).places == ("urn:epc:id:sgln:6901234.00001.0", "urn:epc:id:sgln:6901234.00002.0")
    assert (record["reporter"], record["capture_id"]) == ("浙江省市场监管局", "cap-1")
    assert record["received_at_ms"] == 1_763_553_600_000
    assert orjson.loads(record["context_json"]) == SUBMITTED_CONTEXT
    assert (what["type"], what["action"]) == ("ObjectEvent", "OBSERVE")
    assert record["trace"] is None
    assert from_record_event(what, record["trace"]) == submitted


def test_record_has_exactly_the_contract_fields() -> None:
    record = valid(event())
    assert list(record) == [
        "event_id",
        "trace_key",
        "reporter",
        "capture_id",
        "received_at_ms",
        "context_json",
        "flags",
        "event",
        "trace",
        "enrichment",
        "observation_id",
        "provenance",
        "linked_observations",
    ]


def test_extensions_are_kept_by_compact_name_as_json_text() -> None:
    record = valid(SAMPLE)
    assert record["event"]["extensions"] == {
        "demo:plot": '"萧山区 3 号基地 B 地块"',
        "demo:measure": '{"z":2.5,"a":[true,null]}',
    }
    assert from_record_event(record["event"], record["trace"]) == SAMPLE


def test_valid_transformation_has_no_action() -> None:
    record = valid(transformation(inputEPCList=[EPC], outputQuantityList=[{"epcClass": EPC, "quantity": 1}]))
    what = record["event"]
    assert (what["type"], what["action"]) == ("TransformationEvent", None)
    assert what["input_epc_list"] == [EPC]
    assert what["output_quantity_list"] == [{"epc_class": EPC, "quantity": 1.0, "uom": None}]
    assert list(RouteView.of(record).identifiers) == [EPC, EPC]


@pytest.mark.parametrize("offset", ["+08:00\n", "+14:59", "+15:00", "08:00"])
def test_offsets_outside_the_xsd_range_or_form_are_refused(offset: str) -> None:
    assert rejected(event(eventTimeZoneOffset=offset)).reason == "bad-time-zone-offset"


def test_a_date_without_time_is_not_an_event_time() -> None:
    assert rejected(event(eventTime="2024-05-01")).reason == "bad-event-time"


# --- shapes the v1 record cannot carry ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (
            {"sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": "-18.5", "uom": "CEL"}]}]},
            "sensorElementList[0].sensorReport[0].value: must be a number, got '-18.5'",
        ),
        (
            {"sensorElementList": [{"sensorReport": [{"type": "Temperature", "booleanValue": "true"}]}]},
            "sensorElementList[0].sensorReport[0].booleanValue: must be true or false",
        ),
        ({"sensorElementList": {"sensorReport": []}}, "sensorElementList: must be a list"),
        ({"tb:colour": "red"}, "unknown traceability extension fields: ['tb:colour']"),
        ({"tb:reportingDepartment": "商务部"}, "tb:reportingDepartment '商务部' is not one of"),
        (
            {"tb:certificates": [{"tb:type": "HALAL", "tb:number": "1"}]},
            "tb:certificates[0].type 'HALAL' is not one of",
        ),
        (
            {"tb:certificates": [{"tb:type": "origin", "tb:number": ""}]},
            "tb:certificates[0].number must be a non-empty",
        ),
        (
            {"tb:sourceBusiness": {"tb:uscc": "91350200776049653A", "tb:phone": "1"}},
            "tb:sourceBusiness has field 'tb:phone'",
        ),
        ({"tb:traceCode": 33010920261119}, "tb:traceCode must be a string"),
        (
            {"quantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.L1", "quantity": 1, "lot": "L1"}]},
            "quantityList[0]: unknown fields ['lot']",
        ),
        ({"quantityList": [{"epcClass": EPC, "quantity": 1, "uom": 7}]}, "quantityList[0].uom: must be a string"),
        ({"readPoint": "urn:epc:id:sgln:6901234.00001.0"}, "readPoint: must be an object"),
        ({"bizLocation": {"name": "x"}}, "bizLocation.id: must be a string"),
        (
            {"destinationList": [{"destination": "urn:epc:id:pgln:6905555.00000"}]},
            "destinationList[0]: needs a string destination and a type",
        ),
        (
            {"sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:6901234.00000", "x": 1}]},
            "sourceList[0]: unknown fields ['x']",
        ),
        ({"bizTransactionList": [{"type": "po"}]}, "bizTransactionList[0]: needs a string bizTransaction"),
        ({"eventID": 7}, "eventID: must be a string, got int"),
        ({"epcList": [EPC, 7]}, "epcList: must be a list of strings"),
        ({"certificationInfo": {"id": "urn:cert:1"}}, "certificationInfo: must be a list of strings"),
        ({"errorDeclaration": {"reason": "incorrect_data"}}, "errorDeclaration.declarationTime: must be a string"),
        ({"persistentDisposition": {"set": "active"}}, "persistentDisposition.set: must be a list of strings"),
        ({"ilmd": ["lot"]}, "ilmd: must be an object"),
        ({"quantity": 5}, "quantity: is not an EPCIS 2.0 event field"),
    ],
)
def test_bad_shape(changes: dict[str, Any], fragment: str) -> None:
    failure = rejected(event(**changes))
    assert failure.reason == "bad-shape"
    assert fragment in failure.message


def test_a_tb_name_outside_the_trace_namespace_is_an_ordinary_extension() -> None:
    elsewhere = CaptureContext.of(
        reporter="r", capture_id="c", received_at_ms=0, context=[EPCIS_CONTEXT, {"tb": "https://other.example/"}]
    )
    record = valid(event(**{"tb:colour": "red"}), elsewhere)
    assert record["trace"] is None
    assert record["event"]["extensions"] == {"tb:colour": '"red"'}


# --- the traceability extension -----------------------------------------------------------------

TRACE_FIELDS: dict[str, Any] = {
    "tb:reportingDepartment": "MARA",
    "tb:reportingPlatform": "浙江省农产品质量安全追溯平台",
    "tb:productCategory": "0101",
    "tb:businessUSCC": "91350200776049653A",
    "tb:businessRole": "slaughterhouse",
    "tb:regionCode": "330109",
    "tb:inboundBatch": "IN-20261119-01",
    "tb:outboundBatch": "OUT-20261119-01",
    "tb:traceCode": "33010920261119000187",
    "tb:certificates": [
        {"tb:type": "animal-quarantine", "tb:number": "3301-2026-000187", "tb:issuer": "萧山区动物卫生监督所"},
        {"tb:type": "test-report", "tb:number": "TR-9"},
    ],
    "tb:sourceBusiness": {"tb:uscc": "92330109MA2B00043H", "tb:name": "萧山区某生猪养殖场"},
    "tb:destinationBusiness": {"tb:name": "杭州某农贸市场"},
}
TRACE_RECORD: dict[str, Any] = {
    "reporting_department": "MARA",
    "reporting_platform": "浙江省农产品质量安全追溯平台",
    "product_category": "0101",
    "business_uscc": "91350200776049653A",
    "business_role": "slaughterhouse",
    "region_code": "330109",
    "inbound_batch": "IN-20261119-01",
    "outbound_batch": "OUT-20261119-01",
    "trace_code": "33010920261119000187",
    "certificates": [
        {"type": "ANIMAL_QUARANTINE", "number": "3301-2026-000187", "issuer": "萧山区动物卫生监督所"},
        {"type": "TEST_REPORT", "number": "TR-9", "issuer": None},
    ],
    "source_business": {"uscc": "92330109MA2B00043H", "name": "萧山区某生猪养殖场"},
    "destination_business": {"uscc": None, "name": "杭州某农贸市场"},
}


def test_trace_extension_goes_to_the_trace_part_and_counts_in_the_identity() -> None:
    submitted = event(**TRACE_FIELDS, **{"demo:plot": "萧山区 3 号基地"})
    record = valid(submitted)
    assert record["trace"] == TRACE_RECORD
    assert record["event"]["extensions"] == {"demo:plot": '"萧山区 3 号基地"'}  # no tb: field left here
    assert record["event_id"] == event_hash(submitted, SUBMITTED_CONTEXT)
    assert record["event_id"] != valid(event(**{"demo:plot": "萧山区 3 号基地"}))["event_id"]
    assert from_record_event(record["event"], record["trace"]) == submitted


def test_trace_extension_under_another_prefix_is_recognised_by_its_namespace() -> None:
    context = CaptureContext.of(
        reporter="r", capture_id="c", received_at_ms=0, context=[EPCIS_CONTEXT, {"trace": TRACE_NAMESPACE}]
    )
    submitted = event(**json.loads(json.dumps(TRACE_FIELDS).replace('"tb:', '"trace:')))
    record = valid(submitted, context)
    assert record["trace"] == TRACE_RECORD
    assert record["event"]["extensions"] == {}
    # written back under either prefix, the same event
    assert from_record_event(record["event"], record["trace"], trace_prefix="trace") == submitted
    assert from_record_event(record["event"], record["trace"]) == event(**TRACE_FIELDS)


# --- identity against the CBV 2.0 reference vectors and stale eventIDs -------------------------


@pytest.fixture
def vectors() -> Path:
    return require_vectors()


def _submitted(path: Path) -> tuple[list[dict[str, Any]], CaptureContext]:
    content_type = "application/xml" if path.suffix == ".xml" else "application/ld+json"
    document = parse_document(path.read_bytes(), content_type)
    context = CaptureContext.of(
        reporter="gs1", capture_id="vectors", received_at_ms=1_763_553_600_000, context=document.context
    )
    return document.events, context


def test_identity_is_the_reference_hash_of_every_vector_event(vectors: Path) -> None:
    folder = vectors / "epcis-event-hash"
    checked = 0
    for path in sorted([*folder.glob("*.jsonld"), *folder.glob("*.xml")]):
        expected = [line for line in (folder / f"{path.stem}.hashes").read_text(encoding="utf-8").splitlines() if line]
        events, context = _submitted(path)
        assert len(events) == len(expected), path.name
        for index, (submitted, identity) in enumerate(zip(events, expected, strict=True)):
            record = valid(submitted, context)
            assert record["event_id"] == identity, f"{path.name}#{index}"
            checked += 1
    assert checked >= 40


def test_stale_ni_event_ids_of_the_gs1_example_are_flagged(vectors: Path) -> None:
    events, context = _submitted(vectors / "epcis-examples" / "Example_9.6.1-ObjectEvent.jsonld")
    assert len(events) == 2
    for submitted in events:
        declared = submitted["eventID"]
        assert declared.startswith("ni:///sha-256;")
        record = valid(submitted, context)
        assert record["flags"] == [STALE_EVENT_ID]
        assert HASH_ID.fullmatch(record["event_id"])
        assert record["event_id"] != declared
        assert record["event_id"] == event_hash(submitted, context.context)
        assert record["event"]["event_id"] == declared  # kept as submitted
        # with the eventID corrected, the same event is not flagged and keeps its identity
        corrected = valid({**submitted, "eventID": record["event_id"]}, context)
        assert (corrected["event_id"], corrected["flags"]) == (record["event_id"], [])


def test_a_correct_ni_event_id_is_not_flagged() -> None:
    identity = valid(event())["event_id"]
    record = valid(event(eventID=identity))
    assert (record["event_id"], record["flags"], record["event"]["event_id"]) == (identity, [], identity)


def test_only_an_ni_event_id_can_be_stale() -> None:
    record = valid(event(eventID="ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"))
    assert record["flags"] == [STALE_EVENT_ID]
    assert valid(event(eventID="urn:uuid:00000000-0000-4000-8000-000000000000"))["flags"] == []
