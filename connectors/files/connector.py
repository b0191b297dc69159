"""The daily file sinks as connectors: ``jsonl-sink`` (JSON Lines) and ``csv-sink`` (CSV for spreadsheets).

Both write ``<file.path>/<file.prefix>-<YYYY-MM-DD>.<jsonl|csv>``, one file
per calendar day in ``rotation.timezone``, appending and fsyncing every batch
and skipping events already in the day's file (:mod:`connectors.files.daily`).
Row layouts are in :mod:`connectors.files.formats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from connectors.base import SinkRecord
from connectors.files.config import DatedFilesConfig
from connectors.files.daily import Clock, DailyFileSink, FileFormat, utc_now
from connectors.files.formats import (
    csv_header,
    csv_identities,
    csv_rows,
    escape_cell,
    jsonl_identities,
    jsonl_line,
)
from connectors.registry import ConnectorContext, register


class DailyFileSinkConfig(DatedFilesConfig):
    """Keys of ``jsonl-sink`` and ``csv-sink``."""

    file_prefix: str | None = Field(
        default=None,
        alias="file.prefix",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="file name prefix; default: the connector name",
    )

    @property
    def prefix(self) -> str:
        return self.file_prefix or self.name


class JsonlFormat(FileFormat):
    suffix = "jsonl"

    def encode(self, records: Sequence[SinkRecord]) -> bytes:
        return b"".join(jsonl_line(r.record) for r in records)

    def identity(self, record: SinkRecord) -> str:
        return record.event_id

    def identities(self, path: Path) -> set[str]:
        with path.open("rb") as stream:
            return set(jsonl_identities(stream))


class CsvFormat(FileFormat):
    suffix = "csv"
    quoted_newlines = True

    def header(self) -> bytes:
        return csv_header()

    def encode(self, records: Sequence[SinkRecord]) -> bytes:
        return csv_rows(r.record for r in records)

    def identity(self, record: SinkRecord) -> str:
        # compared as the cell is written: escaping is not reversible in general
        return escape_cell(record.event_id)

    def identities(self, path: Path) -> set[str]:
        with path.open(encoding="utf-8", newline="") as stream:
            return set(csv_identities(stream))


@register(
    name="jsonl-sink",
    kind="sink",
    transport="jsonl",
    config=DailyFileSinkConfig,
    conformance="connectors.files.conformance:JsonlSinkKit",
)
class JsonlSink(DailyFileSink):
    """One JSON line per event (flat fields plus the EPCIS JSON-LD event), a file per day, fsynced."""

    @classmethod
    def create(cls, config: DailyFileSinkConfig, context: ConnectorContext, *, clock: Clock = utc_now) -> JsonlSink:
        return cls.configured(config, JsonlFormat(), prefix=config.prefix, clock=clock)


@register(
    name="csv-sink",
    kind="sink",
    transport="csv",
    config=DailyFileSinkConfig,
    conformance="connectors.files.conformance:CsvSinkKit",
)
class CsvSink(DailyFileSink):
    """One CSV row per event (UTF-8 with BOM, formula-safe cells), a file per day, fsynced."""

    @classmethod
    def create(cls, config: DailyFileSinkConfig, context: ConnectorContext, *, clock: Clock = utc_now) -> CsvSink:
        return cls.configured(config, CsvFormat(), prefix=config.prefix, clock=clock)


__all__ = ["CsvFormat", "CsvSink", "DailyFileSinkConfig", "JsonlFormat", "JsonlSink"]
