"""GACC's export of the sample world: import food declarations (进口食品报关单) as single-window style XML.

One file a week (ISO week of the release time), ``gacc-import-declarations-<YYYY>-W<ww>.xml``,
UTF-8. The root ``<报关单数据>`` holds one ``<报关单>`` per declaration, in
release-time order: its head (表头: 报关单号, 申报地海关, 放行时间, 境内收货人 …),
its goods lines (表体/商品: 商品编号, 商品条码, 生产批号, 原产国, 成交数量 … — one
line per declaration in the world) and its attached documents (随附单证/单证:
the 入境货物检验检疫证明). The layout is the one
:mod:`connectors.platforms.gacc.mapper` reads. Times are China time without
offset, as the single window shows them. Fields a report leaves empty
(``Report.missing``) are written as empty elements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Final, TypeAlias

from lxml import etree

from ops.sampledata.world import Movement, Report, World

PLATFORM: Final = "GACC"
CUSTOMS: Final = {"3104": "宁波海关"}
"""Customs office code (the first four digits of a declaration number) → name."""
COUNTRIES: Final = {
    "AU": ("AUS", "澳大利亚"),
    "NZ": ("NZL", "新西兰"),
    "BR": ("BRA", "巴西"),
    "AR": ("ARG", "阿根廷"),
    "UY": ("URY", "乌拉圭"),
    "US": ("USA", "美国"),
}
"""ISO 3166 alpha-2 → the customs country code (alpha-3 since 2018) and its Chinese name."""
HS_CODES: Final = {"beef": "0202300090"}
DOCUMENT_NAMES: Final = {
    "import-quarantine": "入境货物检验检疫证明",
    "origin": "原产地证书",
    "test-report": "检验检疫证书",
}
"""Certificate kind → the attached document (随附单证) kind the declaration names."""
"""Product key → 10-digit HS code of the goods (0202.30: frozen boneless bovine meat)."""
_NET_KG_PER_CASE: Final = re.compile(r"^(\d+(?:\.\d+)?)kg/箱")
# Quantity conversions the platforms' own units need (see the world's Report.unit).
_FACTORS: Final = {("公斤", "斤"): Decimal(2), ("罐", "箱"): Decimal(1) / Decimal(6)}


def _in_unit(movement: Movement, report: Report) -> tuple[Decimal, str]:
    unit = report.unit or movement.unit
    if unit == movement.unit:
        return movement.quantity, unit
    factor = _FACTORS.get((movement.unit, unit))
    if factor is None:
        raise ValueError(f"{movement.id}: no conversion from {movement.unit} to {unit}")
    return (movement.quantity * factor).quantize(Decimal("0.01")).normalize(), unit


def _text(value: Decimal | str) -> str:
    return format(value, "f") if isinstance(value, Decimal) else value


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


Fields: TypeAlias = dict[str, "str | Fields | list[Fields]"]


def declaration(movement: Movement, report: Report) -> Fields:
    """One ``<报关单>`` as nested fields: 记录编号, 表头, 表体 (one 商品 line), 随附单证 (its certificates)."""
    missing = report.missing

    def given(key: str, text: str) -> str:
        return "" if key in missing else text

    consignee = movement.destination or movement.location
    released = movement.reported_time(report)
    number = movement.trace_code
    office = number[:4]
    country_code, country_name = COUNTRIES.get(movement.origin_country or "", ("", ""))
    amount, unit = _in_unit(movement, report)
    net = _NET_KG_PER_CASE.match(movement.product.spec) if unit == "箱" else None
    party: Fields = {
        "统一社会信用代码": given("destination_uscc", consignee.uscc),
        "名称": given("destination_name", consignee.name),
    }
    head: Fields = {
        "报关单号": given("trace_code", number),
        "进出口标志": "I",
        "申报地海关": given("customs_office", f"{office} {CUSTOMS.get(office, '')}".strip()),
        "进境关别": given("customs_office", office),
        "申报日期": released.strftime("%Y-%m-%d"),
        "进口日期": released.strftime("%Y-%m-%d"),
        "放行时间": given("time", _time(released)),
        "境内收货人": party,
        "消费使用单位": dict(party),
        "境内收货人食品经营许可证编号": given("licence", consignee.licence or ""),
        "贸易方式": "0110 一般贸易",
        "启运国地区代码": given("origin_country", country_code),
    }
    goods: Fields = {
        "商品项号": "1",
        "商品编号": given("hs_code", HS_CODES.get(movement.product.key, "")),
        "商品名称": given("product_name", movement.product.name),
        "规格型号": given("spec", movement.product.spec),
        "商品条码": given("product_code", movement.product.code),
        "生产批号": given("batch", movement.batch),
        "原产国地区代码": given("origin_country", country_code),
        "原产国地区名称": given("origin_country", country_name),
        "境内目的地代码": given("region_code", consignee.region_code),
        "成交数量": given("quantity", _text(amount)),
        "成交计量单位": given("unit", unit),
        "法定第一数量": given("quantity", _text(amount * Decimal(net.group(1))) if net else ""),
        "法定第一计量单位": "千克" if net else "",
    }
    documents: list[Fields] = [
        {
            "单证类别": DOCUMENT_NAMES.get(c.kind, c.kind),
            "单证编号": given("certificate", c.number),
            "签发机构": given("certificate", c.issuer or ""),
        }
        for c in movement.certificates
    ]
    return {
        "记录编号": report.record_id,
        "表头": head,
        "表体": {"商品": [goods]},
        "随附单证": {"单证": documents} if documents else "",
    }


def _append(parent: etree._Element, name: str, value: str | Fields | list[Fields]) -> None:
    """``value`` as child element(s) ``name`` of ``parent``: text, nested fields, or one element per item."""
    if isinstance(value, list):
        for item in value:
            _append(parent, name, item)
        return
    element = etree.SubElement(parent, name)
    if isinstance(value, dict):
        for child, inner in value.items():
            _append(element, child, inner)
    else:
        element.text = value


def declarations_xml(reports: Iterable[tuple[Movement, Report]], week: str) -> bytes:
    """One weekly export file: the root, then one ``<报关单>`` element per report."""
    root = etree.Element("报关单数据", 导出周次=week, 数据来源="中国国际贸易单一窗口 进口食品")
    for movement, report in reports:
        _append(root, "报关单", declaration(movement, report))
    etree.indent(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def export(world: World, directory: Path) -> list[Path]:
    """Write GACC's declarations of ``world`` to ``directory``, one file per ISO week; return the files."""
    directory.mkdir(parents=True, exist_ok=True)
    weeks: dict[str, list[tuple[Movement, Report]]] = {}
    for movement, report in sorted(world.reports_of(PLATFORM), key=lambda mr: mr[0].reported_time(mr[1])):
        year, number, _ = movement.reported_time(report).isocalendar()
        weeks.setdefault(f"{year}-W{number:02d}", []).append((movement, report))
    written = []
    for week, reports in sorted(weeks.items()):
        path = directory / f"gacc-import-declarations-{week}.xml"
        path.write_bytes(declarations_xml(reports, week))
        written.append(path)
    return written
