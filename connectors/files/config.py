"""Config keys shared by the sinks that write dated files (JSONL, CSV, EPCIS export)."""

from __future__ import annotations

from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from connectors.config import SinkConfig

DEFAULT_ZONE: Final = "Asia/Shanghai"


class DatedFilesConfig(SinkConfig):
    """Where the files go, which calendar dates them, and whether each write is fsynced."""

    file_path: Path = Field(alias="file.path", description="directory the files are written in (created if missing)")
    rotation_timezone: str = Field(
        default=DEFAULT_ZONE,
        alias="rotation.timezone",
        description="IANA zone whose calendar date names the files (China Standard Time by default)",
    )
    fsync: bool = Field(default=True, description="fsync every write before acknowledging it (durability)")

    @field_validator("file_path")
    @classmethod
    def _not_empty(cls, path: Path) -> Path:
        if str(path) in ("", "."):
            raise ValueError("file.path must name a directory")
        return path

    @field_validator("rotation_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone (e.g. {DEFAULT_ZONE})") from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.rotation_timezone)
