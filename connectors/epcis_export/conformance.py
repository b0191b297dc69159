"""Conformance kit of ``epcis-export``: real document files, parsed and their events' CBV 2.0 hashes recomputed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.epcis_export.connector import SUFFIX
from connectors.testing.kit import SinkKit
from schemas.epcis.document import parse_document
from schemas.epcis.hash import document_hashes


def _offsets(path: Path) -> tuple[int, int, int]:
    # <topic>-<partition>-<first>-<last>.jsonld; topic names may hold '-'
    _, partition, first, last = path.name.removesuffix(SUFFIX).rsplit("-", 3)
    return int(partition), int(first), int(last)


class EpcisExportKit(SinkKit):
    connector_class = "epcis-export"

    def __init__(self) -> None:
        self.directory = Path()

    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        self.directory = workdir / "export"

    def config(self, name: str, topic: str = "") -> dict[str, Any]:
        return {
            "name": name,
            "connector.class": self.connector_class,
            "topics": [topic or "deliver.conformance"],
            "file.path": str(self.directory),
        }

    def bad_config(self, name: str, topic: str = "") -> tuple[dict[str, Any], str]:
        return {**self.config(name, topic), "rotation.timezone": "Mars/Olympus_Mons"}, "rotation.timezone"

    def documents(self) -> list[Path]:
        """Finished documents (not the hidden temporary files), in offset order."""
        return sorted(self.directory.glob(f"*/[!.]*{SUFFIX}"), key=_offsets)

    async def delivered(self) -> list[str]:
        """Identities recomputed from the exported events themselves: proves each event kept its meaning."""
        identities: list[str] = []
        for path in self.documents():
            identities.extend(document_hashes(parse_document(path.read_bytes(), "application/ld+json")))
        return identities
