"""SAMR platform (issue 7): ledger workbooks exported from the sample world map to valid EPCIS events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.base import SourceRecord, SourceRecordError
from connectors.config import parse_config
from connectors.errors import ConnectorConfigError
from connectors.file.readers import read_records
from connectors.mapping import mapper_for
from connectors.platforms.samr import ledger
from connectors.platforms.samr.conformance import SamrPlatformKit, inbound_row
from connectors.platforms.samr.source import SamrPlatformConfig, SamrPlatformSource
from ops.sampledata import samr
from ops.sampledata.world import Movement, Report, World, build_world
from streams.steps.dedupe import movement_key
from tests.unit.platform_support import validated


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def exported(world: World, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return samr.export(world, tmp_path_factory.mktemp("samr"))


@pytest.fixture(scope="module")
def mapped(exported: list[Path]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(native row, its one event) for every row of every exported workbook."""
    mapper = mapper_for("samr")
    found = []
    for path in exported:
        for native in read_records(path.read_bytes(), path.name, file_format="auto", encoding="auto"):
            assert native.fields is not None, native.error
            (event,) = mapper.map(native.fields).events
            found.append((dict(native.fields), event))
    return found


def reports(world: World) -> dict[str, tuple[Movement, Report]]:
    return {report.record_id: (movement, report) for movement, report in world.reports_of("SAMR")}


def test_export_is_one_workbook_per_business_and_ledger_and_deterministic(
    world: World, exported: list[Path], tmp_path: Path
) -> None:
    names = sorted(p.name for p in exported)
    assert names == [
        "samr-ledger-in-JY13301020012345.xlsx",  # the market's receipts of vegetables
        "samr-ledger-in-JY13301060056789.xlsx",  # the distributor's receipts of formula
        "samr-ledger-in-JY13302060034567.xlsx",  # the importer's receipts of beef
        "samr-ledger-out-JY13302060034567.xlsx",  # the importer's sales of beef
        "samr-ledger-out-SC10523010300456.xlsx",  # the dairy's shipments of formula
    ]
    again = {p.name: p.read_bytes() for p in samr.export(world, tmp_path)}
    assert again == {p.name: p.read_bytes() for p in exported}


def test_every_report_maps_to_one_valid_event_with_its_record_id(
    world: World, mapped: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    by_id = reports(world)
    assert sorted(event["src:recordId"] for _, event in mapped) == sorted(by_id)
    for _, event in mapped:
        movement, _ = by_id[event["src:recordId"]]
        record = validated(event)
        trace = record["trace"]
        assert trace["reporting_department"] == "SAMR"
        assert trace["trace_code"] == movement.trace_code
        assert record["trace_key"] == f"trace:{movement.trace_code}"
        assert event["bizStep"] == movement.step
        assert trace["business_uscc"] == movement.location.uscc
        assert trace["business_role"] == movement.location.role
        assert trace["region_code"] == movement.location.region_code
        assert trace["product_category"] == movement.product.category
        assert (trace["source_business"] or {}).get("uscc") == (movement.source.uscc if movement.source else None)
        assert trace["destination_business"]["uscc"] == movement.destination.uscc  # type: ignore[union-attr]
        assert sorted(c["number"] for c in trace["certificates"]) == sorted(c.number for c in movement.certificates)


def test_times_are_the_reported_china_time(world: World, mapped: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    by_id = reports(world)
    for _, event in mapped:
        movement, report = by_id[event["src:recordId"]]
        assert event["eventTime"] == movement.reported_time(report).isoformat() + "+08:00"
        assert event["eventTimeZoneOffset"] == "+08:00"


def test_quantities_are_rec20_with_the_ledger_value_kept(
    world: World, mapped: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    by_id = reports(world)
    seen = set()
    for native, event in mapped:
        movement, report = by_id[event["src:recordId"]]
        (element,) = event["quantityList"]
        (original,) = event["src:originalQuantity"]
        assert original["src:value"] == str(native["数量"])
        assert original["src:unit"] == native["单位"]
        if report.unit == "斤":  # vegetables weighed in 市斤 at the market: half a kilogram each
            assert native["数量"] == movement.quantity * 2
            assert (element["uom"], Decimal(str(element["quantity"]))) == ("KGM", movement.quantity)
        elif report.unit == "箱":  # formula counted in cases of 6 tins: stated in tins, as MIIT does
            assert native["箱规"] == "6罐/箱"
            assert native["数量"] * 6 == movement.quantity
            assert (element["uom"], element["quantity"]) == ("XCX", movement.quantity)
        else:
            assert element["quantity"] == movement.quantity
        seen.add(report.unit)
    assert seen == {"斤", "箱", None}


def test_epc_class_is_the_products_lgtin(mapped: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    classes = {event["quantityList"][0]["epcClass"] for _, event in mapped}
    assert "urn:epc:class:lgtin:6905555.000871.QC-20261102-00" in classes  # greens
    assert "urn:epc:class:lgtin:6902468.100200.RF20261103A" in classes  # formula, case GTIN (received by the case)
    assert all(c.startswith("urn:epc:class:lgtin:") for c in classes)


def test_import_rows_use_the_customs_declaration_as_trace_code_and_may_lack_the_origin(
    world: World, mapped: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    by_id = reports(world)
    imports = [(n, e) for n, e in mapped if by_id[e["src:recordId"]][0].chain == "import"]
    assert len(imports) == 6
    for native, event in imports:
        assert native["追溯码"] is None
        assert native["报关单号"] == event["tb:traceCode"]
        declaration = f"urn:tracebus:doc:customs-declaration:{native['报关单号']}"
        assert {"bizTransaction": declaration} in event["bizTransactionList"]
        assert "src:originCountry" not in event  # the receipts leave 原产国 empty (Report.missing)


def test_origin_country_is_mapped_to_its_iso_code() -> None:
    row = dict(zip(ledger.columns("in"), inbound_row(1, "t"), strict=True))
    (event,) = mapper_for("samr").map({**row, "原产国（地区）": "澳大利亚"}).events
    assert event["src:originCountry"] == "AU"
    (event,) = mapper_for("samr").map({**row, "原产国（地区）": "智利"}).events
    assert event["src:originCountryName"] == "智利"
    assert "src:originCountry" not in event


def test_personal_data_of_a_natural_person_supplier_is_only_under_pii(
    world: World, mapped: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    farmer = world.businesses["farmer-wang"]
    assert farmer.person_id_number
    assert farmer.person_phone
    rows = [e for _, e in mapped if e.get("tb:sourceBusiness", {}).get("tb:uscc") == farmer.uscc]
    assert rows
    for event in rows:
        assert event["pii:idNumber"] == farmer.person_id_number
        assert event["pii:phone"] == farmer.person_phone
        rest = orjson.dumps({k: v for k, v in event.items() if not k.startswith("pii:")}).decode()
        assert farmer.person_id_number not in rest
        assert farmer.person_phone not in rest
    others = [e for _, e in mapped if e not in rows]
    assert not any(k.startswith("pii:") for e in others for k in e)


def test_missing_supplier_name_is_left_out(world: World, mapped: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    by_id = reports(world)
    for native, event in mapped:
        _, report = by_id[event["src:recordId"]]
        if "source_name" in report.missing:
            assert native["供货者名称"] is None
            assert "tb:name" not in event["tb:sourceBusiness"]


def test_formula_shipment_meets_the_movement_key_miit_reports(
    world: World, mapped: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    by_id = reports(world)
    for _, event in mapped:
        movement, _ = by_id[event["src:recordId"]]
        assert movement.destination is not None
        source = f"uscc:{movement.source.uscc}" if movement.source else ""
        expected = "\x1e".join(
            (f"trace:{movement.trace_code}", movement.step, source, f"uscc:{movement.destination.uscc}")
        )
        assert movement_key(validated(event)) == expected


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"数量": "四百"}, "bad-quantity"),
        ({"单位": "担"}, "unknown-unit"),
        ({"进货日期": "20日上午"}, "bad-time"),
        ({"追溯码": None}, "missing-field"),
        ({"经营者类型": "个体户"}, "unknown-business-type"),
        ({"查验票证类型": "准运证"}, "unknown-certificate-type"),
        ({"商品条码": "06905555008714"}, "bad-gtin"),
    ],
)
def test_a_broken_row_is_a_source_record_error(change: dict[str, Any], reason: str) -> None:
    row = dict(zip(ledger.columns("in"), inbound_row(1, "t"), strict=True)) | change
    with pytest.raises(SourceRecordError) as caught:
        mapper_for("samr").map(row)
    assert caught.value.reason == reason


def test_a_row_of_no_ledger_is_refused() -> None:
    with pytest.raises(SourceRecordError) as caught:
        mapper_for("samr").map({"记录编号": "X", "数量": 1})
    assert caught.value.reason == "unknown-ledger"


def _drain(source: SamrPlatformSource, wanted: int) -> Iterator[SourceRecord]:
    async def run() -> list[SourceRecord]:
        got: list[SourceRecord] = []
        for _ in range(50):
            records = await source.poll()
            got.extend(records)
            await source.committed(records)
            if len(got) >= wanted:
                break
        return got

    return iter(asyncio.run(run()))


def test_the_conformance_kit_writes_what_the_source_reads(tmp_path: Path) -> None:
    kit = SamrPlatformKit()
    asyncio.run(kit.setup(tmp_path / "kit", bootstrap_servers="unused", namespace="t"))
    identities = asyncio.run(kit.put_good(3))
    raw = asyncio.run(kit.put_bad())
    config = parse_config(SamrPlatformConfig, kit.config("samr-test"))
    assert (config.platform, config.mapper, config.file_format) == ("SAMR", "samr", "xlsx")
    source = SamrPlatformSource(config, tmp_path / "state")
    asyncio.run(source.start({}))
    try:
        records = list(_drain(source, 4))
    finally:
        asyncio.run(source.stop())
    good = [r for r in records if r.error is None]
    bad = [r for r in records if r.error is not None]
    assert [r.identity for r in good] == identities
    assert all(len(r.events) == 1 for r in good)
    for record in good:
        validated(record.events[0])
    assert len(bad) == 1
    assert bad[0].error is not None
    assert bad[0].error.reason == "bad-quantity"
    assert bad[0].raw == raw


def test_bad_config_names_the_key() -> None:
    kit = SamrPlatformKit()
    raw, key = kit.bad_config("samr-test")
    with pytest.raises(ConnectorConfigError) as caught:
        parse_config(SamrPlatformConfig, raw)
    assert key in str(caught.value)


def test_ledger_case_size_only_converts_cases() -> None:
    """箱规 on a row counted in 斤 changes nothing: only cases are broken down into their inner units."""
    row = dict(zip(ledger.columns("in"), inbound_row(1, "t"), strict=True)) | {"箱规": "6罐/箱"}
    (event,) = mapper_for("samr").map(row).events
    assert event["quantityList"][0]["uom"] == "KGM"
