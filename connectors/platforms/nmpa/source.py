"""The NMPA platform source (``connector.class: nmpa-platform``): drug trace-code XML exports dropped in a directory.

A file source (:mod:`connectors.file.source`: stable-file detection, per-file
positions, marks, dead letters) preset for NMPA: platform ``NMPA``, mapper
``nmpa`` (:mod:`connectors.platforms.nmpa.mapper`), files ``nmpa-*.xml``
(the code association and shipment exports). Every key of ``file-source``
may still be set.
"""

from __future__ import annotations

from pydantic import Field

from connectors.file.source import FileSource, FileSourceConfig
from connectors.registry import register
from streams.subscriptions import Department


class NmpaPlatformConfig(FileSourceConfig):
    platform: Department | None = Field(default="NMPA", description="reporting department (NMPA)")
    mapper: str = Field(default="nmpa", description="how native records become EPCIS events")
    file_pattern: str = Field(
        default="nmpa-*.xml", min_length=1, alias="file.pattern", description="glob of the export files to read"
    )


@register(
    name="nmpa-platform",
    kind="source",
    transport="file",
    platform="NMPA",
    config=NmpaPlatformConfig,
    conformance="connectors.platforms.nmpa.conformance:NmpaPlatformKit",
)
class NmpaPlatformSource(FileSource):
    """NMPA drug trace-code XML exports (包装 associations, 销售出库 shipments incl. 饮片) → EPCIS events."""
