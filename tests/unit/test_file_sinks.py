"""connectors.files (jsonl-sink, csv-sink) and connectors.epcis_export: real files in a temporary directory."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.base import SinkRecord
from connectors.config import parse_config
from connectors.epcis_export.conformance import EpcisExportKit
from connectors.epcis_export.connector import EpcisExportConfig, EpcisExportSink
from connectors.errors import ConnectorConfigError, RetriableSinkError
from connectors.files.conformance import CsvSinkKit, JsonlSinkKit
from connectors.files.connector import CsvSink, DailyFileSinkConfig, JsonlSink
from connectors.files.daily import whole_rows_length
from connectors.files.formats import CSV_COLUMNS, csv_cells, escape_cell
from connectors.registry import ConnectorContext
from schemas.epcis.document import parse_document
from schemas.epcis.hash import document_hashes, event_hash
from schemas.epcis.trace_extension import TRACE_NAMESPACE
from streams.settings import KafkaSettings, Settings
from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event
from streams.testing import MARKET, SLAUGHTERHOUSE

# 23:59:30 on 20 November in China (UTC+8) is 15:59:30 UTC
BEFORE_MIDNIGHT = datetime(2026, 11, 20, 15, 59, 30, tzinfo=UTC)
AFTER_MIDNIGHT = BEFORE_MIDNIGHT + timedelta(minutes=1)
TOPIC = "tracebus.deliver.samr-all"
MARKET_NAME = "上海市西郊国际农产品交易中心"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def canonical(serial: int, *, certificates: Sequence[str] = ("3301202611200042",)) -> dict[str, Any]:
    """A shipment to a market with a Chinese name, validated as capture does (so ``event_id`` is its hash)."""
    submitted: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": f"2026-11-20T06:{serial % 60:02d}:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "quantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.L1", "quantity": 420.5, "uom": "KGM"}],
        "tb:reportingDepartment": "MOFCOM",
        "tb:businessUSCC": SLAUGHTERHOUSE,
        "tb:traceCode": f"TC{serial:06d}",
        "tb:sourceBusiness": {"tb:uscc": SLAUGHTERHOUSE},
        "tb:destinationBusiness": {"tb:uscc": MARKET, "tb:name": MARKET_NAME},
        "tb:certificates": [{"tb:type": "animal-quarantine", "tb:number": n} for n in certificates],
    }
    capture = CaptureContext.of(
        reporter="mofcom-platform", capture_id="cap-1", received_at_ms=0, context=[{"tb": TRACE_NAMESPACE}]
    )
    result = validate_event(submitted, capture, now=AFTER_MIDNIGHT, future_skew=timedelta(0))
    assert isinstance(result, Emit), result
    return result.value


def sink_record(record: dict[str, Any], offset: int = 0) -> SinkRecord:
    key = str(record["trace_key"]).encode()
    return SinkRecord(topic=TOPIC, partition=0, offset=offset, key=key, value=b"", headers=(), record=record)


def records(count: int, *, start: int = 0) -> list[SinkRecord]:
    return [sink_record(canonical(i), offset=i) for i in range(start, start + count)]


def context(tmp_path: Path) -> ConnectorContext:
    return ConnectorContext(settings=Settings(), kafka=KafkaSettings(), registry=None, state_dir=tmp_path / "state")


def file_config(tmp_path: Path, cls: str, **keys: Any) -> DailyFileSinkConfig:
    raw = {"name": "samr-files", "connector.class": cls, "topics": ["deliver.samr-all"], "file.path": str(tmp_path)}
    return parse_config(DailyFileSinkConfig, {**raw, **keys})


async def jsonl_sink(tmp_path: Path, clock: Clock, **keys: Any) -> JsonlSink:
    sink = JsonlSink.create(file_config(tmp_path, "jsonl-sink", **keys), context(tmp_path), clock=clock)
    await sink.start()
    return sink


async def csv_sink(tmp_path: Path, clock: Clock, **keys: Any) -> CsvSink:
    sink = CsvSink.create(file_config(tmp_path, "csv-sink", **keys), context(tmp_path), clock=clock)
    await sink.start()
    return sink


def jsonl_ids(path: Path) -> list[str]:
    return [orjson.loads(line)["event_id"] for line in path.read_bytes().splitlines()]


def csv_table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.reader(stream))


def names(directory: Path, pattern: str) -> list[str]:
    return sorted(p.name for p in directory.glob(pattern))


def ids(batch: Sequence[SinkRecord]) -> list[str]:
    return [r.event_id for r in batch]


# --- JSON Lines ---------------------------------------------------------------------------------------------


async def test_jsonl_line_is_flat_with_the_epcis_event_whose_hash_is_the_identity(tmp_path: Path) -> None:
    sink = await jsonl_sink(tmp_path, Clock(BEFORE_MIDNIGHT))
    batch = records(2)
    await sink.write(batch)
    await sink.stop()

    path = tmp_path / "samr-files-2026-11-20.jsonl"
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 2
    assert MARKET_NAME.encode() in raw  # Chinese text is written as UTF-8, not \u escapes
    line = orjson.loads(raw.splitlines()[0])
    assert {k: v for k, v in line.items() if k != "event"} == {
        "event_id": batch[0].event_id,
        "observation_id": None,
        "event_type": "ObjectEvent",
        "event_time": "2026-11-20T06:00:00.000+08:00",
        "biz_step": "shipping",
        "trace_key": "trace:TC000000",
        "reporter": "mofcom-platform",
        "department": "MOFCOM",
    }
    event = line["event"]
    context_entries = event.pop("@context")
    assert event_hash(event, context_entries) == batch[0].event_id
    assert event["tb:destinationBusiness"]["tb:name"] == MARKET_NAME


async def test_jsonl_rotates_at_midnight_in_china_by_default(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    sink = await jsonl_sink(tmp_path, clock)
    first, second = records(1), records(1, start=1)
    await sink.write(first)
    clock.now = AFTER_MIDNIGHT
    await sink.write(second)
    await sink.stop()
    assert jsonl_ids(tmp_path / "samr-files-2026-11-20.jsonl") == ids(first)
    assert jsonl_ids(tmp_path / "samr-files-2026-11-21.jsonl") == ids(second)


async def test_rotation_follows_the_configured_zone_and_prefix(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    sink = await jsonl_sink(tmp_path, clock, **{"rotation.timezone": "UTC", "file.prefix": "samr"})
    await sink.write(records(1))
    clock.now = AFTER_MIDNIGHT  # still 20 November in UTC
    await sink.write(records(1, start=1))
    await sink.stop()
    assert names(tmp_path, "*.jsonl") == ["samr-2026-11-20.jsonl"]


async def test_jsonl_redelivery_after_restart_is_not_written_again(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    sink = await jsonl_sink(tmp_path, clock)
    await sink.write(records(2))
    await sink.write(records(2))  # the same batch again, same process
    await sink.stop()

    restarted = await jsonl_sink(tmp_path, clock)
    await restarted.write(records(3))  # redelivered 0 and 1, then the new 2
    await restarted.stop()
    assert jsonl_ids(tmp_path / "samr-files-2026-11-20.jsonl") == ids(records(3))


async def test_redelivery_just_after_midnight_is_not_written_to_the_new_day(tmp_path: Path) -> None:
    sink = await jsonl_sink(tmp_path, Clock(BEFORE_MIDNIGHT))
    await sink.write(records(2))
    await sink.stop()

    restarted = await jsonl_sink(tmp_path, Clock(AFTER_MIDNIGHT))
    await restarted.write(records(3))
    await restarted.stop()
    assert jsonl_ids(tmp_path / "samr-files-2026-11-20.jsonl") == ids(records(2))
    assert jsonl_ids(tmp_path / "samr-files-2026-11-21.jsonl") == ids(records(1, start=2))


async def test_jsonl_partial_last_line_is_truncated_and_rewritten(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    sink = await jsonl_sink(tmp_path, clock)
    await sink.write(records(2))
    await sink.stop()
    path = tmp_path / "samr-files-2026-11-20.jsonl"
    whole = path.read_bytes()
    path.write_bytes(whole[:-1])  # the crash lost only the final newline: the line is still partial

    restarted = await jsonl_sink(tmp_path, clock)
    await restarted.write(records(3))
    await restarted.stop()
    assert jsonl_ids(path) == ids(records(3))
    assert path.read_bytes().startswith(whole)


async def test_an_io_error_is_retriable_and_the_next_attempt_succeeds(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    sink = await jsonl_sink(tmp_path, clock)
    blocker = tmp_path / "samr-files-2026-11-20.jsonl"
    blocker.mkdir()  # a directory where the day's file should be
    with pytest.raises(RetriableSinkError, match=r"samr-files-2026-11-20\.jsonl"):
        await sink.write(records(1))
    blocker.rmdir()
    await sink.write(records(1))
    await sink.stop()
    assert jsonl_ids(blocker) == ids(records(1))


# --- CSV ----------------------------------------------------------------------------------------------------


async def test_csv_has_a_bom_one_header_per_file_and_chinese_text_round_trips(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    sink = await csv_sink(tmp_path, clock)
    await sink.write(records(1))
    await sink.write(records(1, start=1))
    clock.now = AFTER_MIDNIGHT
    await sink.write(records(1, start=2))
    await sink.stop()

    first = tmp_path / "samr-files-2026-11-20.csv"
    assert first.read_bytes().startswith(b"\xef\xbb\xbfevent_id,")
    assert first.read_bytes().count(b"\xef\xbb\xbf") == 1
    table = csv_table(first)
    assert table[0] == list(CSV_COLUMNS)
    assert [row[0] for row in table[1:]] == ids(records(2))
    row = dict(zip(CSV_COLUMNS, table[1], strict=True))
    assert row["destination_name"] == MARKET_NAME
    assert row["destination_uscc"] == MARKET
    assert row["epc_classes"] == "urn:epc:class:lgtin:6901234.012345.L1"
    assert (row["quantity"], row["uom"]) == ("420.5", "KGM")
    assert row["department"] == "MOFCOM"
    second = csv_table(tmp_path / "samr-files-2026-11-21.csv")
    assert second[0] == list(CSV_COLUMNS)
    assert len(second) == 2


def test_csv_lists_are_joined_with_semicolons() -> None:
    record = canonical(1, certificates=["A1", "A2"])
    record["event"]["quantity_list"].append(
        {"epc_class": "urn:epc:class:lgtin:6901234.012345.L2", "quantity": 10.0, "uom": "KGM"}
    )
    row = dict(zip(CSV_COLUMNS, csv_cells(record), strict=True))
    assert row["certificates"] == "ANIMAL_QUARANTINE:A1;ANIMAL_QUARANTINE:A2"
    assert row["epc_classes"].split(";") == [
        "urn:epc:class:lgtin:6901234.012345.L1",
        "urn:epc:class:lgtin:6901234.012345.L2",
    ]
    assert (row["quantity"], row["uom"]) == ("420.5;10", "KGM;KGM")


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('=HYPERLINK("http://evil.invalid","点我")', '\'=HYPERLINK("http://evil.invalid","点我")'),
        ("+86 21 5555", "'+86 21 5555"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("上海市=市场", "上海市=市场"),  # only a leading trigger matters
        ("'=1", "'=1"),  # already inert
        ("", ""),
    ],
)
def test_formula_injection_is_neutralised_in_text_cells(text: str, written: str) -> None:
    assert escape_cell(text) == written
    record = canonical(1)
    record["trace"]["destination_business"]["name"] = text
    row = dict(zip(CSV_COLUMNS, csv_cells(record), strict=True))
    assert row["destination_name"] == written


def test_quantities_are_numbers_and_never_escaped() -> None:
    record = canonical(1)
    record["event"]["quantity_list"][0]["quantity"] = -5.0  # a correction, written by us from a number
    record["event"]["quantity_list"][0]["uom"] = "=KGM"
    row = dict(zip(CSV_COLUMNS, csv_cells(record), strict=True))
    assert (row["quantity"], row["uom"]) == ("-5", "'=KGM")


async def test_csv_partial_row_with_a_quoted_newline_is_repaired(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    sink = await csv_sink(tmp_path, clock)
    batch = records(2)
    batch[1].record["trace"]["destination_business"]["name"] = "西郊\n交易中心"  # a newline inside a quoted cell
    await sink.write(batch)
    await sink.stop()
    path = tmp_path / "samr-files-2026-11-20.csv"
    whole = path.read_bytes()
    cut = whole.index("西郊\n".encode()) + len("西郊\n".encode())
    path.write_bytes(whole[:cut])  # ends in a newline, yet inside the last row's quotes
    assert whole_rows_length(path, quoted_newlines=True) == whole.index(b"\r\n", whole.index(b"\r\n") + 2) + 2

    restarted = await csv_sink(tmp_path, clock)
    await restarted.write(batch)
    await restarted.stop()
    table = csv_table(path)
    assert [row[0] for row in table[1:]] == ids(batch)
    assert table[2][CSV_COLUMNS.index("destination_name")] == "西郊\n交易中心"


async def test_csv_file_cut_inside_the_header_is_started_again(tmp_path: Path) -> None:
    path = tmp_path / "samr-files-2026-11-20.csv"
    path.write_bytes(b"\xef\xbb\xbfevent_id,obs")
    sink = await csv_sink(tmp_path, Clock(BEFORE_MIDNIGHT))
    await sink.write(records(1))
    await sink.stop()
    table = csv_table(path)
    assert table[0] == list(CSV_COLUMNS)
    assert [row[0] for row in table[1:]] == ids(records(1))


async def test_csv_redelivery_is_skipped(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    sink = await csv_sink(tmp_path, clock)
    await sink.write(records(2))
    await sink.stop()
    restarted = await csv_sink(tmp_path, clock)
    await restarted.write(records(3))
    await restarted.stop()
    assert [row[0] for row in csv_table(tmp_path / "samr-files-2026-11-20.csv")[1:]] == ids(records(3))


# --- config and kits ----------------------------------------------------------------------------------------


def test_bad_zone_and_prefix_are_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError) as refused:
        file_config(tmp_path, "csv-sink", **{"rotation.timezone": "Asia/Beijing", "file.prefix": "../etc"})
    assert {key for key, _ in refused.value.problems} == {"rotation.timezone", "file.prefix"}
    config = file_config(tmp_path, "csv-sink")
    assert (config.prefix, config.rotation_timezone, config.fsync) == ("samr-files", "Asia/Shanghai", True)


@pytest.mark.parametrize("kit_class", [JsonlSinkKit, CsvSinkKit])
async def test_file_kits_read_back_in_order_without_a_partial_row(
    tmp_path: Path, kit_class: type[JsonlSinkKit | CsvSinkKit]
) -> None:
    kit = kit_class()
    await kit.setup(tmp_path, bootstrap_servers="unused:9092", namespace="t")
    config = parse_config(DailyFileSinkConfig, kit.config("kit-sink", "deliver.x"))
    sink_class = JsonlSink if kit_class is JsonlSinkKit else CsvSink
    clock = Clock(BEFORE_MIDNIGHT)
    sink = sink_class.create(config, context(tmp_path), clock=clock)
    await sink.start()
    await sink.write(records(2))
    clock.now = AFTER_MIDNIGHT
    await sink.write(records(1, start=2))
    await sink.stop()
    (path,) = kit.files()[1:]
    path.write_bytes(path.read_bytes()[:-3])  # a kill in the middle of the last write
    assert await kit.delivered() == ids(records(2))
    bad, key = kit.bad_config("kit-sink")
    with pytest.raises(ConnectorConfigError, match=key):
        parse_config(DailyFileSinkConfig, bad)


# --- EPCIS export -------------------------------------------------------------------------------------------


async def export_sink(tmp_path: Path, clock: Clock) -> EpcisExportSink:
    raw = {"name": "samr-export", "connector.class": "epcis-export", "topics": ["deliver.samr-all"]}
    config = parse_config(EpcisExportConfig, {**raw, "file.path": str(tmp_path / "export")})
    sink = EpcisExportSink.create(config, context(tmp_path), clock=clock)
    await sink.start()
    return sink


async def test_export_writes_one_epcis_document_named_by_offsets(tmp_path: Path) -> None:
    sink = await export_sink(tmp_path, Clock(AFTER_MIDNIGHT))
    batch = records(3, start=5)
    await sink.write(batch)
    await sink.stop()
    day = tmp_path / "export" / "2026-11-21"
    assert sorted(p.name for p in day.iterdir()) == [f"{TOPIC}-0-5-7.jsonld"]
    body = (day / f"{TOPIC}-0-5-7.jsonld").read_bytes()
    document = orjson.loads(body)
    assert document["type"] == "EPCISDocument"
    assert document["schemaVersion"] == "2.0"
    assert document["creationDate"] == "2026-11-20T16:00:30.000Z"
    assert document["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    assert len(document["epcisBody"]["eventList"]) == 3
    assert document_hashes(parse_document(body, "application/ld+json")) == ids(batch)


async def test_export_redelivery_rewrites_the_same_document(tmp_path: Path) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    sink = await export_sink(tmp_path, clock)
    await sink.write(records(2))
    clock.now = AFTER_MIDNIGHT  # the redelivery comes after midnight: yesterday's document is replaced
    await sink.write(records(2))
    await sink.write(records(1, start=2))
    await sink.stop()
    export = tmp_path / "export"
    names = sorted(str(p.relative_to(export)) for p in export.rglob("*"))
    assert names == [
        "2026-11-20",
        f"2026-11-20/{TOPIC}-0-0-1.jsonld",
        "2026-11-21",
        f"2026-11-21/{TOPIC}-0-2-2.jsonld",
    ]
    rewritten = orjson.loads((export / "2026-11-20" / f"{TOPIC}-0-0-1.jsonld").read_bytes())
    assert rewritten["creationDate"] == "2026-11-20T16:00:30.000Z"

    kit = EpcisExportKit()
    await kit.setup(tmp_path, bootstrap_servers="unused:9092", namespace="t")
    assert await kit.delivered() == ids(records(3))


async def test_export_start_removes_temporary_files_of_an_interrupted_write(tmp_path: Path) -> None:
    stale = tmp_path / "export" / "2026-11-20" / f".{TOPIC}-0-0-1.jsonld.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b'{"type": "EPCISDoc')
    sink = await export_sink(tmp_path, Clock(BEFORE_MIDNIGHT))
    await sink.stop()
    assert not stale.exists()


async def test_export_splits_a_batch_spanning_partitions(tmp_path: Path) -> None:
    sink = await export_sink(tmp_path, Clock(BEFORE_MIDNIGHT))
    one, two = records(2)
    other = SinkRecord(topic=TOPIC, partition=3, offset=9, key=two.key, value=two.value, headers=(), record=two.record)
    await sink.write([one, other])
    await sink.stop()
    day = tmp_path / "export" / "2026-11-20"
    assert sorted(p.name for p in day.iterdir()) == [f"{TOPIC}-0-0-0.jsonld", f"{TOPIC}-3-9-9.jsonld"]
    assert not any(name.startswith(".") for name in os.listdir(day))
