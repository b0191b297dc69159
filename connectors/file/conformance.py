"""Conformance kit of the file-drop source: real CSV files dropped in a real directory.

Good records are movement rows for the ``flat-movement`` mapper. Files
alternate between GBK (as a Chinese Windows Excel saves "CSV") and UTF-8 with
BOM, so both decoding paths run under the suite. Each file is written under a
``.tmp`` name and renamed, as a well-behaved platform does. Only test code
imports this module.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import uuid
from pathlib import Path
from typing import Any, Final

from connectors.file.readers import BOM
from connectors.testing.kit import SourceKit

SLAUGHTERHOUSE: Final = "91350200776049653A"
MARKET: Final = "91440101MA5CJQ4N59"
COLUMNS: Final = (
    "event_time",
    "biz_step",
    "business_uscc",
    "batch",
    "quantity",
    "uom",
    "source_uscc",
    "destination_uscc",
    "destination_name",
)


def movement_row(number: int, salt: str) -> list[str]:
    """One shipment of a pork batch from the slaughterhouse to the market (去向: 农贸市场)."""
    return [
        "2026-11-20 06:30",
        "shipping",
        SLAUGHTERHOUSE,
        f"PORK-{salt}-{number:06d}",
        str(10 + number % 90),
        "KGM",
        SLAUGHTERHOUSE,
        MARKET,
        "广州农贸市场",
    ]


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    """A CSV file as platforms write it: header row, CRLF line ends, in ``encoding`` (``utf-8-sig`` adds a BOM)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


class FileSourceKit(SourceKit):
    connector_class = "file-source"

    def __init__(self) -> None:
        self.salt = uuid.uuid4().hex[:8]
        self.directory = Path()
        self._files = 0

    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        self.directory = workdir / "drop"
        self.directory.mkdir(parents=True, exist_ok=True)

    def config(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "connector.class": self.connector_class,
            "file.path": str(self.directory),
            "file.pattern": "*.csv",
            "mapper": "flat-movement",
            "poll.interval.ms": 100,
            "batch.max.records": 20,
        }

    def bad_config(self, name: str) -> tuple[dict[str, Any], str]:
        return {**self.config(name), "file.encoding": "latin-1"}, "file.encoding"

    def _drop(self, data: bytes, prefix: str = "movements", suffix: str = ".csv") -> str:
        """Write ``data`` as a new file (atomically: a hidden name, then a rename); return its short digest."""
        self._files += 1
        final = self.directory / f"{prefix}-{self.salt}-{self._files:04d}{suffix}"
        partial = self.directory / f".{final.name}.part"
        partial.write_bytes(data)
        os.replace(partial, final)
        return hashlib.sha256(data).hexdigest()[:16]

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        rows = [movement_row(number, self.salt) for number in range(start, start + count)]
        encoding = "gbk" if self._files % 2 == 0 else "utf-8-sig"
        digest = self._drop(csv_bytes(rows, encoding))
        return [f"{digest}:{number}" for number in range(1, count + 1)]

    async def put_bad(self) -> bytes:
        bad = movement_row(999_999, self.salt)
        bad[COLUMNS.index("quantity")] = "十二"  # not a number: the mapper refuses it (bad-quantity)
        data = csv_bytes([bad], "utf-8-sig")
        self._drop(data)
        raw_line = data[len(BOM) :].split(b"\r\n")[1]
        return raw_line


class PlatformFileKit(FileSourceKit):
    """Base of the platform sources' kits: the platform's own defaults (mapper, pattern, format) apply."""

    def config(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "connector.class": self.connector_class,
            "file.path": str(self.directory),
            "poll.interval.ms": 100,
            "batch.max.records": 20,
        }

    def _drop_as(self, prefix: str, suffix: str, data: bytes) -> str:
        return self._drop(data, prefix, suffix)
