"""MIIT platform (issue 7): infant formula batch documents exported from the sample world map to valid events."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import SourceRecord, SourceRecordError
from connectors.config import parse_config
from connectors.file.readers import read_records
from connectors.mapping import mapper_for
from connectors.platforms.miit.conformance import MiitPlatformKit, shipment
from connectors.platforms.miit.source import MiitPlatformConfig, MiitPlatformSource
from ops.sampledata import miit, samr
from ops.sampledata.world import Movement, Report, World, build_world
from streams.steps.dedupe import movement_key
from tests.unit.platform_support import validated


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def exported(world: World, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return miit.export(world, tmp_path_factory.mktemp("miit"))


def events_of(paths: list[Path], mapper_name: str) -> list[dict[str, Any]]:
    mapper = mapper_for(mapper_name)
    found = []
    for path in paths:
        for native in read_records(path.read_bytes(), path.name, file_format="auto", encoding="auto"):
            assert native.fields is not None, native.error
            (event,) = mapper.map(native.fields).events
            found.append(event)
    return found


def reports(world: World, platform: str) -> dict[str, tuple[Movement, Report]]:
    return {report.record_id: (movement, report) for movement, report in world.reports_of(platform)}


def test_export_is_one_document_per_batch_with_its_shipments(
    world: World, exported: list[Path], tmp_path: Path
) -> None:
    assert sorted(p.name for p in exported) == [
        "miit-formula-batch-RF20261103A.json",
        "miit-formula-batch-RF20261110A.json",
        "miit-formula-batch-RF20261117A.json",
    ]
    for path in exported:
        records = json.loads(path.read_text(encoding="utf-8"))
        assert [r["记录类型"] for r in records] == ["生产批次", "发货记录"]
        assert {r["生产批号"] for r in records} == {path.stem.rsplit("-", 1)[1]}
        assert records[0]["原料乳来源"][0]["企业名称"] == "黑龙江某奶牛养殖专业合作社"
    again = {p.name: p.read_bytes() for p in miit.export(world, tmp_path)}
    assert again == {p.name: p.read_bytes() for p in exported}


def test_every_record_maps_to_a_valid_event(world: World, exported: list[Path]) -> None:
    by_id = reports(world, "MIIT")
    events = events_of(exported, "miit")
    assert sorted(e["src:recordId"] for e in events) == sorted(by_id)
    for event in events:
        movement, report = by_id[event["src:recordId"]]
        record = validated(event)
        trace = record["trace"]
        assert (trace["reporting_department"], trace["reporting_platform"]) == ("MIIT", "miit-formula-trace")
        assert event["bizStep"] == movement.step
        assert event["action"] == ("ADD" if movement.step == "commissioning" else "OBSERVE")
        assert event["eventTime"] == movement.reported_time(report).isoformat() + "+08:00"
        assert trace["trace_code"] == trace["outbound_batch"] == movement.trace_code
        assert record["trace_key"] == f"trace:{movement.trace_code}"
        assert (trace["business_uscc"], trace["business_role"], trace["region_code"]) == (
            movement.location.uscc,
            movement.location.role,
            movement.location.region_code,
        )
        (element,) = event["quantityList"]
        assert element == {
            "epcClass": f"urn:epc:class:lgtin:6902468.000200.{movement.batch}",
            "quantity": movement.quantity,
            "uom": "XCX",
        }
        assert event["src:originalQuantity"] == [
            {"src:epcClass": element["epcClass"], "src:value": str(movement.quantity), "src:unit": "罐"}
        ]
        assert not any(key.startswith("pii:") for key in event)


def test_batches_carry_test_reports_and_raw_milk_sources_but_no_parties(world: World, exported: list[Path]) -> None:
    by_id = reports(world, "MIIT")
    batches = [e for e in events_of(exported, "miit") if e["bizStep"] == "commissioning"]
    assert len(batches) == 3
    farm = world.businesses["raw-milk-farm"]
    for event in batches:
        movement, _ = by_id[event["src:recordId"]]
        (report,) = movement.certificates
        assert event["tb:certificates"] == [
            {"tb:type": "test-report", "tb:number": report.number, "tb:issuer": report.issuer}
        ]
        assert event["src:rawMilkSources"] == [
            {"src:uscc": farm.uscc, "src:name": farm.name, "src:regionCode": "230103"}
        ]
        assert "tb:sourceBusiness" not in event
        assert "tb:destinationBusiness" not in event
        assert movement_key(validated(event)) is None  # not a movement between businesses: merges with nothing


def test_miit_and_samr_reports_of_one_shipment_meet(world: World, exported: list[Path], tmp_path: Path) -> None:
    """Same trace key, step, source and destination (the router's merge key), and the same quantity in tins,
    though SAMR's 销货台账 counts cases."""
    miit_events = {e["src:recordId"]: e for e in events_of(exported, "miit")}
    samr_events = {e["src:recordId"]: e for e in events_of(samr.export(world, tmp_path), "samr")}
    merged = [ids for _, ids in world.expected_merges() if {p for p, _ in ids} == {"MIIT", "SAMR"}]
    assert len(merged) == 3
    for ids in merged:
        found = dict(ids)
        ours, theirs = miit_events[found["MIIT"]], samr_events[found["SAMR"]]
        assert movement_key(validated(ours)) == movement_key(validated(theirs)) is not None
        assert ours["quantityList"] == theirs["quantityList"]
        assert theirs["src:originalQuantity"][0]["src:unit"] == "箱"
        assert ours["bizTransactionList"] == theirs["bizTransactionList"]
        skew = datetime.fromisoformat(ours["eventTime"]) - datetime.fromisoformat(theirs["eventTime"])
        assert timedelta(0) < skew < timedelta(hours=24)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"数量": "四百"}, "bad-quantity"),
        ({"单位": "听听"}, "unknown-unit"),
        ({"发货时间": "2026/11/20"}, "bad-time"),
        ({"记录类型": "召回记录"}, "unknown-record-type"),
        ({"生产批号": " "}, "missing-field"),
        ({"收货单位": None}, "missing-field"),
        ({"出厂检验报告": "JC-1"}, "bad-field"),
    ],
)
def test_a_broken_record_is_a_source_record_error(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(SourceRecordError) as caught:
        mapper_for("miit").map(shipment(1, "t") | change)
    assert caught.value.reason == reason


def test_the_conformance_kit_writes_what_the_source_reads(tmp_path: Path) -> None:
    kit = MiitPlatformKit()
    asyncio.run(kit.setup(tmp_path / "kit", bootstrap_servers="unused", namespace="t"))
    identities = asyncio.run(kit.put_good(3))
    raw = asyncio.run(kit.put_bad())
    config = parse_config(MiitPlatformConfig, kit.config("miit-test"))
    assert (config.platform, config.mapper, config.file_pattern) == ("MIIT", "miit", "miit-*.json")
    source = MiitPlatformSource(config, tmp_path / "state")

    async def run() -> list[SourceRecord]:
        await source.start({})
        got: list[SourceRecord] = []
        try:
            for _ in range(50):
                records = await source.poll()
                got.extend(records)
                await source.committed(records)
                if len(got) >= 4:
                    break
        finally:
            await source.stop()
        return got

    records = asyncio.run(run())
    good = [r for r in records if r.error is None]
    bad = [r for r in records if r.error is not None]
    assert [r.identity for r in good] == identities
    for record in good:
        (event,) = record.events
        validated(event)
    assert len(bad) == 1
    assert bad[0].error is not None
    assert bad[0].error.reason == "bad-quantity"
    assert bad[0].raw == raw
