"""streams.steps.enrich on records of the sample documents, against the sample master data: every flag, the
natural person, the record's identity untouched, and the enriched record encoding under trace_event v2."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ops.commands.masterdata_rows import read_files
from schemas.codec import AvroCodec
from schemas.epcis import parse_document
from schemas.identifiers.region import RegionTable
from schemas.registry.embedded import SHIPPED_SCHEMAS
from streams.reference import BusinessEntry, CatalogueEntry, ProductEntry, StaticReferenceTables
from streams.settings import OPS_DIR
from streams.steps.base import Emit, Fail
from streams.steps.enrich import (
    CATEGORY_NOT_IN_CATALOGUE,
    CATEGORY_NOT_TRACED,
    REGION_INVALID,
    REGION_OLDER_THAN_SNAPSHOTS,
    STEP,
    UNKNOWN_BUSINESS,
    UNKNOWN_PRODUCT,
    enrich,
    event_date,
    product_code,
    region_info,
)
from streams.steps.validate import STALE_EVENT_ID, CaptureContext, validate_event

NOW = datetime(2026, 12, 1, tzinfo=UTC)
REGIONS = RegionTable.load_default()
SLAUGHTERHOUSE = "91350200776049653A"
MARKET = "91440101MA5CJQ4N59"
FARMER = "92330109MA2B00043H"
PORK = "06901234123456"
V2 = AvroCodec((SHIPPED_SCHEMAS / "trace_event" / "v2.avsc").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def data() -> StaticReferenceTables:
    parsed = read_files(sorted((OPS_DIR / "masterdata").glob("*.csv")), None, on=date(2026, 11, 20))
    assert parsed.problems == []
    return StaticReferenceTables.from_records((row.kind, row.key, row.value) for row in parsed.rows)


def sample_records(name: str) -> list[dict[str, Any]]:
    document = parse_document((OPS_DIR / "samples" / name).read_bytes(), None)
    context = CaptureContext.of(reporter="MOFCOM", capture_id="cap-1", received_at_ms=0, context=document.context)
    records = []
    for event in document.events:
        result = validate_event(event, context, now=NOW, future_skew=timedelta(seconds=300))
        if isinstance(result, Emit):
            records.append(result.value)
    return records


def record_with(**trace: Any) -> dict[str, Any]:
    """The MOFCOM sample's shipping event, its traceability extension replaced by ``trace``."""
    record = sample_records("mofcom-pork-circulation.jsonld")[0]
    base = dict.fromkeys(record["trace"])
    base["certificates"] = []
    return {**record, "trace": {**base, **trace}}


def at(record: dict[str, Any], event_time: str, offset: str = "+08:00") -> dict[str, Any]:
    moment = datetime.fromisoformat(event_time)
    event = {**record["event"], "event_time": event_time, "event_time_zone_offset": offset}
    event["event_time_ms"] = int(moment.timestamp() * 1000)
    return {**record, "event": event}


def emitted(record: dict[str, Any], data: StaticReferenceTables) -> dict[str, Any]:
    result = enrich(record, data, REGIONS)
    assert isinstance(result, Emit), result
    return result.value


def new_flags(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    flags: list[str] = after["flags"][len(before["flags"]) :]
    return flags


def test_the_step_is_named_enrich() -> None:
    assert STEP == "enrich"


def test_a_fully_known_event_gets_every_enrichment_and_no_flag(data: StaticReferenceTables) -> None:
    record = sample_records("mofcom-pork-circulation.jsonld")[0]
    result = emitted(record, data)
    enrichment = result["enrichment"]
    assert result["flags"] == record["flags"]
    assert enrichment["business"]["name"] == "杭州萧山某肉类加工有限公司"
    assert enrichment["source_business"]["uscc"] == SLAUGHTERHOUSE
    assert enrichment["destination_business"]["uscc"] == MARKET
    assert enrichment["product"] == {
        "code": PORK,
        "name": "白条猪肉（片猪肉）",
        "category": "0101",
        "spec": "冷鲜 按重量计",
    }
    assert enrichment["region"] == {
        "code": "330109",
        "province": "浙江省",
        "prefecture": "杭州市",
        "county": "萧山区",
        "snapshot": "2024-12-31",
    }
    assert enrichment["catalogue"] == {
        "category": "0101",
        "name": "猪肉",
        "traced": True,
        "department": "MOFCOM",
        "since": "2010-10-01",
    }


def abolished_county_record() -> dict[str, Any]:
    record = sample_records("mofcom-pork-circulation.jsonld")[1]
    record["trace"] = {**record["trace"], "region_code": "330104"}  # 江干区, gone since 2021
    return record


def test_a_county_abolished_before_the_event_date_is_flagged(data: StaticReferenceTables) -> None:
    record = abolished_county_record()
    result = emitted(record, data)
    assert new_flags(record, result) == [REGION_INVALID]
    assert result["enrichment"]["region"] is None
    assert result["enrichment"]["catalogue"]["category"] == "0101"  # from the product: the event names no category


@pytest.mark.parametrize(
    ("sample", "category"),
    [
        ("mara-vegetable-harvest.xml", "0201"),
        ("nmpa-drug-packing.jsonld", "0501"),
        ("samr-food-receiving.jsonld", "0401"),
        ("gacc-import-inspection.jsonld", None),  # its first event names an SSCC only
    ],
)
def test_the_other_samples_find_their_product_and_category(
    data: StaticReferenceTables, sample: str, category: str | None
) -> None:
    record = sample_records(sample)[0]
    result = emitted(record, data)
    assert new_flags(record, result) == []
    catalogue = result["enrichment"]["catalogue"]
    assert (catalogue and catalogue["category"]) == category


def test_unknown_businesses_are_flagged_once(data: StaticReferenceTables) -> None:
    stranger = "91330100MA2B00035F"
    record = record_with(
        business_uscc=stranger, source_business={"uscc": stranger, "name": "x"}, destination_business={"uscc": MARKET}
    )
    result = emitted(record, data)
    assert new_flags(record, result) == [UNKNOWN_BUSINESS]
    assert result["enrichment"]["business"] is None
    assert result["enrichment"]["destination_business"]["uscc"] == MARKET


def test_a_business_reference_without_uscc_is_not_looked_up(data: StaticReferenceTables) -> None:
    record = record_with(business_uscc=SLAUGHTERHOUSE.lower(), source_business={"uscc": None, "name": "某"})
    result = emitted(record, data)
    assert new_flags(record, result) == []
    assert result["enrichment"]["business"]["uscc"] == SLAUGHTERHOUSE
    assert result["enrichment"]["source_business"] is None


def test_the_natural_person_is_carried_as_such(data: StaticReferenceTables) -> None:
    result = emitted(record_with(business_uscc=FARMER, region_code="330109"), data)
    farmer = result["enrichment"]["business"]
    assert farmer["natural_person"] is True
    assert farmer["credit_grade"] is None
    assert farmer["name"] == "王某某（个体蔬菜种植户）"


def with_what(record: dict[str, Any], **lists: Any) -> dict[str, Any]:
    event = {**record["event"], "quantity_list": None, "epc_list": [], **lists}
    return {**record, "event": event}


def test_an_unknown_product_code_is_flagged(data: StaticReferenceTables) -> None:
    record = with_what(record_with(), epc_list=["urn:epc:id:sgtin:6901234.012346.1"])
    result = emitted(record, data)
    assert new_flags(record, result) == [UNKNOWN_PRODUCT]
    assert result["enrichment"]["product"] is None


def test_an_event_without_product_code_is_not_flagged(data: StaticReferenceTables) -> None:
    record = with_what(record_with(), epc_list=["urn:epc:id:sscc:6901234.0000000019", "urn:tracebus:id:tracecode:1"])
    result = emitted(record, data)
    assert new_flags(record, result) == []
    assert result["enrichment"]["product"] is None


@pytest.mark.parametrize(
    ("what", "code"),
    [
        (
            {
                "parent_id": "urn:epc:id:sscc:6909999.0000004321",
                "child_epcs": ["https://x.example/01/6909999120017/21/1"],
            },
            "06909999120017",
        ),
        ({"epc_list": ["urn:epc:idpat:sgtin:6901234.012345.*"]}, PORK),
        ({"epc_list": ["urn:tracebus:id:drugcode:81000000000000012345"]}, "8100000"),
        (
            {"child_quantity_list": [{"epc_class": "urn:epc:class:lgtin:6902468.100200.F1", "quantity": 1.0}]},
            "16902468002002",
        ),
        (
            {"epc_list": ["urn:epc:id:sgtin:bad"], "output_epc_list": ["urn:epc:id:sgtin:6905555.000871.9"]},
            "06905555008713",
        ),
    ],
)
def test_the_first_product_code_of_the_what_dimension(what: dict[str, Any], code: str) -> None:
    assert product_code({"quantity_list": None, "epc_list": [], **what}) == code


def test_a_drug_trace_code_finds_its_product(data: StaticReferenceTables) -> None:
    record = with_what(record_with(), epc_list=["urn:tracebus:id:drugcode:81000000000000012345"])
    result = emitted(record, data)
    assert result["enrichment"]["product"]["name"] == "头孢克肟分散片"
    assert result["enrichment"]["catalogue"]["name"] == "药品"


def test_a_category_outside_the_catalogue_is_flagged(data: StaticReferenceTables) -> None:
    record = record_with(product_category="9999")
    result = emitted(record, data)
    assert new_flags(record, result) == [CATEGORY_NOT_IN_CATALOGUE]
    assert result["enrichment"]["catalogue"] is None
    assert result["enrichment"]["product"]["category"] == "0101"  # the event's category wins over the product's


@pytest.mark.parametrize(
    ("category", "event_time", "flagged"),
    [
        ("0104", "2026-11-20T06:30:00+08:00", True),  # 禽肉: in the catalogue, not traced
        ("0302", "2026-12-31T23:59:00+08:00", True),  # 中药饮片: traced from 2027-01-01
        ("0302", "2027-01-01T00:00:00+08:00", False),  # local date 2027-01-01 (still 2026 in UTC)
        ("0101", "2010-09-30T12:00:00+08:00", True),  # 猪肉 before 2010-10-01
    ],
)
def test_a_category_not_traced_on_the_event_date_is_flagged(
    data: StaticReferenceTables, category: str, event_time: str, flagged: bool
) -> None:
    record = at(record_with(product_category=category), event_time)
    result = emitted(record, data)
    assert (CATEGORY_NOT_TRACED in new_flags(record, result)) is flagged
    assert result["enrichment"]["catalogue"]["category"] == category


def test_a_malformed_region_code_is_invalid(data: StaticReferenceTables) -> None:
    record = record_with(region_code="33010X")
    result = emitted(record, data)
    assert new_flags(record, result) == [REGION_INVALID]
    assert result["enrichment"]["region"] is None


def test_the_region_snapshot_is_chosen_by_the_local_event_date(data: StaticReferenceTables) -> None:
    # 653228 和康县 is in the list effective 2024-12-31, not in the one before
    local_new_year_eve = at(record_with(region_code="653228"), "2024-12-31T00:30:00+08:00")  # 2024-12-30 in UTC
    result = emitted(local_new_year_eve, data)
    assert result["flags"] == local_new_year_eve["flags"]
    assert result["enrichment"]["region"]["county"] == "和康县"
    day_before = at(record_with(region_code="653228"), "2024-12-30T23:30:00+08:00")
    assert new_flags(day_before, emitted(day_before, data)) == [REGION_INVALID]


def test_an_event_older_than_every_snapshot_is_flagged_with_the_oldest_names(data: StaticReferenceTables) -> None:
    old = at(record_with(region_code="330109"), "2020-05-01T10:00:00+08:00")
    result = emitted(old, data)
    assert REGION_OLDER_THAN_SNAPSHOTS in new_flags(old, result)
    assert result["enrichment"]["region"]["county"] == "萧山区"
    assert result["enrichment"]["region"]["snapshot"] == "2023-12-31"
    gone = at(record_with(region_code="653228"), "2020-05-01T10:00:00+08:00")  # not in the oldest snapshot
    result = emitted(gone, data)
    assert new_flags(gone, result) == [REGION_OLDER_THAN_SNAPSHOTS]
    assert result["enrichment"]["region"] is None


def test_region_verdicts_are_cached_per_snapshot() -> None:
    first = region_info(REGIONS, "330109", date(2026, 1, 1))
    assert region_info(REGIONS, "330109", date(2026, 6, 1)) is first
    assert region_info(REGIONS, "330109", date(2024, 6, 1)) is not first


def test_the_event_date_is_local() -> None:
    ms = int(datetime(2026, 12, 31, 20, 0, tzinfo=UTC).timestamp() * 1000)
    assert event_date({"event_time_ms": ms, "event_time_zone_offset": "+08:00"}) == date(2027, 1, 1)
    assert event_date({"event_time_ms": ms, "event_time_zone_offset": "-05:00"}) == date(2026, 12, 31)
    assert event_date({"event_time_ms": ms}) == date(2026, 12, 31)


def test_identity_event_and_trace_are_untouched_and_the_input_is_not_mutated(data: StaticReferenceTables) -> None:
    record = abolished_county_record()
    record["flags"] = [STALE_EVENT_ID]
    snapshot = copy.deepcopy(record)
    result = emitted(record, data)
    assert record == snapshot
    assert result["event_id"] == record["event_id"]
    assert result["event"] is record["event"]
    assert result["trace"] is record["trace"]
    assert result["flags"] == [STALE_EVENT_ID, REGION_INVALID]
    assert {k: v for k, v in result.items() if k not in ("flags", "enrichment")} == {
        k: v for k, v in snapshot.items() if k not in ("flags", "enrichment")
    }
    again = emitted(result, data)
    assert again["flags"] == [STALE_EVENT_ID, REGION_INVALID]  # enriching twice adds nothing twice


def test_enriched_records_encode_under_trace_event_v2(data: StaticReferenceTables) -> None:
    records = [
        r for name in sorted((OPS_DIR / "samples").iterdir()) if name.is_file() for r in sample_records(name.name)
    ]
    records.append(record_with(business_uscc=FARMER, product_category="0104", region_code="330104"))
    assert len(records) >= 8
    for record in records:
        result = emitted(record, data)
        decoded = V2.decode(V2.encode(result))
        assert decoded["enrichment"] == result["enrichment"]
        assert decoded["flags"] == result["flags"]
        assert decoded["event_id"] == record["event_id"]


class Exploding:
    def business(self, uscc: str) -> BusinessEntry | None:
        raise RuntimeError("table broke")

    def product(self, code: str) -> ProductEntry | None:
        return None

    def catalogue(self, category: str) -> CatalogueEntry | None:
        return None


def test_an_unexpected_exception_becomes_a_fail(data: StaticReferenceTables) -> None:
    result = enrich(record_with(business_uscc=FARMER), Exploding(), REGIONS)
    assert result == Fail(reason="unexpected-error", message="RuntimeError: table broke", error_class="RuntimeError")
    broken = enrich({"event_id": "x"}, data, REGIONS)
    assert isinstance(broken, Fail)
    assert broken.reason == "unexpected-error"
    assert broken.error_class == "KeyError"


def test_a_record_without_traceability_extension_is_enriched_from_its_what_only(data: StaticReferenceTables) -> None:
    record = {**record_with(), "trace": None}
    result = emitted(record, data)
    enrichment = result["enrichment"]
    assert enrichment["business"] is None
    assert enrichment["region"] is None
    assert enrichment["product"]["code"] == PORK
    assert enrichment["catalogue"]["category"] == "0101"


def test_static_tables_apply_tombstones() -> None:
    value = {"name": "猪肉", "traced": True, "department": "MOFCOM", "since": None}
    tables = StaticReferenceTables.from_records(
        [("catalogue", "0101", value), ("catalogue", "0102", value), ("catalogue", "0101", None)]
    )
    assert tables.catalogue("0101") is None
    assert tables.catalogue("0102") == {"category": "0102", **value}
    assert tables.sizes() == {"business": 0, "product": 0, "catalogue": 1}
