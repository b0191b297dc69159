"""The file-drop source (``connector.class: file-source``): files dropped in a directory become events.

A platform that can only export files (a nightly CSV from a farm system, an
Excel sheet from a county bureau, an EPCIS XML dump) drops them in
``file.path``. Every ``poll.interval.ms`` the directory is listed; a file is
read once its size and modification time have not changed for one poll, so
a half-written file is never read. Names starting with ``.`` or ending in
``.tmp``/``.part`` are never read (write there, then rename).

Each file is read whole (:mod:`connectors.file.readers`), its records mapped
by the configured mapper and handed to the runner in batches of at most
``batch.max.records``. Positions: the source partition is the file's SHA-256
digest, the offset the number of its records done, and a record's identity is
``<digest[:16]>:<record number>`` (from 1), so a restarted source skips what
was published and republishes only what was in flight, with the same identities.

Once a file's last record is committed the digest is *marked* done in the
connector's :class:`~connectors.positions.SourcePositions` (local SQLite, so
it survives restarts and the embedded broker forgetting its topics) and the
file moves to ``file.finished.path``. A file whose digest is already marked
is moved away unread, whatever its name. A file that cannot be read at all
(bad encoding, broken JSON/XML/XLSX) is dead-lettered whole, as one record
with the file's bytes, and moves to ``file.error.path``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pydantic import Field

from connectors.base import Source, SourceRecord, SourceRecordError
from connectors.config import SourceConfig
from connectors.errors import ConnectorConfigError, SourceUnavailableError
from connectors.file.readers import FileEncoding, FileFormat, Native, read_records
from connectors.mapping import mapper_for
from connectors.mapping.base import map_to_record
from connectors.positions import SourcePositions
from connectors.registry import ConnectorContext, register

log = logging.getLogger(__name__)

MARK_KIND = "file"
_IGNORED_SUFFIXES = (".tmp", ".part")


class FileSourceConfig(SourceConfig):
    file_path: Path = Field(alias="file.path", description="the directory files are dropped in (not recursive)")
    file_pattern: str = Field(default="*", min_length=1, alias="file.pattern", description="glob of names to read")
    file_format: FileFormat = Field(
        default="auto", alias="file.format", description="auto (by extension) | csv | jsonl | json | xml | xlsx"
    )
    file_encoding: FileEncoding = Field(
        default="auto",
        alias="file.encoding",
        description="text encoding: auto (UTF-8 with or without BOM, else GB18030) | utf-8 | gbk | gb18030",
    )
    file_sheet: str | None = Field(default=None, alias="file.sheet", description="XLSX sheet (default: the first)")
    file_finished_path: Path | None = Field(
        default=None, alias="file.finished.path", description="where finished files go (default <file.path>/.done)"
    )
    file_error_path: Path | None = Field(
        default=None, alias="file.error.path", description="where unreadable files go (default <file.path>/.error)"
    )

    @property
    def finished_dir(self) -> Path:
        return self.file_finished_path or self.file_path / ".done"

    @property
    def error_dir(self) -> Path:
        return self.file_error_path or self.file_path / ".error"


@dataclass(eq=False)
class _File:
    """A file being read: its records and how far they were handed out."""

    path: Path
    digest: str
    natives: list[Native]
    unreadable: bool
    handed: int = 0

    @property
    def total(self) -> int:
        return len(self.natives)


Stat = tuple[int, int]


@register(
    name="file-source",
    kind="source",
    transport="file",
    config=FileSourceConfig,
    conformance="connectors.file.conformance:FileSourceKit",
)
class FileSource(Source):
    """Files dropped in a directory (CSV, JSONL, JSON, XML, XLSX; UTF-8 or GBK/GB18030), each read once."""

    def __init__(self, config: FileSourceConfig, state_dir: Path) -> None:
        self.name = config.name
        self.config = config
        self._state_dir = state_dir
        self._mapper = mapper_for(config.mapper)  # an unknown mapper is refused before start
        self._marks: SourcePositions | None = None
        self._saved: dict[str, int] = {}
        self._known: dict[Path, Stat] = {}  # every candidate seen at the last scan, with its (size, mtime)
        self._queue: list[Path] = []  # stable files not yet opened, oldest first
        self._current: _File | None = None
        self._uncommitted: _File | None = None  # the file of the last batch, until it is committed
        self._handed: dict[str, _File] = {}  # digest → file with records handed out but not all committed
        self._last_scan = float("-inf")
        self._stopping = asyncio.Event()

    @classmethod
    def create(cls, config: FileSourceConfig, context: ConnectorContext) -> Self:
        """Also the platform sources' factory: they differ only in their config model's defaults."""
        return cls(config, context.state_dir)

    async def start(self, positions: dict[str, Any]) -> None:
        if not self.config.file_path.exists():  # a drop folder nobody has used yet: create it, as spoolers do
            self.config.file_path.mkdir(parents=True, exist_ok=True)
        if not self.config.file_path.is_dir():
            raise ConnectorConfigError(
                f"{self.name}: file.path {self.config.file_path} is not a directory",
                problems=(("file.path", "not an existing directory"),),
            )
        self.config.finished_dir.mkdir(parents=True, exist_ok=True)
        self.config.error_dir.mkdir(parents=True, exist_ok=True)
        self._marks = SourcePositions.in_dir(self._state_dir)
        self._saved = {partition: int(offset) for partition, offset in positions.items() if isinstance(offset, int)}

    async def poll(self) -> Sequence[SourceRecord]:
        if self._uncommitted is not None:
            # The last batch was never committed (its publishing failed and the runner polls again):
            # hand it out again from the last committed record, so nothing read is skipped.
            file, self._uncommitted = self._uncommitted, None
            file.handed = min(self._saved.get(file.digest, 0), file.total)
            self._current = file
        while self._current is None and not self._stopping.is_set():
            if not self._queue:
                if not await self._scan_when_due():
                    return ()
                continue
            await self._open(self._queue.pop(0))
        if self._current is None:
            return ()
        return self._take(self._current)

    async def committed(self, records: Sequence[SourceRecord]) -> None:
        for record in records:
            handed = self._handed.get(record.partition)
            if handed is None:
                continue
            self._saved[record.partition] = int(record.offset)
            if record.offset >= handed.total:
                self._finish(handed)
        last = self._uncommitted
        if last is not None and (last.digest not in self._handed or self._saved.get(last.digest, 0) >= last.handed):
            self._uncommitted = None

    def lag(self) -> int | None:
        return len(self._known)

    async def stop(self) -> None:
        self._stopping.set()
        if self._marks is not None:
            self._marks.close()
            self._marks = None

    # --- scanning ------------------------------------------------------------------------

    async def _scan_when_due(self) -> bool:
        """Wait until one poll interval has passed since the last scan, then list the directory.

        Returns whether anything became ready. The wait is what makes "stable for one poll" mean
        at least one interval, however often the runner polls.
        """
        wait = self._last_scan + self.config.poll_interval_ms / 1000 - time.monotonic()
        if wait > 0:
            try:
                await asyncio.wait_for(self._stopping.wait(), wait)
                return False
            except TimeoutError:
                pass
        try:
            seen = await asyncio.to_thread(self._list)
        except OSError as exc:
            raise SourceUnavailableError(f"cannot list {self.config.file_path}: {exc}") from exc
        self._last_scan = time.monotonic()
        previous, self._known = self._known, seen
        self._queue = sorted((p for p, stat in seen.items() if previous.get(p) == stat), key=lambda p: (seen[p][1], p))
        return bool(self._queue)

    def _list(self) -> dict[Path, Stat]:
        seen: dict[Path, Stat] = {}
        with os.scandir(self.config.file_path) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(".") or name.endswith(_IGNORED_SUFFIXES) or not entry.is_file():
                    continue
                if fnmatch.fnmatchcase(name, self.config.file_pattern):
                    stat = entry.stat()
                    seen[Path(entry.path)] = (stat.st_size, stat.st_mtime_ns)
        return seen

    # --- reading -------------------------------------------------------------------------

    async def _open(self, path: Path) -> None:
        try:
            data = await asyncio.to_thread(self._read_if_unchanged, path)
        except OSError as exc:
            raise SourceUnavailableError(f"cannot read {path}: {exc}") from exc
        if data is None:
            return  # changed or gone since the scan: the next scans decide again
        digest = hashlib.sha256(data).hexdigest()
        assert self._marks is not None, "poll before start"
        mark = self._marks.marked(MARK_KIND, digest)
        if mark is not None:
            log.info("%s: %s has the digest of %s, already read: moved away unread", self.name, path, mark.get("name"))
            self._move(path, self.config.error_dir if mark.get("outcome") == "error" else self.config.finished_dir)
            return
        try:
            natives = await asyncio.to_thread(
                read_records,
                data,
                path.name,
                file_format=self.config.file_format,
                encoding=self.config.file_encoding,
                sheet=self.config.file_sheet,
            )
            opened = _File(path, digest, natives, unreadable=False)
        except SourceRecordError as exc:
            log.warning("%s: %s cannot be read (%s): dead-lettered whole", self.name, path, exc)
            opened = _File(path, digest, [Native(data, error=exc)], unreadable=True)
        opened.handed = min(self._saved.get(digest, 0), opened.total)
        if opened.handed >= opened.total:
            # Nothing left to publish: an empty file, or every record was saved before a crash
            # kept committed() from finishing it.
            self._finish(opened)
            return
        self._current = opened

    def _read_if_unchanged(self, path: Path) -> bytes | None:
        try:
            stat = path.stat()
            if (stat.st_size, stat.st_mtime_ns) != self._known.get(path):
                return None
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _take(self, file: _File) -> list[SourceRecord]:
        end = min(file.handed + self.config.batch_max_records, file.total)
        records = [self._record(file, index) for index in range(file.handed, end)]
        file.handed = end
        self._handed[file.digest] = file
        self._uncommitted = file
        if end >= file.total:
            self._current = None
        return records

    def _record(self, file: _File, index: int) -> SourceRecord:
        native = file.natives[index]
        # The whole-file dead letter of an unreadable file is record 0; records proper count from 1.
        number = 0 if file.unreadable else index + 1
        identity = f"{file.digest[:16]}:{number}"
        if native.error is not None:
            return SourceRecord(file.digest, index + 1, identity, native.raw, error=native.error)
        assert native.fields is not None
        return map_to_record(
            self._mapper, native.fields, partition=file.digest, offset=index + 1, identity=identity, raw=native.raw
        )

    # --- finishing -----------------------------------------------------------------------

    def _finish(self, file: _File) -> None:
        """Mark the digest done (first: a crash before the move only leaves a marked file to move), then move."""
        assert self._marks is not None, "finish before start"
        outcome = "error" if file.unreadable else "done"
        detail = {"name": file.path.name, "records": file.total, "outcome": outcome}
        self._marks.mark(MARK_KIND, file.digest, detail)
        self._handed.pop(file.digest, None)
        self._move(file.path, self.config.error_dir if file.unreadable else self.config.finished_dir)

    def _move(self, path: Path, directory: Path) -> None:
        target = directory / path.name
        if target.exists():  # the same name dropped twice: keep both, told apart by time
            target = directory / f"{path.stem}.{time.time_ns()}{path.suffix}"
        try:
            shutil.move(path, target)
        except FileNotFoundError:
            pass  # already gone (moved by hand); the mark is what counts
        except OSError as exc:
            log.error(
                "%s: cannot move %s to %s: %s (it stays, and is skipped by its mark)", self.name, path, target, exc
            )
        self._known.pop(path, None)
