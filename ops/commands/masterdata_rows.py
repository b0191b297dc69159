"""Master-data files → checked (kind, key, value) rows, or the reason each bad row is bad.

Formats: CSV with a header row, a JSON array of objects, or JSON Lines (one
object a line), by file extension (``.csv``, ``.json``, ``.jsonl``/``.ndjson``).
Encodings are detected: UTF-8 with or without BOM, UTF-16 with BOM, else GBK,
else GB18030 (the exports of Chinese spreadsheet software).

Columns (CSV headers may also be the Chinese names in brackets):

* business: ``uscc`` (统一社会信用代码), ``name`` (名称), ``natural_person``
  (自然人), ``credit_grade`` (信用等级), ``region_code`` (行政区划代码),
  ``licences`` (许可证, several separated by ``;``);
* product: ``code`` (产品编码; a GTIN-8/12/13/14, stored as 14 digits, or
  another code), ``name`` (名称), ``category`` (产品目录), ``spec`` (规格);
* catalogue: ``category`` (目录编码), ``name`` (名称), ``traced`` (是否追溯),
  ``department`` (主管部门), ``since`` (起始日期, YYYY-MM-DD).

Every kind also takes ``deleted`` (删除): when true, the row deletes its key (a
Kafka tombstone) and its other columns are ignored. Booleans are ``true/false``,
``1/0``, ``yes/no`` or ``是/否``; an empty cell is "not given". Lines are
1-based physical lines of the file (the first line of a multi-line CSV record).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.gs1 import gtin14
from schemas.identifiers.region import RegionTable
from schemas.identifiers.uscc import validate_uscc
from schemas.models import Department
from streams.reference import KINDS, Kind

KEY_COLUMNS: Final[Mapping[Kind, str]] = {"business": "uscc", "product": "code", "catalogue": "category"}
COLUMNS: Final[Mapping[Kind, tuple[str, ...]]] = {
    "business": ("uscc", "name", "natural_person", "credit_grade", "region_code", "licences", "deleted"),
    "product": ("code", "name", "category", "spec", "deleted"),
    "catalogue": ("category", "name", "traced", "department", "since", "deleted"),
}
CHINESE_COLUMNS: Final[Mapping[str, str]] = {
    "统一社会信用代码": "uscc",
    "名称": "name",
    "自然人": "natural_person",
    "信用等级": "credit_grade",
    "行政区划代码": "region_code",
    "许可证": "licences",
    "产品编码": "code",
    "产品目录": "category",
    "规格": "spec",
    "目录编码": "category",
    "是否追溯": "traced",
    "主管部门": "department",
    "起始日期": "since",
    "删除": "deleted",
}
_KIND_WORDS: Final[Mapping[Kind, tuple[str, ...]]] = {
    "business": ("business", "企业", "主体"),
    "product": ("product", "产品", "商品"),
    "catalogue": ("catalog", "目录"),
}
_TRUE: Final = frozenset({"true", "1", "yes", "y", "t", "是"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f", "否"})
_OTHER_CODE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DRUG_PRODUCT_CODE: Final = re.compile(r"[0-9]{7}")
_CATEGORY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DEPARTMENTS: Final = frozenset(d.value for d in Department)
_LICENCE_SEPARATORS: Final = re.compile(r"[;；]")
MAX_TEXT: Final = 200


@dataclass(frozen=True, slots=True)
class Row:
    """One checked row: ``value`` is the Avro value, or ``None`` for a deletion (tombstone)."""

    kind: Kind
    key: str
    value: dict[str, Any] | None
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(slots=True)
class Parsed:
    """What the files gave: good rows, bad rows' problems, and each file's kind and encoding."""

    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[tuple[str, Kind, str]] = field(default_factory=list)


class RowError(ValueError):
    """Why one row (or, with ``line``, a whole file from that line on) is refused."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


Source = Iterator[tuple[int, "dict[str, Any] | RowError"]]
"""(line, source record or why it could not be read) of each row of a file."""


def infer_kind(path: Path) -> Kind | None:
    """The kind named by the file name (``businesses.csv``, ``产品.jsonl`` …), or None if not exactly one."""
    stem = path.stem.lower()
    found = [kind for kind in KINDS if any(word in stem for word in _KIND_WORDS[kind])]
    return found[0] if len(found) == 1 else None


def decode(data: bytes) -> tuple[str, str]:
    """(encoding name, text): UTF-8 (BOM optional), UTF-16 with BOM, else GBK, else GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", data.decode("utf-16")
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    for encoding in ("gbk", "gb18030"):
        try:
            return encoding, data.decode(encoding)
        except UnicodeDecodeError:
            continue
    line = data.count(b"\n", 0, first_bad) + 1
    raise RowError("the file is neither UTF-8 nor GBK/GB18030 text", line=line)


def _records_csv(text: str, columns: Sequence[str]) -> Source:
    reader = csv.reader(text.splitlines(keepends=True))
    header: list[str] | None = None
    end = 0
    for cells in reader:
        start, end = end + 1, reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if header is None:
            header = [CHINESE_COLUMNS.get(c.strip(), c.strip().lower()) for c in cells]
            unknown = [name for name in header if name not in columns]
            if unknown or len(set(header)) != len(header):
                what = f"unknown columns {unknown}" if unknown else "a column named twice"
                raise RowError(f"header has {what}; known: {', '.join(columns)}", line=start)
            continue
        if len(cells) > len(header):
            yield start, RowError(f"{len(cells)} cells, but the header has {len(header)} columns")
            continue
        yield start, dict(zip(header, cells, strict=False))


def _records_json(text: str, columns: Sequence[str]) -> Source:
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    if index >= len(text) or text[index] != "[":
        raise RowError("a JSON master-data file is an array of objects", line=_line(text, index))
    index = _skip_space(text, index + 1)
    if index < len(text) and text[index] == "]":
        return
    while True:
        try:
            item, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise RowError(f"invalid JSON: {exc.msg}", line=exc.lineno) from None
        yield _line(text, index), item
        index = _skip_space(text, end)
        if index < len(text) and text[index] == ",":
            index = _skip_space(text, index + 1)
            continue
        if index < len(text) and text[index] == "]" and _skip_space(text, index + 1) == len(text):
            return
        raise RowError("expected ',' or the closing ']' of the array", line=_line(text, index))


def _records_jsonl(text: str, columns: Sequence[str]) -> Source:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, RowError(f"invalid JSON: {exc.msg}")


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n\ufeff":
        index += 1
    return index


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


_READERS: Final[Mapping[str, Callable[[str, Sequence[str]], Source]]] = {
    ".csv": _records_csv,
    ".json": _records_json,
    ".jsonl": _records_jsonl,
    ".ndjson": _records_jsonl,
}


def _text(raw: Any, column: str, *, required: bool = False) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise RowError(f"{column} is missing")
        return None
    if not isinstance(raw, str):
        raise RowError(f"{column} must be text, found {type(raw).__name__}")
    text = raw.strip()
    if len(text) > MAX_TEXT:
        raise RowError(f"{column} is longer than {MAX_TEXT} characters")
    return text


def _bool(raw: Any, column: str, default: bool | None) -> bool:
    if isinstance(raw, bool):
        return raw
    text = _text(raw, column, required=default is None)
    if text is None:
        assert default is not None
        return default
    lowered = text.lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise RowError(f"{column} {text!r} is not a boolean (true/false, 1/0, yes/no, 是/否)")


def _licences(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else _LICENCE_SEPARATORS.split(_text(raw, "licences") or "")
    licences = [_text(item, "licences") for item in items]
    return [licence for licence in licences if licence is not None]


def _business(record: Mapping[str, Any], on: date, regions: RegionTable) -> dict[str, Any]:
    region = _text(record.get("region_code"), "region_code")
    if region is not None:
        try:
            regions.check(region, on)
        except IdentifierError as exc:
            raise RowError(f"region_code {region}: {exc}") from None
    return {
        "name": _text(record.get("name"), "name", required=True),
        "natural_person": _bool(record.get("natural_person"), "natural_person", False),
        "credit_grade": _text(record.get("credit_grade"), "credit_grade"),
        "region_code": region,
        "licences": _licences(record.get("licences")),
    }


def _product(record: Mapping[str, Any], on: date, regions: RegionTable) -> dict[str, Any]:
    category = _text(record.get("category"), "category")
    if category is not None and not _CATEGORY.fullmatch(category):
        raise RowError(f"category {category!r} is not a catalogue code (letters, digits, '.', '_', '-')")
    return {
        "name": _text(record.get("name"), "name", required=True),
        "category": category,
        "spec": _text(record.get("spec"), "spec"),
    }


def _catalogue(record: Mapping[str, Any], on: date, regions: RegionTable) -> dict[str, Any]:
    department = _text(record.get("department"), "department")
    if department is not None and department.upper() not in _DEPARTMENTS:
        raise RowError(f"department {department!r} is not one of {', '.join(sorted(_DEPARTMENTS))}")
    since = _text(record.get("since"), "since")
    if since is not None:
        try:
            if not _ISO_DATE.fullmatch(since):
                raise ValueError
            date.fromisoformat(since)
        except ValueError:
            raise RowError(f"since {since!r} is not a date YYYY-MM-DD") from None
    return {
        "name": _text(record.get("name"), "name", required=True),
        "traced": _bool(record.get("traced"), "traced", None),
        "department": None if department is None else department.upper(),
        "since": since,
    }


def check_key(kind: Kind, raw: Any) -> str:
    """The stored form of a row's key: USCC upper case, GTIN as 14 digits; raises ``RowError``."""
    column = KEY_COLUMNS[kind]
    key = _text(raw, column, required=True)
    assert key is not None
    try:
        if kind == "business":
            return validate_uscc(key)
        if kind == "product":
            if key.isascii() and key.isdigit() and len(key) in (8, 12, 13, 14):
                return gtin14(key)
            if _DRUG_PRODUCT_CODE.fullmatch(key) or _OTHER_CODE.fullmatch(key):
                return key
            raise RowError(f"code {key!r} is neither a GTIN nor a product code (letters, digits, '.', '_', '-')")
    except IdentifierError as exc:
        raise RowError(f"{column} {key}: {exc}") from None
    if not _CATEGORY.fullmatch(key):
        raise RowError(f"category {key!r} is not a catalogue code (letters, digits, '.', '_', '-')")
    return key


_VALUES: Final[Mapping[Kind, Callable[[Mapping[str, Any], date, RegionTable], dict[str, Any]]]] = {
    "business": _business,
    "product": _product,
    "catalogue": _catalogue,
}


def check_record(kind: Kind, record: Any, *, on: date, regions: RegionTable) -> tuple[str, dict[str, Any] | None]:
    """(key, Avro value or None for a deletion) of one source record; raises ``RowError``."""
    if not isinstance(record, dict):
        raise RowError(f"a row must be an object, found {type(record).__name__}")
    record = {CHINESE_COLUMNS.get(name, name): value for name, value in record.items()}
    unknown = sorted(set(record) - set(COLUMNS[kind]))
    if unknown:
        raise RowError(f"unknown column {', '.join(map(repr, unknown))} for {kind} (known: {', '.join(COLUMNS[kind])})")
    key = check_key(kind, record.get(KEY_COLUMNS[kind]))
    if _bool(record.get("deleted"), "deleted", False):
        return key, None
    return key, _VALUES[kind](record, on, regions)


def read_file(path: Path, kind: Kind, *, on: date, regions: RegionTable, into: Parsed) -> None:
    """Check every row of one file; good rows and problems go to ``into``."""
    name = str(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        into.problems.append(Problem(name, 1, f"unknown file type {path.suffix!r}: expected {', '.join(_READERS)}"))
        return
    try:
        encoding, text = decode(path.read_bytes())
        into.files.append((name, kind, encoding))
        for line, record in reader(text, COLUMNS[kind]):
            try:
                if isinstance(record, RowError):
                    raise record
                key, value = check_record(kind, record, on=on, regions=regions)
            except RowError as exc:
                into.problems.append(Problem(name, line, exc.reason))
                continue
            into.rows.append(Row(kind, key, value, name, line))
    except RowError as exc:  # the rest of the file cannot be read
        into.problems.append(Problem(name, exc.line or 1, exc.reason))
    except OSError as exc:
        into.problems.append(Problem(name, 1, f"cannot read: {exc.strerror or exc}"))


def read_files(paths: Sequence[Path], kind: Kind | None, *, on: date, regions: RegionTable | None = None) -> Parsed:
    """Check every row of every file (kind given, or inferred from each file name; see :func:`infer_kind`).

    A key given twice (in one file or across files) is a problem at its second
    occurrence. Problems come sorted by file (in the order given), then line.
    Raises ``ValueError`` naming a file whose kind cannot be inferred.
    """
    table = regions if regions is not None else RegionTable.load_default()
    kinds: list[Kind] = []
    for path in paths:
        file_kind = kind if kind is not None else infer_kind(path)
        if file_kind is None:
            raise ValueError(f"cannot tell the kind of {path} from its name: give --kind business|product|catalogue")
        kinds.append(file_kind)
    parsed = Parsed()
    for path, file_kind in zip(paths, kinds, strict=True):
        read_file(path, file_kind, on=on, regions=table, into=parsed)
    seen: dict[tuple[Kind, str], Row] = {}
    unique: list[Row] = []
    for row in parsed.rows:
        first = seen.setdefault((row.kind, row.key), row)
        if first is row:
            unique.append(row)
            continue
        where = f"line {first.line}" if first.file == row.file else f"{first.file}:{first.line}"
        reason = f"duplicate {KEY_COLUMNS[row.kind]} {row.key} (first at {where})"
        parsed.problems.append(Problem(row.file, row.line, reason))
    parsed.rows = unique
    order = {str(path): index for index, path in enumerate(paths)}
    parsed.problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line))
    return parsed
