"""MOFCOM's platform: the sample export, the ``mofcom`` mapper, the ``mofcom-platform`` source and its kit."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.base import SourceRecordError
from connectors.file.readers import read_records
from connectors.mapping import mapper_for
from connectors.platforms.mofcom import mapper as m
from connectors.platforms.mofcom.conformance import MofcomPlatformKit, slaughterhouse_exit
from connectors.platforms.mofcom.source import MofcomPlatformConfig, MofcomPlatformSource
from connectors.registry import spec
from ops.sampledata import mara, mofcom
from ops.sampledata.world import Movement, Report, World, build_world
from tests.unit.platform_support import poll_all, validated

Exported = dict[str, tuple[dict[str, Any], dict[str, Any]]]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


def export_and_map(files: list[Path], mapper_name: str) -> Exported:
    """record id → (event, validated canonical record), over every record of ``files``."""
    mapper = mapper_for(mapper_name)
    found = {}
    for path in files:
        for native in read_records(path.read_bytes(), path.name, file_format="auto", encoding="auto"):
            assert native.error is None, native.error
            assert native.fields is not None
            if not native.fields.get("追溯码"):  # the world's record broken on purpose (no trace code)
                with pytest.raises(SourceRecordError, match="追溯码"):
                    mapper.map(native.fields)
                continue
            mapped = mapper.map(native.fields)
            (event,) = mapped.events
            found[str(event["src:recordId"])] = (event, validated(event, mapped.context))
    return found


@pytest.fixture(scope="module")
def exported(world: World, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    return export_and_map(mofcom.export(world, tmp_path_factory.mktemp("mofcom")), "mofcom")


def reports(world: World) -> dict[str, tuple[Movement, Report]]:
    return {
        report.record_id: (movement, report)
        for movement, report in world.reports_of("MOFCOM")
        if "trace_code" not in report.missing  # broken on purpose: dead-lettered, tested in export_and_map
    }


def test_export_is_one_utf8_jsonl_file_per_day(world: World, tmp_path: Path) -> None:
    files = mofcom.export(world, tmp_path)
    assert [p.name for p in files][:2] == ["mofcom-20261102.jsonl", "mofcom-20261103.jsonl"]
    assert len(files) == 21
    lines = files[0].read_bytes().decode("utf-8").splitlines()
    first = orjson.loads(lines[0])
    assert first[m.RECORD_TYPE] == "屠宰厂出厂"
    assert first[m.QUARANTINE]
    assert first[m.MEAT_QUALITY]
    assert first[m.VOUCHER]
    times = [next(v for k, v in orjson.loads(line).items() if k.endswith("时间")) for line in lines]
    assert times == sorted(times)
    assert all(t.startswith("2026-11-02 ") for t in times)
    assert mofcom.export(world, tmp_path / "again")[0].read_bytes() == files[0].read_bytes()


def test_every_mofcom_report_maps_and_validates(world: World, exported: Exported) -> None:
    expected = reports(world)
    assert set(exported) == set(expected)
    for record_id, (event, record) in exported.items():
        movement, report = expected[record_id]
        assert event["bizStep"] == movement.step
        assert event["action"] == "OBSERVE"
        assert event["tb:traceCode"] == movement.trace_code
        local = movement.reported_time(report).strftime("%Y-%m-%dT%H:%M:%S")
        assert event["eventTime"] == f"{local}+08:00"
        trace = record["trace"]
        assert trace["reporting_department"] == "MOFCOM"
        assert trace["business_uscc"] == movement.location.uscc
        assert trace["source_business"]["uscc"] == movement.source.uscc  # type: ignore[union-attr]
        assert trace["destination_business"]["uscc"] == movement.destination.uscc  # type: ignore[union-attr]
        if movement.voucher:
            assert event["bizTransactionList"][0]["bizTransaction"].endswith(movement.voucher)
        assert {c["number"] for c in trace["certificates"]} == {c.number for c in movement.certificates}


def test_receipts_name_the_inbound_batch_and_quantities_are_in_rec20(exported: Exported) -> None:
    receipts = [e for e, _ in exported.values() if e["bizStep"] == "receiving"]
    assert receipts
    assert all("tb:inboundBatch" in e and "tb:outboundBatch" not in e for e in receipts)
    for event, _ in exported.values():
        (line,) = event["quantityList"]
        assert line["uom"] == "KGM"
        assert line["epcClass"].startswith("urn:epc:class:lgtin:690")
        assert event["src:originalQuantity"][0]["src:unit"] == "公斤"


def test_stall_holders_personal_data_only_under_pii(world: World, exported: Exported) -> None:
    stalls = [b for b in world.businesses.values() if b.natural_person and b.role == "retailer"]
    assert stalls
    for stall in stalls:
        assert stall.person_id_number
        assert stall.person_phone
        theirs = [
            (e, r) for e, r in exported.values() if e.get("tb:destinationBusiness", {}).get("tb:uscc") == stall.uscc
        ]
        assert theirs
        for event, record in theirs:
            assert (event["pii:idNumber"], event["pii:phone"]) == (stall.person_id_number, stall.person_phone)
            rest = orjson.dumps({k: v for k, v in event.items() if not k.startswith("pii:")}).decode()
            assert stall.person_id_number not in rest
            assert stall.person_phone not in rest
            assert stall.person_id_number not in orjson.dumps(record["trace"]).decode()
    companies = [
        e for e, _ in exported.values() if e["bizStep"] == "shipping" and e["tb:businessRole"] == "slaughterhouse"
    ]
    assert companies
    assert not any(k.startswith("pii:") for e in companies for k in e)


def test_reports_of_one_movement_by_mara_and_mofcom_meet(world: World, exported: Exported, tmp_path: Path) -> None:
    theirs = export_and_map(mara.export(world, tmp_path), "mara")
    merges = [ids for _, ids in world.expected_merges() if {p for p, _ in ids} == {"MARA", "MOFCOM"}]
    assert len(merges) == 11
    for ids in merges:
        records = [(theirs if platform == "MARA" else exported)[record_id][1] for platform, record_id in ids]
        assert len({r["trace_key"] for r in records}) == 1
        assert len({r["event"]["biz_step"] for r in records}) == 1
        times = sorted(datetime.fromisoformat(r["event"]["event_time"]) for r in records)
        assert times[-1] - times[0] < timedelta(hours=24)
        for side in ("source_business", "destination_business"):
            assert len({r["trace"][side]["uscc"] for r in records}) == 1
    # near misses (the rest of a lot to another market) keep the trace key but not the destination
    misses = [mv for mv in world.movements if mv.near_miss_kind == "near-dest" and mv.chain == "pork"]
    assert misses
    for miss in misses:
        (report,) = miss.reports
        _, record = exported[report.record_id]
        assert record["trace"]["destination_business"]["uscc"] == world.businesses["market-b"].uscc


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({m.QUANTITY: "五百"}, "bad-quantity"),
        ({m.RECORD_TYPE: "超市进货"}, "unknown-record-type"),
        ({m.TRACE_CODE: None}, "missing-field"),
        ({m.NODE_USCC: "91350200776049653B"}, "bad-uscc"),
        ({m.BUYER: "杭州某农副产品批发市场"}, "bad-party"),
        ({m.NODE_KIND: "屠宰场子"}, "unknown-business-kind"),
        ({m.REGION: "3301"}, "bad-region"),
    ],
)
def test_broken_records_give_a_clear_reason(change: dict[str, Any], reason: str) -> None:
    record = slaughterhouse_exit(1, "t") | change
    with pytest.raises(SourceRecordError) as caught:
        mapper_for("mofcom").map(record)
    assert caught.value.reason == reason


def test_missing_counterparty_name_is_left_empty(world: World) -> None:
    movement, report = next((mv, r) for mv, r in world.reports_of("MOFCOM") if mv.step == "receiving")
    record = mofcom.record(movement, dataclasses.replace(report, missing=frozenset({"source_name"})))
    assert record[m.SUPPLIER][m.PARTY_NAME] == ""
    (event,) = mapper_for("mofcom").map(record).events
    assert event["tb:sourceBusiness"] == {"tb:uscc": movement.source.uscc}  # type: ignore[union-attr]


def test_config_defaults_fit_the_platform() -> None:
    raw = {"name": "mofcom", "connector.class": "mofcom-platform", "file.path": "/tmp"}
    config = spec("mofcom-platform").parse(raw)
    assert isinstance(config, MofcomPlatformConfig)
    assert (config.platform, config.mapper, config.file_pattern) == ("MOFCOM", "mofcom", "mofcom-*.jsonl")
    assert (config.file_format, config.file_encoding) == ("jsonl", "utf-8")


async def test_the_kit_writes_what_the_source_reads(tmp_path: Path) -> None:
    kit = MofcomPlatformKit()
    await kit.setup(tmp_path / "kit", bootstrap_servers="unused:9092", namespace="t")
    good = await kit.put_good(3, start=5)
    bad_raw = await kit.put_bad()
    config = spec("mofcom-platform").parse(kit.config("mofcom-kit"))
    assert isinstance(config, MofcomPlatformConfig)
    source = MofcomPlatformSource(config, tmp_path / "state")
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
    bad_config, key = kit.bad_config("mofcom-kit")
    with pytest.raises(Exception, match=key.replace(".", r"\.")):
        spec("mofcom-platform").parse(bad_config)
