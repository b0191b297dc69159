"""MARA's sample export: the world's MARA reports as the platform's weekly GBK CSV files, one per record type.

The 国家农产品质量安全追溯管理信息平台 exports animal quarantine (产地检疫),
slaughter (屠宰加工), slaughterhouse exit (肉品出厂), compliance certificates
(合格证开具) and origin exit (产地准出) records as CSV in GBK (what Excel on a
Chinese Windows writes) with Chinese headers: ``mara-<type>-<week start>.csv``,
read back by the ``mara`` mapper (:mod:`connectors.platforms.mara.mapper`).
Individual farmers are natural persons: their rows carry 身份证号 and 联系电话.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final

from connectors.platforms.mara import mapper as m
from ops.sampledata.world import START, Business, Movement, Report, World

FILE_NAMES: Final = {
    "产地检疫": "quarantine",
    "屠宰加工": "slaughter",
    "肉品出厂": "slaughter-out",
    "合格证开具": "certificate",
    "产地准出": "origin-exit",
}
KIND_LABELS: Final = {"breeder": "养殖场", "slaughterhouse": "屠宰企业", "producer": "农民专业合作社"}
"""world role → the platform's 主体类型 (an individual farmer is a 个体种植户)."""
BASIS: Final = "内部质量控制"
"""承诺依据 of the sample 合格证 (one of 委托检测, 自我检测, 内部质量控制, 自我承诺)."""


def local_time(moment: datetime) -> str:
    """China time as platforms write it: no offset."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def number(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def reported_quantity(movement: Movement, report: Report) -> tuple[str, str]:
    """(value, unit) as the platform writes them: in ``report.unit`` when set (1 公斤 = 2 斤, 1 箱 = 6 罐)."""
    unit = report.unit or movement.unit
    if unit == movement.unit:
        return number(movement.quantity), unit
    factors = {("公斤", "斤"): Decimal(2), ("罐", "箱"): Decimal(1) / Decimal(6)}
    factor = factors.get((movement.unit, unit))
    if factor is None:
        raise ValueError(f"{movement.id}: no conversion from {movement.unit} to {unit}")
    return number((movement.quantity * factor).quantize(Decimal("0.01")).normalize()), unit


def record_type(movement: Movement) -> m.RecordType:
    """Which of MARA's record types the movement is."""
    role = movement.location.role
    if movement.chain == "pork" and movement.step == "shipping" and role == "breeder":
        name = "产地检疫"
    elif movement.chain == "pork" and movement.step == "commissioning":
        name = "屠宰加工"
    elif movement.chain == "pork" and movement.step == "shipping" and role == "slaughterhouse":
        name = "肉品出厂"
    elif movement.chain == "veg" and movement.step == "commissioning":
        name = "合格证开具"
    elif movement.chain == "veg" and movement.step == "shipping":
        name = "产地准出"
    else:
        raise ValueError(f"{movement.id}: MARA has no record type for {movement.chain} {movement.step} at {role}")
    return m.RECORD_TYPES[name]


def _certificate(movement: Movement, kind: str) -> tuple[str, str]:
    for found in movement.certificates:
        if found.kind == kind:
            return found.number, found.issuer or ""
    return "", ""


def _business(business: Business) -> dict[str, str]:
    return {
        m.BUSINESS_NAME: business.name,
        m.BUSINESS_USCC: business.uscc,
        m.BUSINESS_KIND: "个体种植户" if business.natural_person else KIND_LABELS[business.role],
        m.REGION: business.region_code,
        # only natural persons have their ID number and phone on the platform (personal data)
        m.ID_NUMBER: (business.person_id_number or "") if business.natural_person else "",
        m.PHONE: (business.person_phone or "") if business.natural_person else "",
        m.LICENCE: business.licence or "",
    }


def row(movement: Movement, report: Report) -> dict[str, str]:
    """One report as the row of its record type's file (every column of the header, blanks as "")."""
    kind = record_type(movement)
    value, unit = reported_quantity(movement, report)
    quarantine, quarantine_issuer = _certificate(movement, "animal-quarantine")
    cells = {
        m.RECORD_ID: report.record_id,
        m.RECORD_TYPE: kind.name,
        **_business(movement.location),
        m.PRODUCT_NAME: movement.product.name,
        m.PRODUCT_CODE: movement.product.code,
        m.CATEGORY: movement.product.category,
        m.BATCH: movement.batch,
        m.TRACE_CODE: movement.trace_code,
        m.QUANTITY: value,
        m.UNIT: unit,
        m.INPUT_BATCHES: ";".join(movement.input_batches),
        m.QUARANTINE: quarantine,
        m.QUARANTINE_ISSUER: quarantine_issuer,
        m.MEAT_QUALITY: _certificate(movement, "meat-quality")[0],
        m.COMPLIANCE: _certificate(movement, "compliance")[0],
        m.PLOT: movement.plot or "",
        m.BASIS: BASIS,
        kind.time_column: local_time(movement.reported_time(report)),
    }
    blanks = {
        "source_name": m.BUSINESS_NAME,
        "source_uscc": m.BUSINESS_USCC,
        "batch": m.BATCH,
        "trace_code": m.TRACE_CODE,
        "plot": m.PLOT,
        "certificates": m.QUARANTINE,
    }
    if kind.destination is not None:
        destination = movement.destination
        cells[kind.destination[0]] = destination.name if destination else ""
        cells[kind.destination[1]] = destination.uscc if destination else ""
        blanks |= {"destination_name": kind.destination[0], "destination_uscc": kind.destination[1]}
    for field in report.missing:
        if field not in blanks:
            raise ValueError(f"{report.record_id}: MARA's export has no column for missing field {field!r}")
        cells[blanks[field]] = ""
        if field == "certificates":
            cells.update({m.MEAT_QUALITY: "", m.COMPLIANCE: "", m.QUARANTINE_ISSUER: ""})
    return {column: cells.get(column, "") for column in kind.columns}


def week_of(moment: datetime) -> date:
    return START + timedelta(days=7 * ((moment.date() - START).days // 7))


def csv_gbk(columns: tuple[str, ...], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([r[c] for c in columns] for r in rows)
    return buffer.getvalue().encode("gbk")


def export(world: World, directory: Path) -> list[Path]:
    """Write ``mara-<type>-<week start>.csv`` (GBK) for every week and record type with reports; return them."""
    files: dict[tuple[str, date], list[tuple[datetime, dict[str, str]]]] = {}
    for movement, report in world.reports_of("MARA"):
        kind = record_type(movement)
        when = movement.reported_time(report)
        files.setdefault((kind.name, week_of(when)), []).append((when, row(movement, report)))
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for (type_name, week), entries in sorted(files.items(), key=lambda item: (item[0][1], FILE_NAMES[item[0][0]])):
        path = directory / f"mara-{FILE_NAMES[type_name]}-{week:%Y%m%d}.csv"
        rows = [cells for _, cells in sorted(entries, key=lambda entry: (entry[0], entry[1][m.RECORD_ID]))]
        path.write_bytes(csv_gbk(m.RECORD_TYPES[type_name].columns, rows))
        written.append(path)
    return written
