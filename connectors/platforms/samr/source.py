"""The SAMR platform source (``connector.class: samr-platform``): food business ledger workbooks.

A file-drop source (:class:`~connectors.file.source.FileSource`: same
lifecycle, positions and guarantees) whose defaults fit the exports of SAMR's
national food-safety collaboration platform: ``samr-ledger-*.xlsx``, one
workbook per business and ledger (进货台账 / 销货台账), each row one record,
mapped by the ``samr`` mapper (:mod:`connectors.platforms.samr.mapper`) to one
receiving or shipping event.
"""

from __future__ import annotations

from pydantic import Field

from connectors.file.readers import FileFormat
from connectors.file.source import FileSource, FileSourceConfig
from connectors.registry import register
from streams.subscriptions import Department


class SamrPlatformConfig(FileSourceConfig):
    platform: Department | None = Field(default="SAMR", description="the reporting department (SAMR)")
    mapper: str = Field(default="samr", description="how ledger rows become events (default samr)")
    file_pattern: str = Field(
        default="samr-ledger-*.xlsx",
        min_length=1,
        alias="file.pattern",
        description="glob of names to read (default samr-ledger-*.xlsx)",
    )
    file_format: FileFormat = Field(
        default="xlsx", alias="file.format", description="xlsx (the platform's ledger export); auto: by extension"
    )


@register(
    name="samr-platform",
    kind="source",
    transport="file",
    config=SamrPlatformConfig,
    platform="SAMR",
    conformance="connectors.platforms.samr.conformance:SamrPlatformKit",
)
class SamrPlatformSource(FileSource):
    """SAMR food business ledgers (进货台账/销货台账, XLSX) dropped in a directory, one event per row."""
