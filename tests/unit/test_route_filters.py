"""The traceability criteria of streams.steps.route: categories, regions, businesses, departments, flags."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.epcis.trace_extension import DEPARTMENTS
from streams.steps.base import Emit
from streams.steps.route import Router, RouteView, region_key, region_prefixes
from streams.steps.validate import CaptureContext, validate_event
from streams.subscriptions import Department, Subscription, SubscriptionFilter

NOW = datetime(2026, 11, 19, 12, 0, 0, tzinfo=UTC)
CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"tb": "urn:tracebus:ns:trace:"},
]
REPORTING = "91350200776049653A"
SOURCE = "91330109MA2AB3C47D"
DESTINATION = "91320102MA1XY2W38P"
OTHER = "911101051234567883"
STALE_ID = "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"


def submitted(**fields: Any) -> dict[str, Any]:
    """The v2 record validate builds for an ObjectEvent with these extra (``tb:``) fields."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-19T07:40:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": ["urn:epc:id:sgtin:6901234.012345.1001"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        **fields,
    }
    context = CaptureContext.of(reporter="mofcom-platform", capture_id="cap-1", received_at_ms=0, context=CONTEXT)
    result = validate_event(event, context, now=NOW, future_skew=timedelta(0))
    assert isinstance(result, Emit), result
    value: dict[str, Any] = result.value
    return value


def business(uscc: str, region: str | None) -> dict[str, Any]:
    return {"uscc": uscc, "name": "某公司", "natural_person": False, "credit_grade": None, "region_code": region,
            "licences": []}  # fmt: skip


def enriched(record: dict[str, Any], **parts: Any) -> dict[str, Any]:
    """``record`` with an enrichment made of ``parts`` (business, source_business, region, catalogue …)."""
    empty = {k: None for k in ("business", "source_business", "destination_business", "product", "region", "catalogue")}
    return {**record, "enrichment": {**empty, **parts}}


def routed(record: dict[str, Any], **criteria: list[str]) -> bool:
    subscription = Subscription(name="s1", department="D", filter=SubscriptionFilter.model_validate(criteria))
    return Router([subscription]).route(record) == ["s1"]


# --- categories -----------------------------------------------------------------------------------


def test_category_from_the_traceability_extension() -> None:
    assert routed(submitted(**{"tb:productCategory": "0101"}), categories=["0101"])
    assert routed(submitted(**{"tb:productCategory": "0101"}), categories=["0302", "0101"])
    assert not routed(submitted(**{"tb:productCategory": "0102"}), categories=["0101"])
    assert not routed(submitted(), categories=["0101"])


def test_category_is_exact_not_a_prefix() -> None:
    assert not routed(submitted(**{"tb:productCategory": "0101"}), categories=["01"])
    assert not routed(submitted(**{"tb:productCategory": "01"}), categories=["0101"])


def test_category_from_the_catalogue_or_the_product_master_data() -> None:
    catalogue = {"category": "0101", "name": "猪肉", "traced": True, "department": "MOFCOM", "since": None}
    product = {"code": "06901234000017", "name": "冷鲜猪肉", "category": "0103", "spec": None}
    assert routed(enriched(submitted(), catalogue=catalogue), categories=["0101"])
    assert routed(enriched(submitted(), product=product), categories=["0103"])
    assert not routed(enriched(submitted(), catalogue=catalogue, product=product), categories=["0999"])


# --- regions --------------------------------------------------------------------------------------

REGION_CASES = [
    # subscription, event location, routed
    ("330000", "330109", True),  # province ⊇ county
    ("330000", "330100", True),  # province ⊇ prefecture
    ("330000", "330000", True),
    ("330000", "320102", False),
    ("330000", "310000", False),
    ("330100", "330109", True),  # prefecture ⊇ county
    ("330100", "330100", True),
    ("330100", "330200", False),
    ("330100", "330000", False),  # a province-level event is not inside one of its prefectures
    ("330100", "331000", False),
    ("330109", "330109", True),  # county: exact
    ("330109", "330110", False),
    ("330109", "330100", False),
    ("429000", "429004", True),  # a grouping prefecture (直辖县) contains its counties
]


@pytest.mark.parametrize(("subscribed", "location", "expected"), REGION_CASES)
def test_region_containment(subscribed: str, location: str, expected: bool) -> None:
    assert routed(submitted(**{"tb:regionCode": location}), regions=[subscribed]) is expected


def test_region_any_of_and_absent() -> None:
    record = submitted(**{"tb:regionCode": "330109"})
    assert routed(record, regions=["110000", "330100"])
    assert not routed(record, regions=["110000", "320000"])
    assert not routed(submitted(), regions=["330000"])


@pytest.mark.parametrize("written", ["33010", "3301090", "33O109", "３３０１０９", ""])
def test_a_record_region_that_is_not_6_ascii_digits_is_ignored(written: str) -> None:
    # validation refuses such codes at capture; the router still must not trip over a record that has one
    record = submitted(**{"tb:regionCode": "330109"})
    record["trace"]["region_code"] = written
    assert not routed(record, regions=["330000"])
    assert not routed(record, regions=["330109"])


def test_region_from_the_region_master_data() -> None:
    region = {"code": "330109", "province": "浙江省", "prefecture": "杭州市", "county": "萧山区", "snapshot": None}
    assert routed(enriched(submitted(), region=region), regions=["330100"])


def test_reporting_business_region_is_used_only_when_the_location_is_unknown() -> None:
    registered_in_jiangsu = business(REPORTING, "320102")
    assert routed(enriched(submitted(), business=registered_in_jiangsu), regions=["320000"])
    located_in_zhejiang = enriched(submitted(**{"tb:regionCode": "330109"}), business=registered_in_jiangsu)
    assert routed(located_in_zhejiang, regions=["330000"])
    assert not routed(located_in_zhejiang, regions=["320000"])


def movement() -> dict[str, Any]:
    """A shipment reported in Hangzhou (330109) from a Hangzhou business to a Nanjing one (320102)."""
    record = submitted(
        **{
            "tb:regionCode": "330109",
            "tb:businessUSCC": SOURCE,
            "tb:sourceBusiness": {"tb:uscc": SOURCE},
            "tb:destinationBusiness": {"tb:uscc": DESTINATION},
        }
    )
    return enriched(
        record,
        business=business(SOURCE, "330109"),
        source_business=business(SOURCE, "330109"),
        destination_business=business(DESTINATION, "320102"),
    )


@pytest.mark.parametrize(
    ("subscribed", "expected"),
    [
        ("330000", True),  # the province of origin (location and source)
        ("330100", True),
        ("320000", True),  # the destination's province sees the movement to it
        ("320100", True),  # … and its prefecture
        ("320102", True),  # … and its county
        ("320105", False),
        ("110000", False),
    ],
)
def test_a_movement_is_seen_by_its_source_and_destination_regions(subscribed: str, expected: bool) -> None:
    assert routed(movement(), regions=[subscribed]) is expected


def test_source_region_alone_routes_a_movement() -> None:
    incoming = enriched(
        submitted(**{"tb:regionCode": "320102", "tb:sourceBusiness": {"tb:uscc": SOURCE}}),
        source_business=business(SOURCE, "330109"),
    )
    assert routed(incoming, regions=["330000"])
    assert routed(incoming, regions=["320000"])
    assert not routed(incoming, regions=["110000"])


@pytest.mark.parametrize(
    ("code", "prefixes"),
    [
        ("330109", ("33", "3301", "330109")),
        ("330100", ("33", "3301")),
        ("330000", ("33",)),
        ("33010", ()),
        ("３３０１０９", ()),
        (None, ()),
    ],
)
def test_region_prefixes(code: str | None, prefixes: tuple[str, ...]) -> None:
    assert region_prefixes(code) == prefixes


@pytest.mark.parametrize(("code", "key"), [("330000", "33"), ("330100", "3301"), ("330109", "330109")])
def test_region_key(code: str, key: str) -> None:
    assert region_key(code) == key


# --- businesses -----------------------------------------------------------------------------------


@pytest.mark.parametrize("uscc", [SOURCE, DESTINATION])
def test_business_matches_reporting_source_or_destination(uscc: str) -> None:
    assert routed(movement(), businesses=[uscc])
    assert not routed(movement(), businesses=[OTHER])


def test_business_from_the_traceability_extension_without_master_data() -> None:
    record = submitted(**{"tb:businessUSCC": REPORTING, "tb:destinationBusiness": {"tb:uscc": DESTINATION}})
    assert record["enrichment"] is None
    assert routed(record, businesses=[REPORTING])
    assert routed(record, businesses=[DESTINATION])
    assert not routed(record, businesses=[SOURCE])
    assert not routed(submitted(), businesses=[REPORTING])


def test_business_case_is_normalised_on_both_sides() -> None:
    record = submitted(**{"tb:businessUSCC": DESTINATION.lower()})
    assert routed(record, businesses=[DESTINATION])
    assert routed(submitted(**{"tb:businessUSCC": DESTINATION}), businesses=[DESTINATION.lower()])
    assert SubscriptionFilter(businesses=[DESTINATION.lower()]).businesses == [DESTINATION]


def test_business_from_enrichment_only() -> None:
    assert routed(enriched(submitted(), destination_business=business(OTHER, None)), businesses=[OTHER])


# --- departments ----------------------------------------------------------------------------------


def provenance(department: str | None) -> dict[str, Any]:
    return {"event_id": "ni:x", "department": department, "platform": None, "reporter": "r", "capture_id": "c",
            "received_at_ms": 0}  # fmt: skip


def test_department_of_the_report() -> None:
    assert routed(submitted(**{"tb:reportingDepartment": "MOFCOM"}), departments=["MOFCOM"])
    assert routed(submitted(**{"tb:reportingDepartment": "MOFCOM"}), departments=["SAMR", "MOFCOM"])
    assert not routed(submitted(**{"tb:reportingDepartment": "MARA"}), departments=["MOFCOM"])
    assert not routed(submitted(), departments=["MOFCOM"])


def test_department_of_any_report_merged_into_the_observation() -> None:
    merged = {
        **submitted(**{"tb:reportingDepartment": "MOFCOM"}),
        "provenance": [provenance("MOFCOM"), provenance("MARA"), provenance(None)],
    }
    assert routed(merged, departments=["MARA"])
    assert routed(merged, departments=["MOFCOM"])
    assert not routed(merged, departments=["GACC"])


def test_department_literal_is_the_extension_list() -> None:
    assert typing.get_args(Department) == DEPARTMENTS


# --- flags ----------------------------------------------------------------------------------------


def test_flags_any_routes_flagged_events_only() -> None:
    stale = submitted(eventID=STALE_ID)
    assert stale["flags"] == ["stale-event-id"]
    assert routed(stale, flags_any=["stale-event-id"])
    assert routed(stale, flags_any=["unknown-business", "stale-event-id"])
    assert not routed(submitted(), flags_any=["stale-event-id"])
    assert not routed({**stale, "flags": ["unknown-business"]}, flags_any=["stale-event-id"])


def test_flags_none_excludes_flagged_events() -> None:
    stale = submitted(eventID=STALE_ID)
    assert not routed(stale, flags_none=["stale-event-id"])
    assert not routed({**stale, "flags": ["unknown-business", "x"]}, flags_none=["stale-event-id", "unknown-business"])
    assert routed(submitted(), flags_none=["stale-event-id"])
    assert routed({**stale, "flags": ["unknown-business"]}, flags_none=["stale-event-id"])


def test_flags_any_and_none_together() -> None:
    both = {**submitted(), "flags": ["unknown-business", "stale-event-id"]}
    unknown = {**submitted(), "flags": ["unknown-business"]}
    criteria = {"flags_any": ["unknown-business"], "flags_none": ["stale-event-id"]}
    assert routed(unknown, **criteria)
    assert not routed(both, **criteria)
    assert not routed(submitted(), **criteria)


# --- together -------------------------------------------------------------------------------------


def test_new_criteria_are_a_conjunction_with_the_old_ones() -> None:
    criteria: dict[str, list[str]] = {
        "biz_steps": ["shipping"],
        "regions": ["320000"],
        "businesses": [DESTINATION],
        "departments": ["MOFCOM"],
        "flags_none": ["stale-event-id"],
    }
    record = {**movement(), "trace": {**movement()["trace"], "reporting_department": "MOFCOM"}}
    assert routed(record, **criteria)
    assert not routed({**record, "flags": ["stale-event-id"]}, **criteria)
    assert not routed(record, **{**criteria, "regions": ["110000"]})
    assert not routed(record, **{**criteria, "businesses": [OTHER]})
    assert not routed(record, **{**criteria, "departments": ["SAMR"]})
    assert not routed(record, **{**criteria, "biz_steps": ["receiving"]})
    assert routed(record)  # the empty filter still takes everything


def test_route_view_gathers_everything_once() -> None:
    record = {
        **movement(),
        "trace": {**movement()["trace"], "reporting_department": "MOFCOM", "product_category": "0101"},
        "provenance": [provenance("MARA")],
        "flags": ["unknown-business"],
    }
    view = RouteView.of(record)
    assert view.categories == {"0101"}
    assert view.regions == {"33", "3301", "330109", "32", "3201", "320102"}
    assert view.businesses == {SOURCE, DESTINATION}
    assert view.departments == {"MOFCOM", "MARA"}
    assert view.flags == {"unknown-business"}


def test_a_v1_record_without_enrichment_or_provenance_routes() -> None:
    record = submitted(**{"tb:regionCode": "330109"})
    for field in ("enrichment", "provenance", "observation_id"):
        del record[field]
    assert routed(record, regions=["330000"])
    assert not routed(record, departments=["MOFCOM"])


def test_router_refuses_two_subscriptions_with_one_name() -> None:
    with pytest.raises(ValueError, match=r"subscription names used twice: \['a1'\]"):
        Router([Subscription(name="a1", department="X"), Subscription(name="a1", department="Y")])


def test_router_keeps_its_subscriptions() -> None:
    subscriptions = [Subscription(name="b2", department="X"), Subscription(name="a1", department="Y")]
    router = Router(subscriptions)
    assert router.subscriptions == tuple(subscriptions)
    assert router.subscription_names == ["b2", "a1"]
    assert repr(router) == "Router(['b2', 'a1'])"


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        (
            {"regions": ["33010"]},
            "regions: '33010' is not a 6-digit GB/T 2260 code (region: length: expected 6 digits, found 5 characters)",
        ),
        (
            {"regions": ["330000", "33O109"]},
            "regions: '33O109' is not a 6-digit GB/T 2260 code (region: alphabet at position 3: "
            "expected a digit 0–9, found 'O')",
        ),
        (
            {"businesses": ["91350200776049653B"]},
            "businesses: '91350200776049653B' is not a valid USCC (uscc: check-character at position 18:",
        ),
        (
            {"businesses": ["9135020077604965"]},
            "businesses: '9135020077604965' is not a valid USCC (uscc: length: expected 18 characters, found 16)",
        ),
        ({"categories": [""]}, "categories: a category code is empty"),
        ({"categories": ["0101", "  "]}, "categories: a category code is empty"),
        ({"categories": [" 0101"]}, "categories: ' 0101' has leading or trailing whitespace"),
        (
            {"flags_any": ["Stale"]},
            "flags_any: 'Stale' is not a flag name (lowercase letters, digits, '-' and '.')",
        ),
        ({"flags_none": [""]}, "flags_none: '' is not a flag name"),
        (
            {"flags_any": ["x", "y"], "flags_none": ["y", "x"]},
            "flags_any and flags_none both name ['x', 'y']: such a filter matches nothing",
        ),
        ({"departments": ["Mofcom"]}, "departments.0\n  Input should be 'MARA', 'MIIT', 'SAMR', 'NATCM', 'NMPA'"),
    ],
)
def test_filter_values_are_validated_with_precise_errors(criteria: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SubscriptionFilter.model_validate(criteria)
    assert message in str(caught.value)
