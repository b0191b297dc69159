"""The trace key rule, with hand-written expected keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event

CONTEXT = CaptureContext.of(
    reporter="r",
    capture_id="c",
    received_at_ms=0,
    context=["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"tb": "urn:tracebus:ns:trace:"}],
)
SSCC = "urn:epc:id:sscc:6901234.0000000019"
SGTIN = "urn:epc:id:sgtin:6901234.012345.1"
LOT = "urn:epc:class:lgtin:6901234.012345.L1"
LOT_DL = "https://id.gs1.org/01/06901234123456/10/L1"


def key(**fields: Any) -> str:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-20T06:30:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "epcList": [],
        **fields,
    }
    result = validate_event(event, CONTEXT, now=datetime(2026, 11, 28, tzinfo=UTC), future_skew=timedelta(0))
    assert isinstance(result, Emit), result
    return str(result.value["trace_key"])


def test_trace_code_wins_over_everything() -> None:
    assert (
        key(
            epcList=[SGTIN],
            quantityList=[{"epcClass": LOT}],
            **{"tb:traceCode": "330109202611200042", "tb:certificates": [{"tb:type": "origin", "tb:number": "C1"}]},
        )
        == "trace:330109202611200042"
    )


def test_shipper_outbound_batch_and_receiver_inbound_batch_meet_on_one_key() -> None:
    shipped = key(epcList=[SGTIN], **{"tb:outboundBatch": "TZ-20261120-07"})
    received = key(quantityList=[{"epcClass": LOT}], **{"tb:inboundBatch": "TZ-20261120-07"})
    assert shipped == received == "trace:TZ-20261120-07"


def test_private_trace_and_drug_code_uris_count_as_trace_codes() -> None:
    assert key(epcList=["urn:tracebus:id:drugcode:81000000000000012345", SGTIN]) == "trace:81000000000000012345"
    assert key(epcList=["urn:tracebus:id:tracecode:A1"], **{"tb:traceCode": "A1"}) == "trace:A1"


def test_a_lot_in_urn_or_digital_link_form_is_the_same_key() -> None:
    assert key(quantityList=[{"epcClass": LOT}], epcList=[SGTIN]) == f"lot:{LOT_DL}"
    assert key(quantityList=[{"epcClass": LOT_DL}]) == f"lot:{LOT_DL}"


def test_private_batch_uri_is_a_lot() -> None:
    batch = "urn:tracebus:class:batch:91350200776049653A:SL1"
    assert key(quantityList=[{"epcClass": batch}], epcList=[SGTIN]) == f"lot:{batch}"


def test_instances_in_any_order_give_the_smallest() -> None:
    one = key(epcList=["urn:epc:id:sgtin:6901234.012345.2", SGTIN])
    other = key(epcList=[SGTIN, "urn:epc:id:sgtin:6901234.012345.2"])
    assert one == other == "item:https://id.gs1.org/01/06901234123456/21/1"


def test_parent_id_is_an_instance() -> None:
    event_key = key(type="AggregationEvent", parentID=SSCC, childEPCs=[], action="ADD")
    assert event_key == "item:https://id.gs1.org/00/069012340000000191"  # check digit 1: (10 - 79 % 10) % 10


def test_certificates_when_nothing_else_is_named() -> None:
    assert (
        key(**{"tb:certificates": [{"tb:type": "origin", "tb:number": "Z9"}, {"tb:type": "origin", "tb:number": "B2"}]})
        == "cert:B2"
    )
    assert (
        key(bizTransactionList=[{"type": "desadv", "bizTransaction": "urn:tracebus:doc:voucher:PF-1"}]) == "cert:PF-1"
    )


@pytest.mark.parametrize("fields", [{}, {"bizTransactionList": [{"bizTransaction": "urn:epcglobal:cbv:bt:1:2"}]}])
def test_nothing_named_falls_back_to_the_identity(fields: dict[str, Any]) -> None:
    assert key(**fields).startswith("event:ni:///sha-256;")
