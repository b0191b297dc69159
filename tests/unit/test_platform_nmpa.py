"""NMPA platform: the sample XML exports, the ``nmpa`` mapper, and the ``nmpa-platform`` source on real files."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from connectors.base import SourceRecord, SourceRecordError
from connectors.file.readers import read_records
from connectors.mapping import mapper_for
from connectors.platforms.nmpa.conformance import NmpaPlatformKit, outbound_xml, shipment
from connectors.platforms.nmpa.source import NmpaPlatformConfig, NmpaPlatformSource
from connectors.registry import spec
from ops.sampledata import natcm, nmpa
from ops.sampledata.world import Movement, Report, World, build_world
from schemas.identifiers.private_uri import build
from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event
from tests.unit.platform_support import records_of

NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def exported(world: World, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return nmpa.export(world, tmp_path_factory.mktemp("nmpa"))


def map_one(record: Mapping[str, Any], mapper: str = "nmpa") -> tuple[dict[str, Any], dict[str, Any]]:
    """(the mapped event, the canonical record the bus's validation made of it)."""
    mapped = mapper_for(mapper).map(record)
    assert len(mapped.events) == 1
    context = CaptureContext.of(reporter=mapper, capture_id="t", received_at_ms=0, context=list(mapped.context))
    result = validate_event(mapped.events[0], context, now=NOW, future_skew=timedelta(0))
    assert isinstance(result, Emit), result
    return mapped.events[0], result.value


def reports(world: World) -> dict[str, tuple[Movement, Report]]:
    return {report.record_id: (movement, report) for movement, report in world.reports_of("NMPA")}


def drug(code: str) -> str:
    return build("id", "drugcode", code)


def test_every_exported_record_maps_validates_and_tells_its_movement(world: World, exported: list[Path]) -> None:
    expected = reports(world)
    assert 1 <= len(exported) <= 25
    for path in exported:
        root = etree.fromstring(path.read_bytes())
        assert root.tag in ("追溯码关联关系", "出库单据")
        assert str(root.get("统一社会信用代码")) in path.name
    records = records_of(exported)
    assert sorted(r["记录编号"] for r in records) == sorted(expected)
    for record in records:
        event, canonical = map_one(record)
        movement, report = expected[event["src:recordId"]]
        assert event["bizStep"] == movement.step
        assert event["eventTime"] == movement.reported_time(report).isoformat() + "+08:00"  # China time
        assert event["eventTimeZoneOffset"] == "+08:00"
        assert event["tb:traceCode"] == movement.trace_code
        assert (event["tb:reportingDepartment"], event["tb:reportingPlatform"]) == ("NMPA", "nmpa-drug-trace")
        assert event["tb:productCategory"] == movement.product.category
        assert event["tb:businessUSCC"] == movement.location.uscc
        assert event["tb:businessRole"] == movement.location.role
        assert event["tb:regionCode"] == movement.location.region_code
        assert event.get("src:licence") == movement.location.licence
        assert not any(key.startswith("pii:") for key in event)  # enterprises only: no personal data
        if movement.step == "packing":
            assert event["type"] == "AggregationEvent"
            assert event["action"] == "ADD"
            assert event["parentID"] == drug(movement.trace_code)
            assert event["childEPCs"] == [drug(child) for child in movement.children]
            assert event["src:originalQuantity"][0]["src:unit"] == movement.unit
        else:
            assert movement.destination is not None
            assert event["tb:destinationBusiness"] == {
                "tb:uscc": movement.destination.uscc,
                "tb:name": movement.destination.name,
            }
            assert event["tb:sourceBusiness"]["tb:uscc"] == movement.location.uscc
            assert canonical["trace_key"] == f"trace:{movement.trace_code}"


def test_package_levels_are_written_unit_middle_case(world: World, exported: list[Path]) -> None:
    records = [r for r in records_of(exported) if r["业务类型"] == "包装"]
    levels = {(r["上级码"]["@包装层级"], r["下级码列表"]["追溯码"][0]["@包装层级"], r["单位"]) for r in records}
    assert levels == {("2", "1", "盒"), ("3", "2", "箱")}


def test_a_drug_shipment_names_its_case_and_lot(world: World, exported: list[Path]) -> None:
    (record,) = [r for r in records_of(exported) if r["记录编号"] == "NMPA-FH-00001"]
    event, _ = map_one(record)
    movement, _ = reports(world)["NMPA-FH-00001"]
    assert event["epcList"] == [drug(movement.trace_code)]
    assert event["quantityList"] == [
        {"epcClass": f"urn:epc:class:lgtin:6909999.012001.{movement.batch}", "quantity": 1, "uom": "XCS"}
    ]
    assert event["src:originalQuantity"] == [
        {"src:epcClass": event["quantityList"][0]["epcClass"], "src:value": "1", "src:unit": "箱"}
    ]
    assert event["destinationList"] == [
        {"type": "owning_party", "destination": build("party", "uscc", world.businesses["drug-distributor"].uscc)}
    ]


def test_slice_shipments_meet_the_natcm_report_of_the_same_movement(world: World, tmp_path: Path) -> None:
    """饮片 shipments: NMPA (the slice maker) and NATCM give the same key, step, 来源/去向 and lot, minutes apart."""
    ours = {e["src:recordId"]: (e, c) for e, c in (map_one(r) for r in records_of(nmpa.export(world, tmp_path / "n")))}
    theirs = {e["src:recordId"]: (e, c) for e, c in (map_one(r, "natcm") for r in _rows(natcm.export(world, tmp_path)))}
    merges = [dict(ids) for _, ids in world.expected_merges() if dict(ids).keys() == {"NATCM", "NMPA"}]
    assert len(merges) == 3
    for ids in merges:
        event, canonical = ours[ids["NMPA"]]
        other, other_canonical = theirs[ids["NATCM"]]
        assert canonical["trace_key"] == other_canonical["trace_key"] == "trace:ZBMYP-20261110"
        assert event["epcList"] == []  # a 饮片 batch has no unit codes
        assert event["quantityList"][0]["epcClass"] == other["quantityList"][0]["epcClass"]
        for key in ("bizStep", "tb:traceCode", "tb:outboundBatch"):
            assert event[key] == other[key]
        for key in ("tb:sourceBusiness", "tb:destinationBusiness"):
            assert event[key]["tb:uscc"] == other[key]["tb:uscc"]
        apart = datetime.fromisoformat(event["eventTime"]) - datetime.fromisoformat(other["eventTime"])
        assert timedelta(0) < apart < timedelta(hours=24)


def _rows(files: list[Path]) -> list[Mapping[str, Any]]:
    return [n.fields for p in files for n in read_records(p.read_bytes(), p.name, file_format="auto", encoding="auto")
            if n.fields is not None]  # fmt: skip


def test_a_missing_name_is_left_empty_not_invented(world: World, tmp_path: Path) -> None:
    (ship, report) = reports(world)["NMPA-FH-00001"]
    changed = dataclasses.replace(ship, reports=(dataclasses.replace(report, missing=frozenset({"destination_name"})),))
    (record,) = records_of(nmpa.export(World(world.businesses, world.products, [changed]), tmp_path))
    assert record["收货企业"]["企业名称"] == ""
    event, _ = map_one(record)
    assert event["tb:destinationBusiness"] == {"tb:uscc": world.businesses["drug-distributor"].uscc}


def _good() -> dict[str, Any]:
    (native,) = read_records(outbound_xml([shipment(7, "t")]), "f.xml", file_format="auto", encoding="auto")
    assert native.fields is not None
    return dict(native.fields)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"业务类型": "退货入库"}, "unknown-record-type"),
        ({"追溯码列表": {"追溯码": "8100000000999999003"}}, "bad-drug-code"),
        ({"追溯码列表": {"追溯码": "81000010000000070003"}}, "code-mismatch"),
        ({"追溯码列表": {"追溯码": ["81000000000000070003", ""]}}, "missing-field"),
        ({"收货企业": "某医院"}, "missing-field"),
        ({"出库时间": "2026年11月4日"}, "bad-time"),
        ({"单位": "担"}, "unknown-unit"),
    ],
)
def test_a_broken_record_is_a_source_record_error_with_a_clear_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(SourceRecordError) as caught:
        mapper_for("nmpa").map(_good() | change)
    assert caught.value.reason == reason


def test_several_codes_in_one_shipment_all_go_to_the_epc_list() -> None:
    codes = ["81000000000000070003", "81000000000000080003"]
    event, _ = map_one(_good() | {"追溯码列表": {"追溯码": [{"@包装层级": "3", "#text": c} for c in codes]}})
    assert event["epcList"] == [drug(c) for c in codes]
    assert event["tb:traceCode"] == codes[0]


def test_config_defaults(tmp_path: Path) -> None:
    found = spec("nmpa-platform")
    assert (found.platform, found.kind, found.transport) == ("NMPA", "source", "file")
    config = found.parse({"name": "nmpa", "connector.class": "nmpa-platform", "file.path": str(tmp_path)})
    assert isinstance(config, NmpaPlatformConfig)
    assert (config.platform, config.mapper, config.file_pattern) == ("NMPA", "nmpa", "nmpa-*.xml")


async def test_the_kit_writes_what_the_source_reads(tmp_path: Path) -> None:
    kit = NmpaPlatformKit()
    await kit.setup(tmp_path / "kit", bootstrap_servers="unused:9092", namespace="t")
    good = await kit.put_good(3, start=5)
    bad_raw = await kit.put_bad()
    config = spec("nmpa-platform").parse(kit.config("nmpa-kit"))
    assert isinstance(config, NmpaPlatformConfig)
    source = NmpaPlatformSource(config, tmp_path / "state")
    await source.start({})
    records: list[SourceRecord] = []
    try:
        for _ in range(100):
            batch = await source.poll()
            records.extend(batch)
            await source.committed(batch)
            if len(records) >= 4:
                break
    finally:
        await source.stop()
    ok = [r for r in records if r.error is None]
    assert [r.identity for r in ok] == good
    assert [r.events[0]["epcList"] for r in ok] == [[drug(f"8100000{n:09d}0003")] for n in (5, 6, 7)]
    (bad,) = [r for r in records if r.error is not None]
    assert bad.error is not None
    assert bad.error.reason == "bad-drug-code"
    assert bad.raw == bad_raw
    raw, key = kit.bad_config("nmpa-kit")
    with pytest.raises(Exception, match=key.replace(".", r"\.")):
        spec("nmpa-platform").parse(raw)
