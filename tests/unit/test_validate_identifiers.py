"""Validation rejects malformed identifiers (reason ``bad-identifier``) and says which and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.steps.base import Emit, Fail
from streams.steps.validate import CaptureContext, validate_event

CONTEXT = CaptureContext.of(reporter="r", capture_id="c", received_at_ms=0, context=[{"tb": "urn:tracebus:ns:trace:"}])


def check(**fields: Any) -> Emit[dict[str, Any]] | Fail:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-20T06:30:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sgtin:6901234.012345.1"],
        **fields,
    }
    result = validate_event(event, CONTEXT, now=datetime(2026, 11, 28, tzinfo=UTC), future_skew=timedelta(0))
    assert isinstance(result, Emit | Fail)
    return result


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"epcList": ["urn:epc:id:sgtin:6901234.0123X5.1"]}, "urn:epc:id:sgtin:6901234.0123X5.1"),
        ({"epcList": ["urn:epc:id:sscc:6901234"]}, "urn:epc:id:sscc:6901234"),
        ({"quantityList": [{"epcClass": "urn:epc:class:lgtin:123.4"}]}, "urn:epc:class:lgtin:123.4"),
        ({"epcList": ["urn:tracebus:party:uscc:91350200776049653a"]}, "canonical-form"),
        ({"tb:businessUSCC": "91350200776049653B"}, "tb:businessUSCC: uscc: check-character at position 18"),
        ({"tb:sourceBusiness": {"tb:uscc": "9135020077604965"}}, "tb:sourceBusiness: uscc: length"),
        (
            {"tb:destinationBusiness": {"tb:uscc": "91350200I76049653A"}},
            "tb:destinationBusiness: uscc: alphabet at position 9",
        ),
        ({"tb:regionCode": "33010"}, "tb:regionCode: '33010' is not a 6-digit GB/T 2260 code"),
    ],
)
def test_malformed_identifiers_are_rejected_with_the_reason(fields: dict[str, Any], fragment: str) -> None:
    result = check(**fields)
    assert isinstance(result, Fail), result
    assert result.reason == "bad-identifier"
    assert fragment in result.message


@pytest.mark.parametrize(
    "fields",
    [
        {"tb:businessUSCC": "91440101MA5CJQ4N59"},  # letters in the organisation code
        {"tb:regionCode": "330104"},  # abolished since 2021: a flag for enrich, not a rejection
        {"epcList": ["https://id.gs1.org/01/09999999999999/21/1"]},  # Digital Link checks are the resolver's
        {"epcList": ["urn:example:my-own-scheme:42"]},  # other URIs are allowed in EPCIS
        {"quantityList": [{"epcClass": "urn:epc:idpat:sgtin:4012345.*.*"}]},  # a pattern with no DL form
    ],
)
def test_well_formed_or_not_ours_to_judge_passes(fields: dict[str, Any]) -> None:
    assert isinstance(check(**fields), Emit)
