"""Appending events to one file per calendar day, durably and without duplicates across redelivery.

:class:`DailyFileSink` is the engine of the JSONL and CSV sinks; a
:class:`FileFormat` says how records become bytes and how identities are read
back. The file is ``<directory>/<prefix>-<YYYY-MM-DD>.<suffix>``, dated by the
*write* time in the configured zone (China Standard Time by default): the
first write after midnight opens a new file.

Guarantees:

* ``write`` returns after the batch is appended with one ``write(2)`` loop,
  then ``fsync(2)`` (when enabled); a new file's directory is fsynced too.
* Idempotent on ``event_id``: when a day's file is opened (start, rotation,
  after a failed write) the identities it holds are read into a set, and
  records already written are skipped. The previous day's identities are kept
  too, so a batch redelivered just after midnight is not written again.
* A crash in the middle of a write leaves a partial last row. Opening the file
  finds the end of its last whole row and truncates the rest (logged); the
  records of that row are then not in the set and are written again.
* An ``OSError`` (disk full, I/O error) is a :class:`RetriableSinkError`; the
  file is reopened — so repaired — before the next attempt.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Self
from zoneinfo import ZoneInfo

from connectors.base import Sink, SinkRecord
from connectors.errors import RetriableSinkError, SinkRejectedError

if TYPE_CHECKING:
    from connectors.files.config import DatedFilesConfig

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (injectable so tests can cross midnight)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class FileFormat(abc.ABC):
    """How records are laid out in a day's file. One instance per sink; no state."""

    suffix: str
    quoted_newlines: bool = False
    """True when a newline inside a ``"``-quoted cell does not end a row (CSV)."""

    def header(self) -> bytes:
        """Bytes that start every new file (none by default)."""
        return b""

    @abc.abstractmethod
    def encode(self, records: Sequence[SinkRecord]) -> bytes:
        """The rows of ``records``, each ending in a newline."""

    @abc.abstractmethod
    def identity(self, record: SinkRecord) -> str:
        """``record``'s identity exactly as :meth:`identities` reads it back from a file."""

    @abc.abstractmethod
    def identities(self, path: Path) -> set[str]:
        """Identities of the rows of ``path`` (whole rows only: the file was repaired first)."""


def whole_rows_length(path: Path, *, quoted_newlines: bool) -> int:
    """Length of the longest prefix of ``path`` that ends with a whole row.

    A row ends at a newline; with ``quoted_newlines`` only at a newline outside
    quotes, i.e. after an even number of ``"`` (RFC 4180 doubles a quote inside
    a quoted cell, which keeps the parity right; UTF-8 never has ``"`` or
    ``\\n`` bytes inside a multi-byte character).
    """
    whole = offset = 0
    inside_quotes = False
    with path.open("rb") as stream:
        for line in stream:
            offset += len(line)
            if quoted_newlines and line.count(b'"') % 2:
                inside_quotes = not inside_quotes
            if line.endswith(b"\n") and not inside_quotes:
                whole = offset
    return whole


def repair(path: Path, *, quoted_newlines: bool, sync: bool) -> int:
    """Truncate a partial last row of ``path``; return how many bytes were dropped."""
    size = path.stat().st_size
    whole = whole_rows_length(path, quoted_newlines=quoted_newlines)
    if whole == size:
        return 0
    with path.open("r+b") as stream:
        stream.truncate(whole)
        if sync:
            os.fsync(stream.fileno())
    logger.warning("%s: dropped a partial last row (%d bytes) left by an interrupted write", path, size - whole)
    return size - whole


def fsync_directory(directory: Path) -> None:
    """Make a new directory entry durable (the file's own fsync does not cover its name)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class DailyFileSink(Sink):
    """Appends each batch to the day's file; see the module docstring for the guarantees."""

    def __init__(
        self,
        name: str,
        *,
        directory: Path,
        prefix: str,
        zone: ZoneInfo,
        file_format: FileFormat,
        fsync: bool = True,
        clock: Clock = utc_now,
    ) -> None:
        self.name = name
        self.directory = directory
        self.prefix = prefix
        self.zone = zone
        self.format = file_format
        self.fsync = fsync
        self._clock = clock
        self._day: date | None = None
        self._fd: int | None = None
        self._size = 0
        self._written: set[str] = set()
        self._previous: set[str] = set()

    @classmethod
    def configured(
        cls, config: DatedFilesConfig, file_format: FileFormat, *, prefix: str, clock: Clock = utc_now
    ) -> Self:
        return cls(
            config.name,
            directory=config.file_path,
            prefix=prefix,
            zone=config.zone,
            file_format=file_format,
            fsync=config.fsync,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, directory={str(self.directory)!r})"

    def path_for(self, day: date) -> Path:
        return self.directory / f"{self.prefix}-{day.isoformat()}.{self.format.suffix}"

    def today(self) -> date:
        return self._clock().astimezone(self.zone).date()

    async def start(self) -> None:
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)

    async def stop(self) -> None:
        self._close()

    async def write(self, records: Sequence[SinkRecord]) -> None:
        if not records:
            return
        day = self.today()
        try:
            await asyncio.to_thread(self._append, day, records)
        except OSError as exc:
            self._close()  # reopen, and so repair and reread, before the next attempt
            raise RetriableSinkError(f"{self.path_for(day)}: {type(exc).__name__}: {exc}") from exc

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd, self._day = self._fd, None, None
            try:
                os.close(fd)
            except OSError:
                logger.warning("%s: closing %s failed", self.name, self.directory, exc_info=True)

    def _known(self, day: date) -> set[str]:
        """Identities of ``day``'s file after repairing it (empty when there is no such file)."""
        path = self.path_for(day)
        if not path.exists():
            return set()
        repair(path, quoted_newlines=self.format.quoted_newlines, sync=self.fsync)
        return self.format.identities(path)

    def _open(self, day: date) -> None:
        previous_day, previous_written = self._day, self._written
        self._close()
        yesterday = day - timedelta(days=1)
        self._previous = previous_written if previous_day == yesterday else self._known(yesterday)
        self._written = self._known(day)
        path = self.path_for(day)
        created = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._day = day
        self._size = os.fstat(self._fd).st_size
        if created and self.fsync:
            fsync_directory(self.directory)
        logger.info("%s: writing %s (%d events already there)", self.name, path, len(self._written))

    def _append(self, day: date, records: Sequence[SinkRecord]) -> None:
        if self._fd is None or day != self._day:
            self._open(day)
        assert self._fd is not None
        fresh: list[SinkRecord] = []
        identities: set[str] = set()
        for record in records:
            identity = self.format.identity(record)
            if identity in self._written or identity in self._previous or identity in identities:
                continue  # written before a crash or by an earlier delivery of this batch
            identities.add(identity)
            fresh.append(record)
        if not fresh:
            return
        try:
            data = self.format.encode(fresh)
        except (KeyError, TypeError, ValueError) as exc:
            raise SinkRejectedError(
                f"{self.name}: cannot write a record as {self.format.suffix}: {type(exc).__name__}: {exc}",
                reason="unrenderable",
            ) from exc
        if self._size == 0:
            data = self.format.header() + data
        write_all(self._fd, data)
        if self.fsync:
            os.fsync(self._fd)
        self._size += len(data)
        self._written |= identities
