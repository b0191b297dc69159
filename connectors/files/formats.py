"""How one canonical record becomes a JSON line or a CSV row, and how identities are read back from a file.

JSON Lines: one flat object per event (identity, type, time, business step,
trace key, reporter, department) with the event itself as EPCIS 2.0 JSON-LD
under ``event``. UTF-8, Chinese text unescaped.

CSV (RFC 4180, ``\\r\\n`` rows, UTF-8 with a byte order mark so that Excel
reads Chinese text right): a header row, then one flat row per event, no
nested event. Lists (lot classes, quantities, units, certificates 合格证) are
joined with ``;``.

Formula injection (OWASP "CSV Injection"; ASVS 1.2.10): a spreadsheet runs a
cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return as a
formula. Every *text* cell starting with one of those (or NUL) gets a leading
``'``, which spreadsheets take as "this is text" and do not show. Quantity
cells are not text: we write them from numbers (digits, ``.``, ``-``, ``e``
and the ``;`` separator only), so a negative quantity stays a number. Readers
other than spreadsheets must strip the ``'`` themselves; the JSONL sink holds
the exact text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import orjson

from connectors.epcis_export.document import standalone_event

FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\0")
BOM: Final = "\ufeff"

CSV_COLUMNS: Final = (
    "event_id",
    "observation_id",
    "event_type",
    "event_time",
    "action",
    "biz_step",
    "disposition",
    "trace_key",
    "reporter",
    "department",
    "business_uscc",
    "region_code",
    "epc_classes",
    "quantity",
    "uom",
    "source_uscc",
    "source_name",
    "destination_uscc",
    "destination_name",
    "trace_code",
    "certificates",
)


def escape_cell(text: str) -> str:
    """``text`` made inert for spreadsheets: a leading ``'`` when it starts like a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _quantity_entries(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    # what the event counts: its objects, an aggregation's children, a transformation's outputs
    entries: list[Mapping[str, Any]] = []
    for name in ("quantity_list", "child_quantity_list", "output_quantity_list"):
        entries.extend(event.get(name) or ())
    return entries


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape_cell("" if value is None else str(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _common(record: Mapping[str, Any]) -> dict[str, Any]:
    event = record["event"]
    trace = record.get("trace") or {}
    return {
        "event_id": record["event_id"],
        "observation_id": record.get("observation_id"),
        "event_type": event.get("type"),
        "event_time": event.get("event_time"),
        "biz_step": event.get("biz_step"),
        "trace_key": record.get("trace_key"),
        "reporter": record.get("reporter"),
        "department": trace.get("reporting_department"),
    }


def jsonl_line(record: Mapping[str, Any]) -> bytes:
    """One JSON line (with its ``\\n``) for ``record``."""
    line = _common(record)
    line["event"] = standalone_event(record)
    return orjson.dumps(line) + b"\n"


def csv_cells(record: Mapping[str, Any]) -> list[str]:
    """The row of ``record`` in :data:`CSV_COLUMNS` order, text cells escaped."""
    event = record["event"]
    trace = record.get("trace") or {}
    source = trace.get("source_business") or {}
    destination = trace.get("destination_business") or {}
    quantities = _quantity_entries(event)
    values: dict[str, Any] = {
        **_common(record),
        "action": event.get("action"),
        "disposition": event.get("disposition"),
        "business_uscc": trace.get("business_uscc"),
        "region_code": trace.get("region_code"),
        "epc_classes": ";".join(str(q.get("epc_class") or "") for q in quantities),
        "uom": ";".join(str(q.get("uom") or "") for q in quantities),
        "source_uscc": source.get("uscc"),
        "source_name": source.get("name"),
        "destination_uscc": destination.get("uscc"),
        "destination_name": destination.get("name"),
        "trace_code": trace.get("trace_code"),
        "certificates": ";".join(
            f"{c.get('type') or ''}:{c.get('number') or ''}" for c in trace.get("certificates") or ()
        ),
    }
    cells = []
    for column in CSV_COLUMNS:
        if column == "quantity":
            cells.append(";".join(_number(q.get("quantity")) for q in quantities))
            continue
        value = values[column]
        cells.append(escape_cell("" if value is None else str(value)))
    return cells


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()


def csv_header() -> bytes:
    """What starts every CSV file: the byte order mark and the header row."""
    return (BOM + csv_text([CSV_COLUMNS])).encode("utf-8")


def csv_rows(records: Iterable[Mapping[str, Any]]) -> bytes:
    return csv_text(csv_cells(r) for r in records).encode("utf-8")


def jsonl_identities(lines: Iterable[bytes]) -> Iterator[str]:
    """``event_id`` of each whole JSON line (lines that are not our objects are passed over)."""
    for line in lines:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("event_id"), str):
            yield value["event_id"]


def csv_identities(text: Iterable[str]) -> Iterator[str]:
    """The ``event_id`` cell (as written, escaped) of each data row; the header says which column it is."""
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    if header and header[0].startswith(BOM):
        header[0] = header[0][len(BOM) :]
    column = header.index("event_id") if "event_id" in header else 0
    for row in reader:
        if len(row) > column:
            yield row[column]
