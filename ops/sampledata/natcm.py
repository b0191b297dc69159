"""NATCM's exports of the sample world: the herb platform's CSV files (UTF-8 with BOM, Chinese headers).

The platform (中药材/中药饮片追溯) exports one file per module and month:
``natcm-harvest-YYYYMM.csv`` (采收), ``natcm-processing-YYYYMM.csv`` (产地加工),
``natcm-slices-YYYYMM.csv`` (饮片生产) and ``natcm-sales-YYYYMM.csv`` (销售),
rows in time order, CRLF line ends as Excel writes them. The columns are the
ones :mod:`connectors.platforms.natcm.mapper` reads.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Final

from connectors.platforms.natcm.mapper import COLUMNS, MODULES, ROLES
from ops.sampledata.world import Business, Movement, Report, World

DEPARTMENT: Final = "NATCM"
_ROLE_NAMES: Final = {role: name for name, role in ROLES.items()}
_KINDS: Final = {"NATCM-ZZ-": "采收", "NATCM-CJG-": "产地加工", "NATCM-YP-": "饮片生产", "NATCM-XS-": "销售"}
_FILES: Final = {"采收": "harvest", "产地加工": "processing", "饮片生产": "slices", "销售": "sales"}
MISSING_COLUMNS: Final[Mapping[str, str]] = {
    # Report.missing names a field generically; these are the columns NATCM writes it in
    "source_name": "主体名称",
    "destination_name": "购货单位名称",
    "plot": "基地名称",
    "certificates": "产地证明编号",
    "licence": "生产许可证号",
}
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


def report_quantity(movement: Movement, report: Report) -> tuple[Decimal, str]:
    """The quantity in the unit the platform writes (斤 = 0.5 公斤; a 箱 of formula = 6 罐)."""
    unit = report.unit or movement.unit
    if unit == movement.unit:
        return movement.quantity, unit
    factors = {("公斤", "斤"): Decimal(2), ("斤", "公斤"): Decimal("0.5"), ("罐", "箱"): Decimal(1) / 6}
    factor = factors.get((movement.unit, unit))
    if factor is None:
        raise ValueError(f"{movement.id}: no conversion from {movement.unit} to {unit}")
    return (movement.quantity * factor).normalize(), unit


def number(value: Decimal) -> str:
    """A quantity as platforms write it: no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


def _person(business: Business) -> tuple[str, str]:
    if not business.natural_person:
        return "", ""
    return business.person_id_number or "", business.person_phone or ""


def _input_codes(world: World, batches: Sequence[str]) -> str:
    """The product code of each input batch: the product of the movement that made the batch."""
    made = {m.batch: m.product.code for m in world.movements if m.step in ("commissioning", "transforming")}
    return ";".join(made[batch] for batch in batches)


def _row(world: World, movement: Movement, report: Report, kind: str) -> dict[str, str]:
    module = MODULES[kind]
    where = movement.location
    value, unit = report_quantity(movement, report)
    row = {
        "记录编号": report.record_id,
        "业务类型": kind,
        module.time: movement.reported_time(report).strftime(TIME_FORMAT),
        "追溯码": movement.trace_code,
        "产品名称": movement.product.name,
        "产品编码": movement.product.code,
        "产品类别代码": movement.product.category,
        "规格": movement.product.spec,
        module.batch: movement.batch,
        "数量": number(value),
        "单位": unit,
        "主体名称": where.name,
        "主体统一社会信用代码": where.uscc,
        "主体类型": _ROLE_NAMES[where.role],
        "行政区划代码": where.region_code,
    }
    by_kind = {c.kind: c for c in movement.certificates}
    if kind == "采收":
        person_id, phone = _person(where)
        origin = by_kind.get("origin")
        row |= {
            "基地名称": movement.plot or "",
            "负责人身份证号": person_id,
            "负责人联系电话": phone,
            "产地证明编号": origin.number if origin else "",
            "产地证明出具单位": (origin.issuer or "") if origin else "",
        }
    elif kind in ("产地加工", "饮片生产"):
        report_ = by_kind.get("test-report")
        row |= {
            "原料批号": ";".join(movement.input_batches),
            "原料产品编码": _input_codes(world, movement.input_batches),
            "生产许可证号": where.licence or "",
            "检验报告编号": report_.number if report_ else "",
            "检验机构": (report_.issuer or "") if report_ else "",
        }
    else:
        assert movement.destination is not None, f"{movement.id}: a sale without a buyer"
        report_ = by_kind.get("test-report")
        row |= {
            "生产主体统一社会信用代码": movement.producer.uscc,
            "生产许可证号": where.licence or "",
            "购货单位名称": movement.destination.name,
            "购货单位统一社会信用代码": movement.destination.uscc,
            "检验报告编号": report_.number if report_ else "",
        }
    for field in report.missing:
        if field in MISSING_COLUMNS and MISSING_COLUMNS[field] in row:
            row[MISSING_COLUMNS[field]] = ""
    return row


def csv_bytes(kind: str, rows: Sequence[Mapping[str, str]]) -> bytes:
    """One module's CSV as the platform writes it: UTF-8 with BOM, header row, CRLF."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS[kind], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def export(world: World, directory: Path) -> list[Path]:
    """Write NATCM's reports of ``world`` into ``directory``; return the files written, in name order."""
    files: dict[Path, tuple[str, list[dict[str, str]]]] = {}
    reports = sorted(world.reports_of(DEPARTMENT), key=lambda mr: (mr[0].reported_time(mr[1]), mr[1].record_id))
    for movement, report in reports:
        kind = next(k for prefix, k in _KINDS.items() if report.record_id.startswith(prefix))
        month = movement.reported_time(report).strftime("%Y%m")
        path = directory / f"natcm-{_FILES[kind]}-{month}.csv"
        files.setdefault(path, (kind, []))[1].append(_row(world, movement, report, kind))
    directory.mkdir(parents=True, exist_ok=True)
    for path, (kind, rows) in files.items():
        path.write_bytes(csv_bytes(kind, rows))
    return sorted(files)
