"""MARA's platform: the sample export, the ``mara`` mapper, the ``mara-platform`` source and its kit."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.base import SourceRecordError
from connectors.file.readers import read_records
from connectors.mapping import mapper_for
from connectors.platforms.mara import mapper as m
from connectors.platforms.mara.conformance import MaraPlatformKit, origin_exit_row
from connectors.platforms.mara.source import MaraPlatformConfig, MaraPlatformSource
from connectors.registry import spec
from ops.sampledata import mara
from ops.sampledata.world import Movement, Report, World, build_world
from tests.unit.platform_support import poll_all, validated


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def exported(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], Any]]:
    """record id → (native row, validated canonical record), over every file of a fresh export."""
    files = mara.export(world, tmp_path_factory.mktemp("mara"))
    mapper = mapper_for("mara")
    found = {}
    for path in files:
        for native in read_records(path.read_bytes(), path.name, file_format="csv", encoding="auto"):
            assert native.error is None, native.error
            assert native.fields is not None
            mapped = mapper.map(native.fields)
            (event,) = mapped.events
            found[str(event["src:recordId"])] = (event, validated(event, mapped.context))
    return found


def reports(world: World) -> dict[str, tuple[Movement, Report]]:
    return {report.record_id: (movement, report) for movement, report in world.reports_of("MARA")}


def test_export_is_weekly_gbk_csv_per_record_type(world: World, tmp_path: Path) -> None:
    files = mara.export(world, tmp_path)
    names = [path.name for path in files]
    assert len(files) == 15  # 5 record types × 3 weeks
    assert "mara-quarantine-20261102.csv" in names
    assert "mara-origin-exit-20261116.csv" in names
    data = files[0].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("gbk").startswith("记录编号,记录类型,主体名称")
    assert mara.export(world, tmp_path / "again")[0].read_bytes() == data  # deterministic


def test_every_mara_report_maps_and_validates(world: World, exported: dict[str, Any]) -> None:
    expected = reports(world)
    assert set(exported) == set(expected)
    for record_id, (event, record) in exported.items():
        movement, _report = expected[record_id]
        assert event["bizStep"] == movement.step
        assert event["action"] == ("ADD" if movement.step == "commissioning" else "OBSERVE")
        assert event["tb:traceCode"] == movement.trace_code
        assert record["trace"]["reporting_department"] == "MARA"
        assert record["trace"]["business_uscc"] == movement.location.uscc
        assert record["trace"]["region_code"] == movement.location.region_code
        if movement.destination is not None:
            assert record["trace"]["source_business"]["uscc"] == movement.source.uscc  # type: ignore[union-attr]
            assert record["trace"]["destination_business"]["uscc"] == movement.destination.uscc


def test_event_time_is_the_reported_local_time_in_china(world: World, exported: dict[str, Any]) -> None:
    skewed = [(mv, r) for mv, r in world.reports_of("MARA") if r.skew_minutes]
    assert skewed, "the world has MARA reports with a skewed clock"
    for movement, report in skewed:
        event, _ = exported[report.record_id]
        assert event["eventTimeZoneOffset"] == "+08:00"
        local = movement.reported_time(report).strftime("%Y-%m-%dT%H:%M:%S")
        assert event["eventTime"] == f"{local}+08:00"


def test_products_with_a_gtin_are_lgtin_classes_and_live_pigs_a_batch(exported: dict[str, Any]) -> None:
    classes = {event["src:recordType"]: event["quantityList"][0] for event, _ in exported.values()}
    assert classes["屠宰加工"]["epcClass"].startswith("urn:epc:class:lgtin:6901234.012345.TZ-")
    assert classes["合格证开具"]["epcClass"].startswith("urn:epc:class:lgtin:6905555.000871.QC-")
    assert classes["产地检疫"]["epcClass"].startswith("urn:tracebus:class:batch:")
    assert classes["产地检疫"]["uom"] == "H87"  # 头
    assert classes["屠宰加工"]["uom"] == "KGM"


def test_certificates_and_plot(exported: dict[str, Any]) -> None:
    by_type = {event["src:recordType"]: event for event, _ in exported.values()}
    slaughter = by_type["屠宰加工"]
    assert [c["tb:type"] for c in slaughter["tb:certificates"]] == ["animal-quarantine", "meat-quality"]
    assert slaughter["src:inputBatches"][0].startswith("SZ-")
    harvest = by_type["合格证开具"]
    (compliance,) = harvest["tb:certificates"]
    assert compliance["tb:type"] == "compliance"
    assert compliance["tb:issuer"]
    assert harvest["readPoint"]["id"].startswith("urn:tracebus:loc:plot:")


def test_personal_data_of_farmers_only_under_pii(world: World, exported: dict[str, Any]) -> None:
    farmer = world.businesses["farmer-wang"]
    assert farmer.person_id_number
    assert farmer.person_phone
    theirs = [(e, r) for e, r in exported.values() if e["tb:businessUSCC"] == farmer.uscc]
    assert theirs
    for event, record in theirs:
        assert event["pii:idNumber"] == farmer.person_id_number
        assert event["pii:phone"] == farmer.person_phone
        rest = orjson.dumps({k: v for k, v in event.items() if not k.startswith("pii:")}).decode()
        assert farmer.person_id_number not in rest
        assert farmer.person_phone not in rest
        stored = orjson.dumps({k: v for k, v in record.items() if k != "event"}).decode()
        assert farmer.person_id_number not in stored
        pii = {k for k, v in record["event"]["extensions"].items() if farmer.person_phone in v}
        assert pii == {"pii:phone"}
    others = [e for e, _ in exported.values() if e["tb:businessUSCC"] != farmer.uscc]
    assert not any(k.startswith("pii:") for e in others for k in e)


def test_report_units_are_converted_and_the_original_kept(world: World) -> None:
    movement, report = next((mv, r) for mv, r in world.reports_of("MARA") if mv.unit == "公斤")
    in_jin = dataclasses.replace(report, unit="斤")
    row = mara.row(movement, in_jin)
    assert row[m.UNIT] == "斤"
    assert row[m.QUANTITY] == mara.number(movement.quantity * 2)
    (event,) = mapper_for("mara").map(row).events
    assert event["quantityList"][0]["quantity"] == pytest.approx(float(movement.quantity))
    assert event["quantityList"][0]["uom"] == "KGM"
    assert event["src:originalQuantity"][0]["src:unit"] == "斤"
    assert event["src:originalQuantity"][0]["src:value"] == row[m.QUANTITY]


def test_missing_fields_are_left_empty(world: World) -> None:
    movement, report = next((mv, r) for mv, r in world.reports_of("MARA") if mv.chain == "veg" and mv.destination)
    row = mara.row(movement, dataclasses.replace(report, missing=frozenset({"destination_name"})))
    assert row["收货方名称"] == ""
    (event,) = mapper_for("mara").map(row).events
    assert event["tb:destinationBusiness"] == {"tb:uscc": movement.destination.uscc}  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="no column"):
        mara.row(movement, dataclasses.replace(report, missing=frozenset({"origin_country"})))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({m.QUANTITY: "十二"}, "bad-quantity"),
        ({m.RECORD_TYPE: "生鲜乳收购"}, "unknown-record-type"),
        ({m.TRACE_CODE: ""}, "missing-field"),
        ({m.BUSINESS_USCC: "93330109MA2B00027X"}, "bad-uscc"),
        ({m.UNIT: "担"}, "unknown-unit"),
        ({"准出时间": "20261120"}, "bad-time"),
        ({m.BUSINESS_KIND: "外星农场"}, "unknown-business-kind"),
    ],
)
def test_broken_rows_give_a_clear_reason(change: dict[str, str], reason: str) -> None:
    row = origin_exit_row(1, "t") | change
    with pytest.raises(SourceRecordError) as caught:
        mapper_for("mara").map(row)
    assert caught.value.reason == reason


def test_config_defaults_fit_the_platform() -> None:
    config = spec("mara-platform").parse({"name": "mara", "connector.class": "mara-platform", "file.path": "/tmp"})
    assert isinstance(config, MaraPlatformConfig)
    assert (config.platform, config.mapper, config.file_pattern) == ("MARA", "mara", "mara-*.csv")


async def test_the_kit_writes_what_the_source_reads(tmp_path: Path) -> None:
    kit = MaraPlatformKit()
    await kit.setup(tmp_path / "kit", bootstrap_servers="unused:9092", namespace="t")
    good = await kit.put_good(3, start=5)
    bad_raw = await kit.put_bad()
    config = spec("mara-platform").parse(kit.config("mara-kit"))
    assert isinstance(config, MaraPlatformConfig)
    source = MaraPlatformSource(config, tmp_path / "state")
    await source.start({})
    try:
        records = await asyncio.wait_for(poll_all(source, 4), 10)
    finally:
        await source.stop()
    assert [r.identity for r in records[:3]] == good
    assert all(len(r.events) == 1 and r.error is None for r in records[:3])
    assert records[3].error is not None
    assert records[3].error.reason == "bad-quantity"
    assert records[3].raw == bad_raw
    bad_config, key = kit.bad_config("mara-kit")
    with pytest.raises(Exception, match=key.replace(".", r"\.")):
        spec("mara-platform").parse(bad_config)
