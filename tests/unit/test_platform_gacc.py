"""GACC platform: the sample export, the ``gacc`` mapper, and the ``gacc-platform`` source on real files."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.base import SourceRecordError
from connectors.config import parse_config
from connectors.file.readers import read_records
from connectors.mapping import mapper_for
from connectors.platforms.gacc.conformance import GaccPlatformKit, declaration_fields, declarations_file
from connectors.platforms.gacc.source import GaccPlatformConfig, GaccPlatformSource
from connectors.registry import spec
from ops.sampledata import gacc
from ops.sampledata.world import Movement, Report, World, build_world
from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event
from tests.unit.platform_support import poll_all, records_of

NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def exported(world: World, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return gacc.export(world, tmp_path_factory.mktemp("gacc"))


def map_one(record: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the mapped event, the canonical record validation made of it)."""
    mapped = mapper_for("gacc").map(record)
    assert len(mapped.events) == 1
    context = CaptureContext.of(
        reporter="gacc-platform", capture_id="t", received_at_ms=0, context=list(mapped.context)
    )
    result = validate_event(mapped.events[0], context, now=NOW, future_skew=timedelta(0))
    assert isinstance(result, Emit), result
    return mapped.events[0], result.value


def by_record_id(world: World) -> dict[str, tuple[Movement, Report]]:
    return {report.record_id: (movement, report) for movement, report in world.reports_of("GACC")}


def test_every_exported_declaration_maps_validates_and_tells_its_movement(world: World, exported: list[Path]) -> None:
    expected = by_record_id(world)
    assert expected, "the world has GACC reports"
    assert 1 <= len(exported) <= 25
    assert all(p.suffix == ".xml" for p in exported)
    records = records_of(exported)
    assert sorted(r["记录编号"] for r in records) == sorted(expected)
    for record in records:
        event, canonical = map_one(record)
        movement, report = expected[event["src:recordId"]]
        assert event["bizStep"] == movement.step == "receiving"
        assert event["eventTime"] == movement.reported_time(report).isoformat() + "+08:00"
        assert event["eventTimeZoneOffset"] == "+08:00"
        assert event["tb:traceCode"] == movement.trace_code
        assert canonical["trace_key"] == f"trace:{movement.trace_code}"
        assert event["bizTransactionList"] == [
            {"bizTransaction": f"urn:tracebus:doc:customs-declaration:{movement.trace_code}"}
        ]
        assert movement.destination is not None
        assert movement.source is None
        assert event["tb:destinationBusiness"] == {
            "tb:uscc": movement.destination.uscc,
            "tb:name": movement.destination.name,
        }
        assert "tb:sourceBusiness" not in event, "the foreign shipper is not a business of the bus"
        assert event["tb:businessUSCC"] == movement.location.uscc
        assert event["tb:regionCode"] == movement.location.region_code
        assert event["tb:reportingDepartment"] == "GACC"
        assert event["tb:productCategory"] == movement.product.category
        assert event["tb:inboundBatch"] == movement.batch
        assert [c["tb:number"] for c in event["tb:certificates"]] == [c.number for c in movement.certificates]
        assert event["tb:certificates"][0]["tb:type"] == "import-quarantine"
        assert event["src:originCountry"] == "AUS"
        assert movement.origin_country == "AU"


def test_quantity_is_cases_with_the_lot_class_and_the_original_kept(world: World, exported: list[Path]) -> None:
    expected = by_record_id(world)
    for record in records_of(exported):
        event, _ = map_one(record)
        movement, _ = expected[event["src:recordId"]]
        lot_class = f"urn:epc:class:lgtin:6903333.000555.{movement.batch}"
        assert event["quantityList"] == [{"epcClass": lot_class, "quantity": int(movement.quantity), "uom": "XCS"}]
        assert event["src:originalQuantity"] == [
            {"src:epcClass": lot_class, "src:value": str(movement.quantity), "src:unit": "箱"}
        ]
        goods = record["表体"]["商品"]
        assert goods["法定第一数量"] == str(movement.quantity * 20)
        assert goods["法定第一计量单位"] == "千克"


def test_units_the_platform_may_write_are_converted_to_rec20() -> None:
    record = changed(declaration_fields(1, 42), "表体/商品/0/成交数量", "8000")
    record = changed(record, "表体/商品/0/成交计量单位", "斤")
    event, _ = map_one(record)
    assert event["quantityList"][0]["quantity"] == 4000
    assert event["quantityList"][0]["uom"] == "KGM"
    assert event["src:originalQuantity"][0]["src:value"] == "8000"
    assert event["src:originalQuantity"][0]["src:unit"] == "斤"


def test_no_personal_data_anywhere(world: World, exported: list[Path]) -> None:
    people = [b for b in world.businesses.values() if b.natural_person]
    secrets = [v for p in people for v in (p.person_id_number, p.person_phone) if v]
    assert secrets
    for path in exported:
        text = path.read_text(encoding="utf-8")
        assert not any(secret in text for secret in secrets)
    for record in records_of(exported):
        event, _ = map_one(record)
        assert not [key for key in event if key.startswith("pii:")], "a consignee is a company, never a person"
        dumped = orjson.dumps(event).decode()
        assert not any(secret in dumped for secret in secrets)


def test_export_is_deterministic_and_leaves_missing_fields_empty(world: World, tmp_path: Path) -> None:
    first = [p.read_bytes() for p in gacc.export(world, tmp_path / "a")]
    again = [p.read_bytes() for p in gacc.export(build_world(), tmp_path / "b")]
    assert first == again
    movement, report = world.reports_of("GACC")[0]
    hidden = dataclasses.replace(report, missing=frozenset({"origin_country", "certificate"}))
    data = gacc.declarations_xml([(movement, hidden)], "2026-W45")
    (record,) = records_of_bytes(data)
    assert record["表体"]["商品"]["原产国地区代码"] == ""
    assert record["随附单证"]["单证"]["单证编号"] == ""
    event, _ = map_one(record)
    assert "src:originCountry" not in event
    assert "tb:certificates" not in event


def records_of_bytes(data: bytes) -> list[Mapping[str, Any]]:
    return [n.fields for n in read_records(data, "x.xml", file_format="xml", encoding="auto") if n.fields]


def changed(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``record`` with the element at ``path`` (``a/b/0/c``; ``-`` deletes) set to ``value``."""
    copied = copy.deepcopy(record)
    *parents, last = path.split("/")
    target: Any = copied
    for step in parents:
        target = target[int(step)] if isinstance(target, list) else target[step]
    if value == "-":
        del target[last]
    else:
        target[last] = value
    return copied


@pytest.mark.parametrize(
    ("path", "value", "reason", "words"),
    [
        ("记录编号", "", "missing-field", "记录编号"),
        ("表头/报关单号", "", "missing-field", "报关单号"),
        ("表头", "-", "missing-field", "表头"),
        ("表头/进出口标志", "E", "not-an-import", "进出口标志"),
        ("表头/放行时间", "2026/11/20", "bad-time", "2026/11/20"),
        ("表头/境内收货人", "宁波某进出口贸易有限公司", "missing-field", "境内收货人"),
        ("表体/商品", "", "missing-field", "表体/商品"),
        ("表体/商品/0/成交数量", "四百", "bad-quantity", "四百"),
        ("表体/商品/0/成交计量单位", "吨位", "unknown-unit", "吨位"),
        ("表体/商品/0/商品条码", "06903333005559", "bad-gtin", "check digit"),
        ("表体/商品/0/生产批号", "", "missing-field", "生产批号"),
        ("表体/商品/0/原产国地区代码", {"代码": "AUS"}, "bad-structure", "原产国地区代码"),
    ],
)
def test_a_broken_declaration_is_refused_with_a_clear_reason(path: str, value: Any, reason: str, words: str) -> None:
    with pytest.raises(SourceRecordError) as refused:
        mapper_for("gacc").map(changed(declaration_fields(7, 42), path, value))
    assert refused.value.reason == reason
    assert words in str(refused.value)


def test_a_lot_without_a_gtin_is_a_batch_of_the_consignee() -> None:
    event, _ = map_one(changed(declaration_fields(3, 42), "表体/商品/0/商品条码", ""))
    assert event["quantityList"][0]["epcClass"] == "urn:tracebus:class:batch:91330206MA2B000781:BR-AU-00000042"


def test_every_goods_line_is_an_event_and_every_document_a_certificate() -> None:
    record = declaration_fields(4, 42)
    second = copy.deepcopy(record["表体"]["商品"][0]) | {"商品项号": "2", "生产批号": "BR-AU-OTHER", "成交数量": "20"}
    record["表体"]["商品"].append(second)
    record["随附单证"]["单证"].append({"单证类别": "原产地证书", "单证编号": "AU-CO-1", "签发机构": ""})
    (data, _) = declarations_file([record])
    (read,) = records_of_bytes(data)
    mapped = mapper_for("gacc").map(read)
    assert [e["src:lineNumber"] for e in mapped.events] == ["1", "2"]
    assert [e["tb:inboundBatch"] for e in mapped.events] == ["BR-AU-00000042", "BR-AU-OTHER"]
    assert {e["tb:traceCode"] for e in mapped.events} == {"310400000042000004"}
    assert mapped.events[1]["tb:certificates"] == [
        {"tb:type": "import-quarantine", "tb:number": "NB-JY-KIT-000004", "tb:issuer": "宁波海关"},
        {"tb:type": "origin", "tb:number": "AU-CO-1"},
    ]


def test_config_defaults_and_refusal() -> None:
    found = spec("gacc-platform")
    assert found.platform == "GACC"
    assert found.transport == "file"
    config = parse_config(GaccPlatformConfig, {"name": "gacc", "connector.class": "gacc-platform", "file.path": "/tmp"})
    assert (config.platform, config.mapper, config.file_pattern, config.file_format) == ("GACC", "gacc", "*.xml", "xml")
    kit = GaccPlatformKit()
    raw, key = kit.bad_config("gacc")
    with pytest.raises(Exception, match=key.replace(".", r"\.")):
        found.parse(raw)


async def test_the_kit_writes_what_the_source_reads(tmp_path: Path) -> None:
    kit = GaccPlatformKit()
    await kit.setup(tmp_path / "kit", bootstrap_servers="unused:9092", namespace="t")
    good = await kit.put_good(3, start=5)
    bad_raw = await kit.put_bad()
    config = found_config(kit)
    source = GaccPlatformSource(config, tmp_path / "state")
    await source.start({})
    try:
        records = await poll_all(source, 4)
    finally:
        await source.stop()
    ok = [r for r in records if r.error is None]
    assert [r.identity for r in ok] == good
    assert all(len(r.events) == 1 and r.events[0]["tb:reportingDepartment"] == "GACC" for r in ok)
    (bad,) = [r for r in records if r.error is not None]
    assert bad.error is not None
    assert bad.error.reason == "bad-quantity"
    assert bad.raw == bad_raw
    assert "四百".encode() in bad_raw


def found_config(kit: GaccPlatformKit) -> GaccPlatformConfig:
    config = spec("gacc-platform").parse(kit.config("gacc-kit"))
    assert isinstance(config, GaccPlatformConfig)
    return config


def test_declarations_file_elements_are_what_the_reader_gives_as_raw() -> None:
    data, elements = declarations_file([declaration_fields(n, 9) for n in range(2)])
    assert [n.raw for n in read_records(data, "f.xml", file_format="xml", encoding="auto")] == elements
