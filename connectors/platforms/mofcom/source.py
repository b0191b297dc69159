"""The MOFCOM platform source (``connector.class: mofcom-platform``): the 肉菜流通追溯 platform's daily JSON Lines.

A file-drop source (:class:`~connectors.file.source.FileSource`: same
lifecycle, positions and guarantees) whose defaults fit MOFCOM's export:
``mofcom-*.jsonl`` files in UTF-8, one JSON object per line, mapped by the
``mofcom`` mapper (:mod:`connectors.platforms.mofcom.mapper`) to one event
each — slaughterhouse exits, wholesale market entries and exits to stalls.
"""

from __future__ import annotations

from pydantic import Field

from connectors.file.readers import FileEncoding, FileFormat
from connectors.file.source import FileSource, FileSourceConfig
from connectors.registry import register
from streams.subscriptions import Department


class MofcomPlatformConfig(FileSourceConfig):
    platform: Department | None = Field(default="MOFCOM", description="the reporting department (MOFCOM)")
    mapper: str = Field(default="mofcom", description="how records become events (default mofcom)")
    file_pattern: str = Field(
        default="mofcom-*.jsonl",
        min_length=1,
        alias="file.pattern",
        description="glob of names to read (mofcom-*.jsonl)",
    )
    file_format: FileFormat = Field(
        default="jsonl", alias="file.format", description="jsonl (the platform's export); auto reads by extension"
    )
    file_encoding: FileEncoding = Field(
        default="utf-8", alias="file.encoding", description="utf-8 (the platform's export; a BOM is accepted)"
    )


@register(
    name="mofcom-platform",
    kind="source",
    transport="file",
    config=MofcomPlatformConfig,
    platform="MOFCOM",
    conformance="connectors.platforms.mofcom.conformance:MofcomPlatformKit",
)
class MofcomPlatformSource(FileSource):
    """MOFCOM 肉菜流通追溯 daily JSON Lines exports dropped in a directory, one event per record."""
