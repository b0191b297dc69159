"""NMPA's exports of the sample world: drug trace-code XML files in the style of 码上放心 exports.

Two kinds of file, one per enterprise and day (the platform exports per
enterprise account), UTF-8, the enterprise and day on the root element:

* ``nmpa-relation-<USCC>-<YYYYMMDD>.xml``: ``<追溯码关联关系>`` with one
  ``<关联记录>`` per packing (业务类型 包装): the package's code (``<上级码
  包装层级="2">``) and the codes packed in it (``<下级码列表><追溯码
  包装层级="1">…``), unit → middle pack → case;
* ``nmpa-outbound-<USCC>-<YYYYMMDD>.xml``: ``<出库单据>`` with one ``<单据>``
  per shipment (业务类型 销售出库): sender, receiver and maker as nested
  elements, the shipped codes in ``<追溯码列表>``. The 饮片 maker's shipments
  (药品类别 中药饮片) list the batch-level trace code instead of unit codes.

The elements are the ones :mod:`connectors.platforms.nmpa.mapper` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Final

from lxml import etree

from connectors.platforms.nmpa.mapper import ROLES, SLICES
from ops.sampledata.natcm import TIME_FORMAT, number, report_quantity
from ops.sampledata.world import Business, Movement, Report, World

DEPARTMENT: Final = "NMPA"
_ROLE_NAMES: Final = {role: name for name, role in ROLES.items()}
_CATEGORIES: Final = {"0302": SLICES}
"""产品类别代码 → 药品类别; anything else here is a chemical drug (化学药品)."""
MISSING_ELEMENTS: Final[Mapping[str, tuple[str, str]]] = {
    # Report.missing names a field generically; these are the elements NMPA writes it in
    "source_name": ("发货企业", "企业名称"),
    "destination_name": ("收货企业", "企业名称"),
    "licence": ("发货企业", "许可证号"),
}


def package_levels(world: World) -> dict[str, int]:
    """包装层级 of every packed or packing code: 1 for a unit, one more than its children for a package."""
    children = {m.trace_code: m.children for m in world.movements if m.step == "packing"}
    levels: dict[str, int] = {}

    def level(code: str) -> int:
        if code not in levels:
            levels[code] = 1 + max((level(child) for child in children.get(code, ())), default=0)
        return levels[code]

    for parent in children:
        level(parent)
    return levels


def _text(parent: etree._Element, tag: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attributes)
    element.text = text
    return element


def _enterprise(parent: etree._Element, tag: str, business: Business, *, full: bool = True) -> etree._Element:
    element = etree.SubElement(parent, tag)
    _text(element, "企业名称", business.name)
    _text(element, "统一社会信用代码", business.uscc)
    if full:
        _text(element, "企业类型", _ROLE_NAMES[business.role])
        _text(element, "行政区划代码", business.region_code)
        _text(element, "许可证号", business.licence or "")
    return element


def _product(record: etree._Element, movement: Movement) -> None:
    product = movement.product
    category = _CATEGORIES.get(product.category, "化学药品")
    _text(record, "药品名称", product.name)
    _text(record, "药品标识码", "" if category == SLICES else movement.trace_code[:7])
    _text(record, "商品条码", product.code)
    _text(record, "产品类别代码", product.category)
    _text(record, "药品类别", category)
    _text(record, "规格", product.spec)
    _text(record, "生产批号", movement.batch)


def _record(movement: Movement, report: Report, levels: Mapping[str, int]) -> etree._Element:
    packing = movement.step == "packing"
    record = etree.Element("关联记录" if packing else "单据")
    _text(record, "记录编号", report.record_id)
    _text(record, "业务类型", "包装" if packing else "销售出库")
    _text(record, "关联时间" if packing else "出库时间", movement.reported_time(report).strftime(TIME_FORMAT))
    _product(record, movement)
    if packing:
        _enterprise(record, "生产企业", movement.producer)
        _text(record, "上级码", movement.trace_code, 包装层级=str(levels[movement.trace_code]))
        listed = etree.SubElement(record, "下级码列表")
        for child in movement.children:
            _text(listed, "追溯码", child, 包装层级=str(levels.get(child, 1)))
    else:
        assert movement.destination is not None, f"{movement.id}: a shipment without a receiver"
        _enterprise(record, "生产企业", movement.producer, full=False)
        _enterprise(record, "发货企业", movement.source or movement.location)
        _enterprise(record, "收货企业", movement.destination)
        listed = etree.SubElement(record, "追溯码列表")
        level = levels.get(movement.trace_code)
        _text(listed, "追溯码", movement.trace_code, **({"包装层级": str(level)} if level else {}))
    value, unit = report_quantity(movement, report)
    _text(record, "数量", number(value))
    _text(record, "单位", unit)
    for field in report.missing:
        if field in MISSING_ELEMENTS:
            outer, inner = MISSING_ELEMENTS[field]
            found = record.find(f"{outer}/{inner}")
            if found is not None:
                found.text = ""
    return record


def export(world: World, directory: Path) -> list[Path]:
    """Write NMPA's reports of ``world`` into ``directory``; return the files written, in name order."""
    levels = package_levels(world)
    files: dict[Path, tuple[str, Business, date, list[etree._Element]]] = {}
    reports = sorted(world.reports_of(DEPARTMENT), key=lambda mr: (mr[0].reported_time(mr[1]), mr[1].record_id))
    for movement, report in reports:
        kind = "relation" if movement.step == "packing" else "outbound"
        day = movement.reported_time(report).date()
        path = directory / f"nmpa-{kind}-{movement.location.uscc}-{day:%Y%m%d}.xml"
        root_tag = "追溯码关联关系" if kind == "relation" else "出库单据"
        files.setdefault(path, (root_tag, movement.location, day, []))[3].append(_record(movement, report, levels))
    directory.mkdir(parents=True, exist_ok=True)
    for path, (root_tag, business, day, records) in files.items():
        root = etree.Element(root_tag, {"企业名称": business.name, "统一社会信用代码": business.uscc})
        root.set("数据日期", day.isoformat())
        root.set("版本", "1.0")
        root.extend(records)
        etree.indent(root, space="  ")
        path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n")
    return sorted(files)
