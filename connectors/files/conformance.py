"""Conformance kits of ``jsonl-sink`` and ``csv-sink``: real files in the kit's work directory, read back."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from connectors.files.daily import whole_rows_length
from connectors.files.formats import FORMULA_TRIGGERS, csv_identities, jsonl_identities
from connectors.testing.kit import SinkKit


class _DailyFilesKit(SinkKit):
    suffix: str
    quoted_newlines = False

    def __init__(self) -> None:
        self.directory = Path()

    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        self.directory = workdir / "out"

    def config(self, name: str, topic: str = "") -> dict[str, Any]:
        return {
            "name": name,
            "connector.class": self.connector_class,
            "topics": [topic or "deliver.conformance"],
            "file.path": str(self.directory),
        }

    def bad_config(self, name: str, topic: str = "") -> tuple[dict[str, Any], str]:
        return {**self.config(name, topic), "rotation.timezone": "Mars/Olympus_Mons"}, "rotation.timezone"

    def whole_content(self, path: Path) -> bytes:
        """The file up to its last whole row: a row cut by a kill is not delivered (the sink rewrites it)."""
        length = whole_rows_length(path, quoted_newlines=self.quoted_newlines)
        with path.open("rb") as stream:
            return stream.read(length)

    def files(self) -> list[Path]:
        # <prefix>-<YYYY-MM-DD>.<suffix>: name order is date order
        return sorted(self.directory.glob(f"*.{self.suffix}"))

    def identities(self, content: bytes) -> list[str]:
        raise NotImplementedError

    async def delivered(self) -> list[str]:
        return [identity for path in self.files() for identity in self.identities(self.whole_content(path))]


class JsonlSinkKit(_DailyFilesKit):
    connector_class = "jsonl-sink"
    suffix = "jsonl"

    def identities(self, content: bytes) -> list[str]:
        return list(jsonl_identities(content.splitlines()))


class CsvSinkKit(_DailyFilesKit):
    connector_class = "csv-sink"
    suffix = "csv"
    quoted_newlines = True

    def identities(self, content: bytes) -> list[str]:
        text = io.StringIO(content.decode("utf-8"), newline="")
        return [_unescaped(cell) for cell in csv_identities(text)]


def _unescaped(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_TRIGGERS) else cell
