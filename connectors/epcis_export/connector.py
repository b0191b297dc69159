"""``epcis-export``: each delivered batch as one EPCIS 2.0 ``EPCISDocument`` file (JSON-LD).

A department that takes files rather than a feed gets
``<file.path>/<YYYY-MM-DD>/<topic>-<partition>-<first offset>-<last offset>.jsonld``,
dated by the write time in ``rotation.timezone``. Each document is written to
a hidden temporary file in the same directory, fsynced, renamed over its final
name and the directory fsynced: a reader sees a whole document or none.

Idempotence: the name is made of the batch's Kafka coordinates, so a batch
redelivered after a crash with the same offsets replaces its own document
(also when the redelivery comes just after midnight: a document of that name
in the previous day's directory is replaced there). A redelivery cut into
different batches writes overlapping documents; every event keeps its CBV 2.0
hash, recomputable from the document, for the reader to drop repeats.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from connectors.base import Sink, SinkRecord
from connectors.epcis_export.document import epcis_document
from connectors.errors import RetriableSinkError, SinkRejectedError
from connectors.files.config import DatedFilesConfig
from connectors.files.daily import Clock, fsync_directory, utc_now, write_all
from connectors.registry import ConnectorContext, register

logger = logging.getLogger(__name__)

SUFFIX = ".jsonld"
TEMPORARY = ".tmp"


class EpcisExportConfig(DatedFilesConfig):
    """Keys of ``epcis-export``: ``file.path``, ``rotation.timezone``, ``fsync``."""


def document_name(records: Sequence[SinkRecord]) -> str:
    """``<topic>-<partition>-<first offset>-<last offset>.jsonld`` of one partition's batch."""
    first, last = records[0], records[-1]
    return f"{first.topic}-{first.partition}-{first.offset}-{last.offset}{SUFFIX}"


def by_partition(records: Sequence[SinkRecord]) -> list[list[SinkRecord]]:
    """``records`` split by (topic, partition), order kept (the runner already hands one partition at a time)."""
    groups: dict[tuple[str, int], list[SinkRecord]] = {}
    for record in records:
        groups.setdefault((record.topic, record.partition), []).append(record)
    return list(groups.values())


@register(
    name="epcis-export",
    kind="sink",
    transport="epcis",
    config=EpcisExportConfig,
    conformance="connectors.epcis_export.conformance:EpcisExportKit",
)
class EpcisExportSink(Sink):
    """Each batch as an EPCIS 2.0 EPCISDocument file, written atomically, named by its Kafka offsets."""

    def __init__(
        self, name: str, *, directory: Path, zone: ZoneInfo, fsync: bool = True, clock: Clock = utc_now
    ) -> None:
        self.name = name
        self.directory = directory
        self.zone = zone
        self.fsync = fsync
        self._clock = clock

    @classmethod
    def create(cls, config: EpcisExportConfig, context: ConnectorContext, *, clock: Clock = utc_now) -> EpcisExportSink:
        return cls(config.name, directory=config.file_path, zone=config.zone, fsync=config.fsync, clock=clock)

    def __repr__(self) -> str:
        return f"EpcisExportSink(name={self.name!r}, directory={str(self.directory)!r})"

    def day_directory(self, day: date) -> Path:
        return self.directory / day.isoformat()

    async def start(self) -> None:
        await asyncio.to_thread(self._prepare)

    def _prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # a crash between write and rename leaves a temporary file; its batch is redelivered
        for stale in self.directory.glob(f"*/.*{SUFFIX}{TEMPORARY}"):
            stale.unlink(missing_ok=True)

    async def write(self, records: Sequence[SinkRecord]) -> None:
        for group in by_partition(records):
            moment = self._clock()
            try:
                body = orjson.dumps(epcis_document([r.record for r in group], created=moment))
            except (KeyError, TypeError, ValueError) as exc:
                raise SinkRejectedError(
                    f"{self.name}: cannot render EPCIS: {type(exc).__name__}: {exc}", reason="unrenderable"
                ) from exc
            day = moment.astimezone(self.zone).date()
            try:
                await asyncio.to_thread(self._replace, day, document_name(group), body)
            except OSError as exc:
                raise RetriableSinkError(f"{self.name}: writing {document_name(group)}: {exc}") from exc

    def _target_directory(self, day: date, name: str) -> Path:
        yesterday = self.day_directory(day - timedelta(days=1))
        if (yesterday / name).exists():
            return yesterday
        today = self.day_directory(day)
        if not today.is_dir():
            today.mkdir(parents=True, exist_ok=True)
            if self.fsync:
                fsync_directory(self.directory)
        return today

    def _replace(self, day: date, name: str, body: bytes) -> None:
        directory = self._target_directory(day, name)
        temporary = directory / f".{name}{TEMPORARY}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            write_all(fd, body)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, directory / name)
        if self.fsync:
            fsync_directory(directory)
