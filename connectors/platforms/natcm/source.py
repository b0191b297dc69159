"""The NATCM platform source (``connector.class: natcm-platform``): the herb platform's CSV exports dropped in a directory.

A file source (:mod:`connectors.file.source`: stable-file detection, per-file
positions, marks, dead letters) preset for NATCM: platform ``NATCM``, mapper
``natcm`` (:mod:`connectors.platforms.natcm.mapper`), files ``natcm-*.csv``
(UTF-8 with BOM; ``auto`` also reads a GB18030 re-save). Every key of
``file-source`` may still be set.
"""

from __future__ import annotations

from pydantic import Field

from connectors.file.source import FileSource, FileSourceConfig
from connectors.registry import register
from streams.subscriptions import Department


class NatcmPlatformConfig(FileSourceConfig):
    platform: Department | None = Field(default="NATCM", description="reporting department (NATCM)")
    mapper: str = Field(default="natcm", description="how native records become EPCIS events")
    file_pattern: str = Field(
        default="natcm-*.csv", min_length=1, alias="file.pattern", description="glob of the export files to read"
    )


@register(
    name="natcm-platform",
    kind="source",
    transport="file",
    platform="NATCM",
    config=NatcmPlatformConfig,
    conformance="connectors.platforms.natcm.conformance:NatcmPlatformKit",
)
class NatcmPlatformSource(FileSource):
    """NATCM herb platform CSV exports (采收, 产地加工, 饮片生产, 销售) → EPCIS events."""
