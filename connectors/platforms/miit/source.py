"""The MIIT platform source (``connector.class: miit-platform``): infant formula batch documents.

A file-drop source (:class:`~connectors.file.source.FileSource`: same
lifecycle, positions and guarantees) whose defaults fit the exports of MIIT's
infant formula traceability platform: ``miit-*.json``, one JSON array per
production batch (the batch record, then its shipments), mapped by the
``miit`` mapper (:mod:`connectors.platforms.miit.mapper`) to one
commissioning or shipping event per record.
"""

from __future__ import annotations

from pydantic import Field

from connectors.file.readers import FileFormat
from connectors.file.source import FileSource, FileSourceConfig
from connectors.registry import register
from streams.subscriptions import Department


class MiitPlatformConfig(FileSourceConfig):
    platform: Department | None = Field(default="MIIT", description="the reporting department (MIIT)")
    mapper: str = Field(default="miit", description="how batch and shipment records become events (default miit)")
    file_pattern: str = Field(
        default="miit-*.json",
        min_length=1,
        alias="file.pattern",
        description="glob of names to read (default miit-*.json)",
    )
    file_format: FileFormat = Field(
        default="json", alias="file.format", description="json (an array of records per batch); auto: by extension"
    )


@register(
    name="miit-platform",
    kind="source",
    transport="file",
    config=MiitPlatformConfig,
    platform="MIIT",
    conformance="connectors.platforms.miit.conformance:MiitPlatformKit",
)
class MiitPlatformSource(FileSource):
    """MIIT infant formula batches and shipments (JSON documents) dropped in a directory, one event per record."""
