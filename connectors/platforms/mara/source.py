"""The MARA platform source (``connector.class: mara-platform``): the 农产品质量安全追溯 platform's CSV exports.

A file-drop source (:class:`~connectors.file.source.FileSource`: same
lifecycle, positions and guarantees) whose defaults fit MARA's weekly exports:
``mara-*.csv`` files in GBK (read as GB18030, which also accepts a UTF-8
re-save), one row per record, mapped by the ``mara`` mapper
(:mod:`connectors.platforms.mara.mapper`) to one event each — animal
quarantine, slaughter, slaughterhouse exit, 合格证 and 产地准出 records.
"""

from __future__ import annotations

from pydantic import Field

from connectors.file.readers import FileFormat
from connectors.file.source import FileSource, FileSourceConfig
from connectors.registry import register
from streams.subscriptions import Department


class MaraPlatformConfig(FileSourceConfig):
    platform: Department | None = Field(default="MARA", description="the reporting department (MARA)")
    mapper: str = Field(default="mara", description="how rows become events (default mara)")
    file_pattern: str = Field(
        default="mara-*.csv", min_length=1, alias="file.pattern", description="glob of names to read (mara-*.csv)"
    )
    file_format: FileFormat = Field(
        default="csv", alias="file.format", description="csv (the platform's export); auto reads by extension"
    )


@register(
    name="mara-platform",
    kind="source",
    transport="file",
    config=MaraPlatformConfig,
    platform="MARA",
    conformance="connectors.platforms.mara.conformance:MaraPlatformKit",
)
class MaraPlatformSource(FileSource):
    """MARA 农产品质量安全追溯 CSV exports (GBK) dropped in a directory, one event per row."""
