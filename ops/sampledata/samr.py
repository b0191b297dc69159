"""SAMR's platform exports of the sample world: one XLSX ledger per business and ledger kind.

SAMR's national food-safety collaboration platform holds the food businesses'
进货台账 (inbound ledger) and 销货台账 (outbound ledger). In the sample world it
sees the market's receipts of vegetables (in 斤), the formula distributor's
receipts and the dairy's shipments of formula (in 箱, 6 罐 each), and the
importer's receipts (the customs declaration number as trace code, origin
country sometimes left out) and sales of frozen beef. Columns:
:mod:`connectors.platforms.samr.ledger`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.platforms.samr import ledger
from ops.sampledata.world import Business, Movement, Report, World

CASE_SIZE = 6
"""Tins of formula in one case (800g×6罐/箱)."""


def _amount(movement: Movement, report: Report) -> tuple[Decimal, str, str | None]:
    """(value, unit, 箱规) as the ledger writes the movement's quantity."""
    unit = report.unit or movement.unit
    if unit == movement.unit:
        return movement.quantity, unit, None
    if (movement.unit, unit) == ("公斤", "斤"):
        return movement.quantity * 2, unit, None
    if (movement.unit, unit) == ("罐", "箱"):
        return movement.quantity / CASE_SIZE, unit, f"{CASE_SIZE}罐/箱"
    raise ValueError(f"{movement.id}: no conversion from {movement.unit} to {unit}")


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _partner(business: Business | None, report: Report) -> list[Any]:
    """名称, USCC, 许可证编号, 身份证号, 联系电话 of the supplier or buyer."""
    if business is None:
        return [None] * len(ledger.PARTNER_FIELDS)
    name = None if {"source_name", "destination_name"} & report.missing else business.name
    return [name, business.uscc, business.licence, business.person_id_number, business.person_phone]


def _row(movement: Movement, report: Report, kind: ledger.Ledger) -> list[Any]:
    product, owner = movement.product, movement.location
    value, unit, case_size = _amount(movement, report)
    declaration = movement.chain == "import"  # imported food is traced by its customs declaration (报关单号)
    country = None if "origin_country" in report.missing or movement.origin_country is None else movement.origin_country
    partner = movement.source if kind == "in" else movement.destination
    certificates = movement.certificates
    return [
        report.record_id,
        movement.reported_time(report),
        product.name,
        product.code,
        product.spec,
        product.category,
        movement.batch,
        _number(value),
        unit,
        case_size,
        None if declaration else movement.trace_code,
        movement.trace_code if declaration else None,
        ledger.COUNTRIES[country] if country else None,
        movement.producer.name,
        movement.producer.uscc,
        *_partner(partner, report),
        ledger.SEPARATOR.join(ledger.CERTIFICATE_LABELS[c.kind] for c in certificates) or None,
        ledger.SEPARATOR.join(c.number for c in certificates) or None,
        ledger.SEPARATOR.join(c.issuer or "" for c in certificates) or None,
        movement.voucher,
        owner.name,
        owner.uscc,
        owner.licence,
        ledger.BUSINESS_TYPES[owner.role],
        owner.region_code,
    ]


def export(world: World, directory: Path) -> list[Path]:
    """Write ``samr-ledger-<in|out>-<licence>.xlsx`` per business and ledger; return the paths written."""
    books: dict[tuple[ledger.Ledger, Business], list[list[Any]]] = {}
    for movement, report in world.reports_of("SAMR"):
        kind: ledger.Ledger = "in" if movement.step == "receiving" else "out"
        books.setdefault((kind, movement.location), []).append(_row(movement, report, kind))
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for (kind, business), rows in books.items():
        rows.sort(key=lambda row: (row[1], row[0]))  # ledgers list by date
        path = directory / f"samr-ledger-{kind}-{business.licence or business.uscc}.xlsx"
        path.write_bytes(ledger.workbook_bytes(kind, rows))
        written.append(path)
    return written
