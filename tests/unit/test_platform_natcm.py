"""NATCM platform: the sample CSV export, the ``natcm`` mapper, and the ``natcm-platform`` source on real files."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.base import SourceRecord, SourceRecordError
from connectors.file.readers import BOM
from connectors.mapping import mapper_for
from connectors.platforms.natcm.conformance import NatcmPlatformKit, sale_row
from connectors.platforms.natcm.source import NatcmPlatformConfig, NatcmPlatformSource
from connectors.registry import spec
from ops.sampledata import natcm
from ops.sampledata.world import Business, Movement, Report, World, build_world
from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event
from tests.unit.platform_support import records_of

NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def exported(world: World, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return natcm.export(world, tmp_path_factory.mktemp("natcm"))


def map_one(record: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the mapped event, the canonical record the bus's validation made of it)."""
    mapped = mapper_for("natcm").map(record)
    assert len(mapped.events) == 1
    context = CaptureContext.of(reporter="natcm", capture_id="t", received_at_ms=0, context=list(mapped.context))
    result = validate_event(mapped.events[0], context, now=NOW, future_skew=timedelta(0))
    assert isinstance(result, Emit), result
    return mapped.events[0], result.value


def reports(world: World) -> dict[str, tuple[Movement, Report]]:
    return {report.record_id: (movement, report) for movement, report in world.reports_of("NATCM")}


def test_every_exported_row_maps_validates_and_tells_its_movement(world: World, exported: list[Path]) -> None:
    expected = reports(world)
    assert 1 <= len(exported) <= 25
    assert all(path.read_bytes().startswith(BOM) and path.name.startswith("natcm-") for path in exported)
    rows = records_of(exported)
    assert sorted(row["记录编号"] for row in rows) == sorted(expected)
    for row in rows:
        event, canonical = map_one(row)
        movement, report = expected[event["src:recordId"]]
        assert event["bizStep"] == movement.step
        assert event["eventTime"] == movement.reported_time(report).isoformat() + "+08:00"  # China time
        assert event["tb:traceCode"] == movement.trace_code
        assert canonical["trace_key"] == f"trace:{movement.trace_code}"
        assert event["tb:reportingDepartment"] == "NATCM"
        assert event["tb:reportingPlatform"] == "natcm-zyc-zs"
        assert event["tb:productCategory"] == movement.product.category
        assert event["tb:businessUSCC"] == movement.location.uscc
        assert event["tb:businessRole"] == movement.location.role
        assert event["tb:regionCode"] == movement.location.region_code
        certificates = sorted(c["tb:number"] for c in event.get("tb:certificates", []))
        assert certificates == sorted(c.number for c in movement.certificates)
        if movement.destination is not None:
            assert event["tb:sourceBusiness"] == {"tb:uscc": movement.location.uscc, "tb:name": movement.location.name}
            assert event["tb:destinationBusiness"] == {
                "tb:uscc": movement.destination.uscc,
                "tb:name": movement.destination.name,
            }


def test_harvest_processing_and_slices_become_their_event_shapes(world: World, exported: list[Path]) -> None:
    events = {e["src:recordId"]: e for e in (map_one(row)[0] for row in records_of(exported))}
    (harvest,) = [e for key, e in events.items() if key.startswith("NATCM-ZZ-")]
    assert (harvest["type"], harvest["action"]) == ("ObjectEvent", "ADD")
    assert harvest["quantityList"] == [
        {"epcClass": "urn:epc:class:lgtin:6908888.000101.ZBM-2026-XS01", "quantity": 2400, "uom": "KGM"}
    ]
    assert harvest["readPoint"]["id"].startswith("urn:tracebus:loc:plot:93330727MA2B00086W:")
    assert harvest["tb:certificates"] == [
        {"tb:type": "origin", "tb:number": "PA-ZBM-2026-001", "tb:issuer": "磐安县农业农村局"}
    ]
    transformations = [e for e in events.values() if e["type"] == "TransformationEvent"]
    assert len(transformations) == 2
    by_output = {e["outputQuantityList"][0]["epcClass"].rsplit(".", 1)[1]: e for e in transformations}
    assert by_output["ZBM-2026-GP01"]["inputQuantityList"] == [
        {"epcClass": "urn:epc:class:lgtin:6908888.000101.ZBM-2026-XS01"}
    ]
    slices = by_output["ZBMYP-20261110"]
    assert slices["inputQuantityList"] == [{"epcClass": "urn:epc:class:lgtin:6908888.000101.ZBM-2026-GP01"}]
    assert slices["outputQuantityList"][0] == {
        "epcClass": "urn:epc:class:lgtin:6908888.000201.ZBMYP-20261110",
        "quantity": 1400,
        "uom": "XBG",
    }
    assert slices["src:originalQuantity"] == [
        {"src:epcClass": slices["outputQuantityList"][0]["epcClass"], "src:value": "1400", "src:unit": "袋"}
    ]
    assert slices["src:licence"] == "浙20000456"
    assert "action" not in slices


def test_report_unit_and_missing_fields_are_honoured(world: World, tmp_path: Path) -> None:
    """A report in 斤 with its seller's name left empty: the export converts, the mapper keeps the original."""
    sale = next(m for m in world.movements if "NATCM" in {r.platform for r in m.reports} and m.step == "shipping")
    report = Report("NATCM", "NATCM-XS-99999", unit="斤", missing=frozenset({"source_name"}))
    changed = World(world.businesses, world.products, [dataclasses.replace(sale, reports=(report,))])
    (path,) = natcm.export(changed, tmp_path)
    (row,) = records_of([path])
    assert (row["数量"], row["单位"], row["主体名称"]) == (str(sale.quantity * 2), "斤", "")
    event, _ = map_one(row)
    assert Decimal(str(event["quantityList"][0]["quantity"])) == sale.quantity  # back in kilograms
    assert event["quantityList"][0]["uom"] == "KGM"
    assert event["src:originalQuantity"][0] == {
        "src:epcClass": event["quantityList"][0]["epcClass"],
        "src:value": str(sale.quantity * 2),
        "src:unit": "斤",
    }
    assert event["tb:sourceBusiness"] == {"tb:uscc": sale.location.uscc}  # no name: none invented


def test_a_natural_person_grower_is_personal_data_only_under_pii(world: World, tmp_path: Path) -> None:
    harvest = next(m for m in world.movements if m.chain == "herb" and m.step == "commissioning")
    farmer = Business(
        "herb-farmer", world.businesses["farmer-wang"].uscc, "张某某（个体药农）", "producer", "330727",
        natural_person=True, person_id_number="330727196804122316", person_phone="13905710099",
    )  # fmt: skip
    changed = World(world.businesses, world.products, [dataclasses.replace(harvest, location=farmer)])
    (row,) = records_of(natcm.export(changed, tmp_path))
    event, _ = map_one(row)
    assert (event["pii:idNumber"], event["pii:phone"]) == ("330727196804122316", "13905710099")
    outside = orjson.dumps({k: v for k, v in event.items() if not k.startswith("pii:")}).decode()
    assert "330727196804122316" not in outside
    assert "13905710099" not in outside
    cooperative, _ = map_one(records_of(natcm.export(build_world(), tmp_path / "all"))[0])
    assert not any(key.startswith("pii:") for key in cooperative)  # a cooperative has no personal data


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"业务类型": "种植"}, "unknown-record-type"),
        ({"数量": "八百"}, "bad-quantity"),
        ({"单位": "担"}, "unknown-unit"),
        ({"销售时间": "2026/11/07"}, "bad-time"),
        ({"购货单位统一社会信用代码": ""}, "missing-field"),
        ({"主体类型": "个体户"}, "unknown-business-type"),
        ({"产品编码": "06908888001018"}, "bad-gtin"),
    ],
)
def test_a_broken_row_is_a_source_record_error_with_a_clear_reason(change: dict[str, str], reason: str) -> None:
    with pytest.raises(SourceRecordError) as caught:
        mapper_for("natcm").map(sale_row(1, "t") | change)
    assert caught.value.reason == reason


def test_transformation_inputs_must_pair_batches_with_codes(world: World, exported: list[Path]) -> None:
    (slices,) = [row for row in records_of(exported) if row["业务类型"] == "饮片生产"]
    with pytest.raises(SourceRecordError) as caught:
        mapper_for("natcm").map(slices | {"原料批号": "A;B;C", "原料产品编码": "06908888001017;06908888001017"})
    assert caught.value.reason == "bad-inputs"
    event, _ = map_one(slices | {"原料批号": "A;B", "原料产品编码": "06908888001017"})
    assert [q["epcClass"].rsplit(".", 1)[1] for q in event["inputQuantityList"]] == ["A", "B"]


def test_config_defaults(tmp_path: Path) -> None:
    found = spec("natcm-platform")
    assert (found.platform, found.kind, found.transport) == ("NATCM", "source", "file")
    config = found.parse({"name": "natcm", "connector.class": "natcm-platform", "file.path": str(tmp_path)})
    assert isinstance(config, NatcmPlatformConfig)
    assert (config.platform, config.mapper, config.file_pattern) == ("NATCM", "natcm", "natcm-*.csv")
    raw, key = NatcmPlatformKit().bad_config("natcm")
    with pytest.raises(Exception, match=key.replace(".", r"\.")):
        found.parse(raw)


async def test_the_kit_writes_what_the_source_reads(tmp_path: Path) -> None:
    kit = NatcmPlatformKit()
    await kit.setup(tmp_path / "kit", bootstrap_servers="unused:9092", namespace="t")
    good = await kit.put_good(3, start=5)
    bad_raw = await kit.put_bad()
    (kit.directory / "other.csv").write_bytes(b"not,ours\r\n1,2\r\n")  # outside file.pattern: never read
    config = spec("natcm-platform").parse(kit.config("natcm-kit"))
    assert isinstance(config, NatcmPlatformConfig)
    source = NatcmPlatformSource(config, tmp_path / "state")
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
    assert all(r.events[0]["tb:reportingDepartment"] == "NATCM" for r in ok)
    (bad,) = [r for r in records if r.error is not None]
    assert bad.error is not None
    assert bad.error.reason == "bad-quantity"
    assert bad.raw == bad_raw
    assert "十二".encode() in bad_raw
    assert (kit.directory / "other.csv").exists()


def test_export_is_deterministic(world: World, tmp_path: Path) -> None:
    first = natcm.export(world, tmp_path / "a")
    second = natcm.export(build_world(), tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    assert natcm.report_quantity(
        dataclasses.replace(world.movements[0], quantity=Decimal(12), unit="罐"), Report("X", "x", unit="箱")
    ) == (Decimal(2), "箱")
