"""File readers: one dropped file's bytes → its native records, each with the original bytes it came from.

Formats (by extension, or forced with ``file.format``):

=========  ===================  ================================================================
format     extensions           native records
=========  ===================  ================================================================
csv        .csv                 one dict per data row (header row → keys); quoted newlines kept
jsonl      .jsonl .ndjson       one JSON object per non-blank line
json       .json .jsonld        an array of objects, ``{"records": [...]}``, or an EPCISDocument
xml        .xml                 an EPCIS XML document → its events; other XML → one dict per child
                                of the root (see below)
xlsx       .xlsx                one dict per row of the first sheet (or ``file.sheet``)
=========  ===================  ================================================================

Text formats are decoded with ``file.encoding``; ``auto`` accepts UTF-8 with or
without BOM and otherwise GB18030, the superset of GBK and GB2312 that Chinese
platforms' exports (Excel "CSV" saved on a Chinese Windows) use. An XML file
declaring its encoding is read in that encoding.

Other XML (a platform's own export, e.g. 码上放心 drug code associations): each
element child of the root is one record, a dict built by these rules, which
mappers of nested exports rely on:

* the record's attributes are keys ``@name`` (namespace dropped, as in tags);
* each child element is a key by its local name (namespace dropped); a child
  with neither child elements nor attributes is its stripped text (``""`` when
  empty), any other child is a dict by these same rules, to any depth;
* a tag that occurs once under an element is a single value, a tag that occurs
  several times a **list** of the values in document order (so a mapper of a
  list that may have one element accepts both a value and a list);
* the text of an element without child elements is under ``#text`` when the
  element is a dict (a record, or an element with attributes); text mixed in
  between child elements is dropped, as are comments and processing
  instructions.

``<r id="7"><code>A</code><code>B</code><to><uscc>9…</uscc></to><qty unit="箱">4</qty></r>``
→ ``{"@id": "7", "code": ["A", "B"], "to": {"uscc": "9…"}, "qty": {"@unit": "箱", "#text": "4"}}``.

A record that cannot be read (a bad JSON line, a CSV row longer than its
header) is a :class:`Native` with ``error`` set, so it is dead-lettered alone.
A file that cannot be read at all raises :class:`~connectors.base.SourceRecordError`
(reason ``bad-encoding``, ``bad-json``, ``bad-xml``, ``bad-xlsx``, ``unknown-format``).
Readers are pure functions of the bytes: the same file always yields the
same records in the same order, which is what makes ``<digest>:<number>``
identities stable across restarts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any, Final, Literal

import orjson
from lxml import etree

from connectors.base import SourceRecordError
from connectors.mapping.base import EPCIS_CONTEXT
from schemas.epcis.document import parse_document
from schemas.errors import DocumentError

FileFormat = Literal["auto", "csv", "jsonl", "json", "xml", "xlsx"]
FileEncoding = Literal["auto", "utf-8", "gbk", "gb18030"]

BOM: Final = b"\xef\xbb\xbf"
EXTENSIONS: Final[Mapping[str, FileFormat]] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".jsonld": "json",
    ".xml": "xml",
    ".xlsx": "xlsx",
}
_EPCIS_ROOTS: Final = frozenset({"EPCISDocument", "EPCISQueryDocument"})
_XML_DECLARATION: Final = re.compile(r"^\s*<\?xml[^>]*\?>")
_DECLARED_ENCODING: Final = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")


@dataclass(frozen=True, slots=True)
class Native:
    """One native record: its fields, or why it has none; ``raw`` is what a dead letter of it carries."""

    raw: bytes
    fields: Mapping[str, Any] | None = None
    error: SourceRecordError | None = None


def format_of(name: str, configured: FileFormat) -> FileFormat:
    """The format to read ``name`` with: the configured one, else by extension."""
    if configured != "auto":
        return configured
    found = EXTENSIONS.get(PurePath(name).suffix.lower())
    if found is None:
        raise SourceRecordError(
            "unknown-format", f"cannot tell the format of {name!r} from its extension; set file.format"
        )
    return found


def read_records(
    data: bytes, name: str, *, file_format: FileFormat, encoding: FileEncoding, sheet: str | None = None
) -> list[Native]:
    """Every native record of one file, in file order; raise SourceRecordError if the file is unreadable."""
    kind = format_of(name, file_format)
    if kind == "xlsx":
        return read_xlsx(data, sheet)
    if kind == "xml":
        return read_xml(data, encoding)
    codec = text_codec(data, encoding)
    body = data[len(BOM) :] if data.startswith(BOM) and codec == "utf-8" else data
    if kind == "csv":
        return read_csv(body, codec)
    if kind == "jsonl":
        return read_jsonl(body, codec)
    return read_json(body.decode(codec))


def text_codec(data: bytes, encoding: FileEncoding) -> str:
    """The codec that decodes ``data`` strictly (after a UTF-8 BOM, if any), or raise ``bad-encoding``."""
    body = data[len(BOM) :] if data.startswith(BOM) else data
    candidates = ("utf-8", "gb18030") if encoding == "auto" else (encoding,)
    if data.startswith(BOM) and encoding in ("auto", "utf-8"):
        candidates = ("utf-8",)
    for codec in candidates:
        try:
            body.decode(codec)
        except UnicodeDecodeError:
            continue
        return codec
    raise SourceRecordError("bad-encoding", f"the file is not valid {' or '.join(candidates)} text")


def _byte_lines(body: bytes) -> list[bytes]:
    # Splitting the bytes (not the text) keeps each record's original bytes. Safe for UTF-8, GBK and
    # GB18030: CR and LF never occur inside a multi-byte character of these encodings.
    return body.splitlines(keepends=True)


def read_csv(body: bytes, codec: str) -> list[Native]:
    lines = _byte_lines(body)
    consumed = 0

    def feed() -> Iterator[str]:
        nonlocal consumed
        for line in lines:
            consumed += 1
            yield line.decode(codec)

    reader = csv.reader(feed(), strict=True)
    header: list[str] | None = None
    natives: list[Native] = []
    while True:
        first = consumed
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raw = b"".join(lines[first:consumed]).rstrip(b"\r\n")
            natives.append(Native(raw, error=SourceRecordError("bad-csv", f"CSV line {first + 1}: {exc}")))
            continue
        raw = b"".join(lines[first:consumed]).rstrip(b"\r\n")
        if not any(cell.strip() for cell in row):
            continue  # blank line: not a record, does not take a record number
        if header is None:
            header = [cell.strip() for cell in row]
            continue
        if len(row) > len(header):
            problem = SourceRecordError("bad-row", f"CSV line {first + 1} has {len(row)} cells, header {len(header)}")
            natives.append(Native(raw, error=problem))
            continue
        natives.append(Native(raw, fields=dict(zip(header, [*row, *[""] * (len(header) - len(row))], strict=True))))
    return natives


def read_jsonl(body: bytes, codec: str) -> list[Native]:
    natives: list[Native] = []
    for number, line in enumerate(_byte_lines(body), start=1):
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw.decode(codec))
        except orjson.JSONDecodeError as exc:
            natives.append(Native(raw, error=SourceRecordError("bad-json", f"line {number}: {exc}")))
            continue
        natives.append(_object(value, raw, f"line {number}"))
    return natives


def _object(value: Any, raw: bytes, where: str) -> Native:
    if isinstance(value, dict):
        return Native(raw, fields=value)
    return Native(raw, error=SourceRecordError("not-an-object", f"{where} is {type(value).__name__}, not an object"))


def read_json(text: str) -> list[Native]:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SourceRecordError("bad-json", f"the file is not valid JSON: {exc}") from None
    if isinstance(document, dict) and document.get("type") in _EPCIS_ROOTS:
        try:
            parsed = parse_document(text.encode(), "application/json")
        except DocumentError as exc:
            raise SourceRecordError("bad-json", str(exc)) from None
        return [_event(event, parsed.context) for event in parsed.events]
    items = document.get("records") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise SourceRecordError("bad-json", 'expected an array of objects, {"records": [...]} or an EPCISDocument')
    return [_object(item, orjson.dumps(item), f"element {index}") for index, item in enumerate(items)]


def _event(event: dict[str, Any], context: Sequence[Any], raw: bytes | None = None) -> Native:
    # The document's @context travels inside each event, where the epcis mapper looks for it.
    fields = event if "@context" in event or not context else {"@context": list(context), **event}
    return Native(orjson.dumps(event) if raw is None else raw, fields=fields)


# --- XML -----------------------------------------------------------------------------------


def _xml_parser() -> etree.XMLParser:
    # Same hardening as schemas.epcis.document: no entities, no network, no DTD, default size limits.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, remove_comments=True, remove_pis=True
    )


def _local(tag: Any) -> str:
    return str(tag).rpartition("}")[2]


def xml_utf8(data: bytes, encoding: FileEncoding) -> bytes:
    """The document re-encoded as UTF-8 without its declaration (lxml then needs no encoding guess)."""
    declared = _DECLARED_ENCODING.match(data[len(BOM) :] if data.startswith(BOM) else data)
    if encoding == "auto" and declared is not None and not data.startswith(BOM):
        codec = declared.group(1).decode("ascii")
        try:
            text = data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            raise SourceRecordError("bad-encoding", f"the file is not valid {codec} as it declares") from None
    else:
        codec = text_codec(data, encoding)
        text = (data[len(BOM) :] if data.startswith(BOM) and codec == "utf-8" else data).decode(codec)
    return _XML_DECLARATION.sub("", text, count=1).encode()


def read_xml(data: bytes, encoding: FileEncoding) -> list[Native]:
    body = xml_utf8(data, encoding)
    try:
        root = etree.fromstring(body, _xml_parser())
    except etree.XMLSyntaxError as exc:
        raise SourceRecordError("bad-xml", f"the file is not well-formed XML: {exc}") from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SourceRecordError("bad-xml", "XML files with a DOCTYPE are not read (entities are never expanded)")
    if _local(root.tag) in _EPCIS_ROOTS:
        return _epcis_xml(body, root)
    natives = []
    for child in root:
        if not isinstance(child.tag, str):
            continue
        natives.append(Native(etree.tostring(child, encoding="utf-8", with_tail=False), fields=_xml_fields(child)))
    return natives


def _xml_fields(element: Any) -> dict[str, Any]:
    """An element as a dict (the rules in the module docstring): attributes, children, ``#text``."""
    fields: dict[str, Any] = {f"@{_local(k)}": v for k, v in element.attrib.items()}
    grouped: dict[str, list[Any]] = {}
    for child in element:
        if isinstance(child.tag, str):
            grouped.setdefault(_local(child.tag), []).append(_xml_value(child))
    for name, values in grouped.items():
        fields[name] = values[0] if len(values) == 1 else values
    text = (element.text or "").strip()
    if not grouped and text:
        fields["#text"] = text
    return fields


def _xml_value(element: Any) -> str | dict[str, Any]:
    """A child element: its stripped text when it has no attributes and no child elements, else a dict."""
    if len(element.attrib) == 0 and not any(isinstance(child.tag, str) for child in element):
        return (element.text or "").strip()
    return _xml_fields(element)


def _epcis_xml(body: bytes, root: Any) -> list[Native]:
    try:
        parsed = parse_document(body, "application/xml")
    except DocumentError as exc:
        raise SourceRecordError("bad-xml", str(exc)) from None
    # Each event's dead letter carries its own element when the elements line up with the events
    # (they do for every document parse_document accepts; the JSON form is the fallback).
    elements: list[Any] = []
    for event_list in root.iter("{*}EventList", "EventList"):
        for child in event_list:
            if not isinstance(child.tag, str):
                continue
            if child.tag == "extension":
                elements.extend(c for c in child if isinstance(c.tag, str))
            else:
                elements.append(child)
        break
    raws = [etree.tostring(e, encoding="utf-8", with_tail=False) for e in elements]
    context = [EPCIS_CONTEXT, *parsed.context]
    if len(raws) != len(parsed.events):
        return [_event(event, context) for event in parsed.events]
    return [_event(event, context, raw) for event, raw in zip(parsed.events, raws, strict=True)]


# --- XLSX ----------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def read_xlsx(data: bytes, sheet: str | None) -> list[Native]:
    import openpyxl  # only XLSX drops pay for the import

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, ValueError … for a bad workbook
        raise SourceRecordError("bad-xlsx", f"the file is not a readable XLSX workbook: {exc!r}") from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise SourceRecordError("bad-xlsx", f"the workbook has no sheet {sheet!r} ({workbook.sheetnames})")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        header: list[str | None] | None = None
        natives: list[Native] = []
        for row in worksheet.iter_rows(values_only=True):
            values = [_cell(value) for value in row]
            if all(value is None or str(value).strip() == "" for value in values):
                continue
            if header is None:
                header = [None if value is None else str(value).strip() for value in values]
                continue
            fields = {key: value for key, value in zip(header, values, strict=False) if key}
            natives.append(Native(orjson.dumps(fields), fields=fields))
        return natives
    finally:
        workbook.close()
