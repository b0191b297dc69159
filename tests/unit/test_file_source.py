"""connectors.file: readers for every format and encoding, and the file-drop source on a real directory."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pytest

from connectors.base import SourceRecord, SourceRecordError
from connectors.config import parse_config
from connectors.errors import ConnectorConfigError
from connectors.file.conformance import COLUMNS, csv_bytes, movement_row
from connectors.file.readers import read_records
from connectors.file.source import MARK_KIND, FileSource, FileSourceConfig
from connectors.positions import SourcePositions

SLAUGHTERHOUSE = "91350200776049653A"
MARKET = "91440101MA5CJQ4N59"
HEADER = "event_time,biz_step,business_uscc,batch,quantity,destination_uscc,destination_name\r\n"


def row(batch: str, name: str = "广州农贸市场", quantity: str = "12") -> str:
    return f"2026-11-20 06:30,shipping,{SLAUGHTERHOUSE},{batch},{quantity},{MARKET},{name}\r\n"


def read(data: bytes, name: str = "f.csv", **options: Any) -> list[Any]:
    return read_records(
        data,
        name,
        file_format=options.get("file_format", "auto"),
        encoding=options.get("encoding", "auto"),
        sheet=options.get("sheet"),
    )


# --- readers: CSV and encodings ----------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_each_encoding_reads_the_chinese_text(encoding: str) -> None:
    data = (HEADER + row("B1", "广州农贸市场") + row("B2", "厦门屠宰场")).encode(encoding)
    natives = read(data)
    assert [n.fields["destination_name"] for n in natives] == ["广州农贸市场", "厦门屠宰场"]
    assert natives[0].fields["event_time"] == "2026-11-20 06:30"  # no BOM left on the first header
    line_codec = "utf-8" if encoding == "utf-8-sig" else encoding
    assert natives[1].raw == row("B2", "厦门屠宰场").rstrip("\r\n").encode(line_codec)


def test_gb18030_only_character_needs_gb18030_not_gbk() -> None:
    name = "𠮷野家"  # U+20BB7 is outside GBK, inside GB18030
    data = (HEADER + row("B1", name)).encode("gb18030")
    assert read(data)[0].fields["destination_name"] == name
    assert read(data, encoding="gb18030")[0].fields["destination_name"] == name
    with pytest.raises(SourceRecordError) as caught:
        read(data, encoding="gbk")
    assert caught.value.reason == "bad-encoding"


def test_bytes_in_no_encoding_refuse_the_file() -> None:
    with pytest.raises(SourceRecordError) as caught:
        read(HEADER.encode() + b"\xff\xfe\x80 broken\r\n")
    assert caught.value.reason == "bad-encoding"
    with pytest.raises(SourceRecordError):
        read("厦门".encode("gbk"), encoding="utf-8")


def test_csv_quoted_newline_stays_one_record_with_its_raw_lines() -> None:
    data = (HEADER + row("B1", '"广州\r\n农贸市场"') + row("B2")).encode("gbk")
    natives = read(data)
    assert len(natives) == 2
    assert natives[0].fields["destination_name"] == "广州\r\n农贸市场"
    assert natives[0].raw == row("B1", '"广州\r\n农贸市场"').rstrip("\r\n").encode("gbk")
    assert natives[1].fields["batch"] == "B2"


def test_csv_blank_lines_skipped_long_row_is_an_error_short_row_padded() -> None:
    data = (HEADER + "\r\n" + row("B1") + row("B2").rstrip("\r\n") + ",extra\r\n" + "2026-11-20,shipping\r\n").encode()
    natives = read(data)
    assert natives[0].fields["batch"] == "B1"
    assert natives[1].error is not None
    assert natives[1].error.reason == "bad-row"
    assert natives[1].raw.endswith(b",extra")
    assert natives[2].fields["quantity"] == ""


# --- readers: JSONL, JSON, XML, XLSX -----------------------------------------------------


def test_jsonl_object_per_line_bad_line_is_an_error_with_its_bytes() -> None:
    data = '{"batch": "B1", "名称": "猪肉"}\n\n{"batch": \n[1]\n'.encode("gbk")
    natives = read(data, "x.jsonl")
    assert natives[0].fields == {"batch": "B1", "名称": "猪肉"}
    assert natives[1].error is not None
    assert natives[1].error.reason == "bad-json"
    assert natives[1].raw == b'{"batch": '
    assert natives[2].error is not None
    assert natives[2].error.reason == "not-an-object"


def test_json_array_records_object_and_epcis_document() -> None:
    assert [n.fields for n in read(b'[{"a": 1}, {"a": 2}]', "x.json")] == [{"a": 1}, {"a": 2}]
    assert [n.fields for n in read(b'{"records": [{"a": 1}]}', "x.json")] == [{"a": 1}]
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-20T00:00:00Z",
        "epcisBody": {"eventList": [{"type": "ObjectEvent", "action": "OBSERVE"}]},
    }
    natives = read(orjson.dumps(document), "x.jsonld")
    assert natives[0].fields == {"@context": document["@context"], "type": "ObjectEvent", "action": "OBSERVE"}
    with pytest.raises(SourceRecordError, match="array"):
        read(b'{"a": 1}', "x.json")
    with pytest.raises(SourceRecordError) as caught:
        read(b"[{", "x.json")
    assert caught.value.reason == "bad-json"


EPCIS_XML = """<?xml version="1.0" encoding="GBK"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"
    creationDate="2026-11-20T00:00:00Z"><EPCISBody><EventList>
  <ObjectEvent><eventTime>2026-11-20T06:30:00+08:00</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
    <epcList><epc>urn:epc:id:sgtin:6901234.012345.1</epc></epcList><action>OBSERVE</action>
    <bizStep>shipping</bizStep></ObjectEvent>
  <ObjectEvent><eventTime>2026-11-20T07:30:00+08:00</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
    <epcList><epc>urn:epc:id:sgtin:6901234.012345.2</epc></epcList><action>OBSERVE</action>
    <bizStep>receiving</bizStep></ObjectEvent>
</EventList></EPCISBody></epcis:EPCISDocument>
"""


def test_epcis_xml_document_becomes_its_events_each_with_its_element() -> None:
    natives = read(EPCIS_XML.encode("gbk"), "dump.xml")
    assert [n.fields["bizStep"] for n in natives] == ["shipping", "receiving"]
    assert natives[0].fields["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    assert natives[1].raw.startswith(b"<ObjectEvent")
    assert b"6901234.012345.2" in natives[1].raw


def test_other_xml_is_one_record_per_child_with_attributes() -> None:
    text = '<?xml version="1.0" encoding="GBK"?><rows><row id="7"><batch>B1</batch><name>猪肉</name></row></rows>'
    natives = read(text.encode("gbk"), "rows.xml")
    assert natives[0].fields == {"@id": "7", "batch": "B1", "name": "猪肉"}
    assert natives[0].raw == '<row id="7"><batch>B1</batch><name>猪肉</name></row>'.encode()
    undeclared = read("<rows><row><name>猪肉</name></row></rows>".encode("gb18030"), "rows.xml")
    assert undeclared[0].fields == {"name": "猪肉"}
    with pytest.raises(SourceRecordError) as caught:
        read(b"<rows><row></rows>", "rows.xml")
    assert caught.value.reason == "bad-xml"
    with pytest.raises(SourceRecordError, match="DOCTYPE"):
        read(b'<!DOCTYPE r [<!ENTITY x "y">]><r><a>&x;</a></r>', "r.xml")


def test_other_xml_keeps_repeated_tags_as_lists_and_nested_elements_as_dicts() -> None:
    text = (
        '<导出 xmlns:x="urn:x"><记录 类型="包装">'
        "<父码>P1</父码><子码><码>C1</码><码>C2</码><码>C3</码></子码><单码><码>U1</码></单码>"
        "<收货方><名称>某医院</名称><x:信用代码>12330102</x:信用代码></收货方>"
        '<数量 单位="箱">4</数量><备注/><!-- 注释 --><标签>a</标签><标签>b</标签>'
        "</记录></导出>"
    )
    natives = read(text.encode(), "codes.xml")
    assert natives[0].fields == {
        "@类型": "包装",
        "父码": "P1",
        "子码": {"码": ["C1", "C2", "C3"]},  # repeated tag: a list, in document order
        "单码": {"码": "U1"},  # once: a value
        "收货方": {"名称": "某医院", "信用代码": "12330102"},  # nested: a dict, namespace dropped
        "数量": {"@单位": "箱", "#text": "4"},  # a leaf with attributes keeps both
        "备注": "",
        "标签": ["a", "b"],
    }


def test_other_xml_nesting_is_kept_to_any_depth() -> None:
    natives = read(b"<r><x><a><b><c>deep</c><c>er</c></b></a></x></r>", "deep.xml")
    assert natives[0].fields == {"a": {"b": {"c": ["deep", "er"]}}}


def xlsx(sheets: dict[str, list[list[Any]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for values in rows:
            sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_first_or_named_sheet_header_row_and_json_raw() -> None:
    data = xlsx(
        {
            "说明": [["ignore me"], ["x"]],
            "出货": [["event_time", "batch", "quantity"], [datetime(2026, 11, 20, 6, 30), "B1", 12], [None, None]],
        }
    )
    natives = read(data, "x.xlsx", sheet="出货")
    assert len(natives) == 1
    assert natives[0].fields == {"event_time": "2026-11-20T06:30:00", "batch": "B1", "quantity": 12}
    assert json.loads(natives[0].raw) == natives[0].fields
    assert read(data, "x.xlsx")[0].fields == {"ignore me": "x"}
    with pytest.raises(SourceRecordError, match="no sheet"):
        read(data, "x.xlsx", sheet="missing")
    with pytest.raises(SourceRecordError) as caught:
        read(b"PK not a zip", "x.xlsx")
    assert caught.value.reason == "bad-xlsx"


def test_unknown_extension_needs_file_format() -> None:
    with pytest.raises(SourceRecordError) as caught:
        read(b"a,b\n1,2\n", "x.dat")
    assert caught.value.reason == "unknown-format"
    assert read(b"a,b\n1,2\n", "x.dat", file_format="csv")[0].fields == {"a": "1", "b": "2"}


# --- the source on a real directory ------------------------------------------------------


def config(directory: Path, **extra: Any) -> FileSourceConfig:
    raw = {
        "name": "farm-files",
        "connector.class": "file-source",
        "file.path": str(directory),
        "mapper": "flat-movement",
        "poll.interval.ms": 10,
        **extra,
    }
    return parse_config(FileSourceConfig, raw)


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    directory = tmp_path / "drop"
    directory.mkdir()
    return directory


async def new_source(
    directory: Path, state: Path, positions: dict[str, Any] | None = None, extra: dict[str, Any] | None = None
) -> FileSource:
    source = FileSource(config(directory, **(extra or {})), state)
    await source.start(positions or {})
    return source


async def poll_some(source: FileSource, tries: int = 50) -> Sequence[SourceRecord]:
    for _ in range(tries):
        records = await source.poll()
        if records:
            return records
    raise AssertionError("nothing polled")


def good_csv(count: int, encoding: str = "gbk", salt: str = "t") -> bytes:
    return csv_bytes([movement_row(n, salt) for n in range(count)], encoding)


async def test_file_is_read_mapped_committed_marked_and_moved(drop: Path, tmp_path: Path) -> None:
    data = good_csv(3)
    (drop / "a.csv").write_bytes(data)
    source = await new_source(drop, tmp_path / "state")
    records = await poll_some(source)
    digest = hashlib.sha256(data).hexdigest()
    assert [r.identity for r in records] == [f"{digest[:16]}:{n}" for n in (1, 2, 3)]
    assert [(r.partition, r.offset) for r in records] == [(digest, 1), (digest, 2), (digest, 3)]
    event = records[0].events[0]
    assert event["tb:destinationBusiness"] == {"tb:uscc": MARKET, "tb:name": "广州农贸市场"}
    assert (drop / "a.csv").exists(), "nothing moves before committed"
    await source.committed(records)
    assert not (drop / "a.csv").exists()
    assert (drop / ".done" / "a.csv").read_bytes() == data
    assert source.lag() == 0
    await source.stop()
    marks = SourcePositions.in_dir(tmp_path / "state")
    assert marks.marked(MARK_KIND, digest) == {"name": "a.csv", "records": 3, "outcome": "done"}
    marks.close()


async def test_half_written_file_is_read_only_once_stable(drop: Path, tmp_path: Path) -> None:
    source = await new_source(drop, tmp_path / "state")
    path = drop / "growing.csv"
    data = good_csv(4)
    path.write_bytes(data[:40])
    assert await source.poll() == ()  # first sighting
    assert source.lag() == 1
    with path.open("ab") as handle:
        handle.write(data[40:])
    assert await source.poll() == ()  # changed since: not stable yet
    records = await poll_some(source)
    assert len(records) == 4
    assert all(r.error is None for r in records)
    (drop / "x.csv.part").write_bytes(data)
    (drop / ".hidden.csv").write_bytes(data)
    (drop / "y.tmp").write_bytes(data)
    await source.committed(records)
    for _ in range(3):
        assert await source.poll() == ()
    await source.stop()


async def test_processed_once_across_instances_even_under_another_name(drop: Path, tmp_path: Path) -> None:
    data = good_csv(2, "utf-8-sig")
    (drop / "day1.csv").write_bytes(data)
    first = await new_source(drop, tmp_path / "state")
    await first.committed(await poll_some(first))
    await first.stop()
    (drop / "day1-again.csv").write_bytes(data)
    second = await new_source(drop, tmp_path / "state")
    for _ in range(5):
        assert await second.poll() == ()
    assert (drop / ".done" / "day1-again.csv").exists()
    await second.stop()


async def test_resume_skips_saved_records_and_batches_are_bounded(drop: Path, tmp_path: Path) -> None:
    data = good_csv(7)
    digest = hashlib.sha256(data).hexdigest()
    (drop / "a.csv").write_bytes(data)
    source = await new_source(drop, tmp_path / "state", {digest: 3}, extra={"batch.max.records": 2})
    batch = await poll_some(source)
    assert [r.identity.split(":")[1] for r in batch] == ["4", "5"]
    await source.committed(batch)
    assert (drop / "a.csv").exists()
    rest = list(await source.poll())
    await source.committed(rest)
    assert [r.offset for r in rest] == [6, 7]
    assert (drop / ".done" / "a.csv").exists()
    await source.stop()


async def test_fully_saved_file_is_finished_without_republishing(drop: Path, tmp_path: Path) -> None:
    data = good_csv(2)
    (drop / "a.csv").write_bytes(data)
    source = await new_source(drop, tmp_path / "state", {hashlib.sha256(data).hexdigest(): 2})
    for _ in range(5):
        assert await source.poll() == ()
    assert (drop / ".done" / "a.csv").exists()
    await source.stop()


async def test_uncommitted_batch_is_handed_out_again(drop: Path, tmp_path: Path) -> None:
    (drop / "a.csv").write_bytes(good_csv(3))
    source = await new_source(drop, tmp_path / "state", extra={"batch.max.records": 2})
    first = await poll_some(source)
    again = await source.poll()  # the runner failed to publish `first` and polls again
    assert [r.identity for r in again] == [r.identity for r in first]
    await source.committed(again)
    assert [r.offset for r in await source.poll()] == [3]
    await source.stop()


async def test_bad_row_is_an_error_record_with_its_raw_line(drop: Path, tmp_path: Path) -> None:
    bad = movement_row(1, "t")
    bad[COLUMNS.index("quantity")] = "十二"
    data = csv_bytes([movement_row(0, "t"), bad], "gbk")
    (drop / "a.csv").write_bytes(data)
    source = await new_source(drop, tmp_path / "state")
    good_record, bad_record = await poll_some(source)
    assert good_record.error is None
    assert len(good_record.events) == 1
    assert bad_record.error is not None
    assert bad_record.error.reason == "bad-quantity"
    assert bad_record.raw == ",".join(bad).encode("gbk")
    assert not bad_record.events
    await source.committed([good_record, bad_record])
    assert (drop / ".done" / "a.csv").exists(), "a file with bad rows is still done"
    await source.stop()


async def test_undecodable_file_is_dead_lettered_whole_and_moved_to_error(drop: Path, tmp_path: Path) -> None:
    data = b"event_time,batch\r\n\xff\xfe\x80\r\n"
    (drop / "broken.csv").write_bytes(data)
    error_dir = tmp_path / "errors"
    source = await new_source(drop, tmp_path / "state", extra={"file.error.path": str(error_dir)})
    (record,) = await poll_some(source)
    assert record.error is not None
    assert record.error.reason == "bad-encoding"
    assert record.raw == data
    assert record.identity == f"{hashlib.sha256(data).hexdigest()[:16]}:0"
    await source.committed([record])
    assert (error_dir / "broken.csv").read_bytes() == data
    (drop / "broken-again.csv").write_bytes(data)
    for _ in range(5):
        assert await source.poll() == ()
    assert (error_dir / "broken-again.csv").exists()
    await source.stop()


async def test_empty_file_is_finished_without_records(drop: Path, tmp_path: Path) -> None:
    (drop / "empty.csv").write_bytes(",".join(COLUMNS).encode() + b"\r\n")
    source = await new_source(drop, tmp_path / "state")
    for _ in range(5):
        assert await source.poll() == ()
    assert (drop / ".done" / "empty.csv").exists()
    await source.stop()


async def test_stop_ends_a_waiting_poll(drop: Path, tmp_path: Path) -> None:
    source = await new_source(drop, tmp_path / "state", extra={"poll.interval.ms": 60_000})
    assert await source.poll() == ()  # the first scan is at once
    waiting = asyncio.create_task(source.poll())  # the next waits for the interval
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await source.stop()
    assert await asyncio.wait_for(waiting, 1) == ()


async def test_config_and_start_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        config(tmp_path, **{"file.encoding": "latin-1"})
    assert caught.value.problems[0][0] == "file.encoding"
    with pytest.raises(ConnectorConfigError, match="mapper"):
        FileSource(config(tmp_path, mapper="nope"), tmp_path / "state")
    missing = FileSource(config(tmp_path / "missing"), tmp_path / "state")
    await missing.start({})  # a drop folder nobody used yet is created
    assert (tmp_path / "missing").is_dir()
    await missing.stop()
    (tmp_path / "a-file").write_text("not a folder")
    source = FileSource(config(tmp_path / "a-file"), tmp_path / "state")
    with pytest.raises(ConnectorConfigError) as start_caught:
        await source.start({})
    assert start_caught.value.problems[0][0] == "file.path"
    await source.stop()


async def test_pattern_limits_what_is_read(drop: Path, tmp_path: Path) -> None:
    (drop / "notes.txt").write_bytes(b"hello")
    (drop / "a.csv").write_bytes(good_csv(1))
    source = await new_source(drop, tmp_path / "state", extra={"file.pattern": "*.csv"})
    records = await poll_some(source)
    assert len(records) == 1
    assert records[0].error is None
    assert (drop / "notes.txt").is_file()
    await source.stop()
