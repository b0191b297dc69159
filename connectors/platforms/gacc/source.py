"""The GACC platform source (``connector.class: gacc-platform``): import food declaration XML files.

A file-drop source (:class:`~connectors.file.source.FileSource`: same
lifecycle, positions and guarantees) whose defaults fit GACC's single-window
export: ``*.xml`` files, each ``<报关单>`` element one record, mapped by the
``gacc`` mapper (:mod:`connectors.platforms.gacc.mapper`) to one receiving
event per declaration.
"""

from __future__ import annotations

from pydantic import Field

from connectors.file.readers import FileFormat
from connectors.file.source import FileSource, FileSourceConfig
from connectors.registry import register
from streams.subscriptions import Department


class GaccPlatformConfig(FileSourceConfig):
    platform: Department | None = Field(default="GACC", description="the reporting department (GACC)")
    mapper: str = Field(default="gacc", description="how declarations become events (default gacc)")
    file_pattern: str = Field(
        default="*.xml", min_length=1, alias="file.pattern", description="glob of names to read (default *.xml)"
    )
    file_format: FileFormat = Field(
        default="xml", alias="file.format", description="xml (the single-window export); auto reads by extension"
    )


@register(
    name="gacc-platform",
    kind="source",
    transport="file",
    config=GaccPlatformConfig,
    platform="GACC",
    conformance="connectors.platforms.gacc.conformance:GaccPlatformKit",
)
class GaccPlatformSource(FileSource):
    """GACC import food declarations (报关单, single-window XML) dropped in a directory, one event each."""
