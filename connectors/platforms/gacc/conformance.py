"""Conformance kit of the GACC platform source: real single-window XML files dropped in a real directory.

Good records are import declarations of frozen beef for the sample importer;
the bad one has a quantity the mapper refuses (``bad-quantity``). Each file
is written under a hidden ``.part`` name and renamed. Only test code imports
this module.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from lxml import etree

from connectors.file.conformance import PlatformFileKit

IMPORTER: Final = "91330206MA2B000781"


Fields = dict[str, Any]


def declaration_fields(number: int, salt: int) -> Fields:
    """One declaration (报关单) of frozen beef cleared at Ningbo for the importer, as GACC exports it."""
    return {
        "记录编号": f"GACC-KIT-{salt:08d}-{number:06d}",
        "表头": {
            "报关单号": f"3104{salt:08d}{number:06d}",
            "进出口标志": "I",
            "申报地海关": "3104 宁波海关",
            "放行时间": "2026-11-20 10:30:00",
            "境内收货人": {"统一社会信用代码": IMPORTER, "名称": "宁波某进出口贸易有限公司"},
        },
        "表体": {
            "商品": [
                {
                    "商品项号": "1",
                    "商品编号": "0202300090",
                    "商品名称": "进口冷冻去骨牛肉",
                    "商品条码": "06903333005558",
                    "生产批号": f"BR-AU-{salt:08d}",
                    "原产国地区代码": "AUS",
                    "境内目的地代码": "330206",
                    "成交数量": str(100 + number % 700),
                    "成交计量单位": "箱",
                }
            ]
        },
        "随附单证": {
            "单证": [
                {"单证类别": "入境货物检验检疫证明", "单证编号": f"NB-JY-KIT-{number:06d}", "签发机构": "宁波海关"}
            ]
        },
    }


def _append(parent: Any, name: str, value: Any) -> None:
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


def declarations_file(declarations: list[Fields]) -> tuple[bytes, list[bytes]]:
    """(the file's bytes, each ``<报关单>`` element's bytes as the XML reader hands them to a dead letter)."""
    root = etree.Element("报关单数据")
    for fields in declarations:
        _append(root, "报关单", fields)
    etree.indent(root)
    elements = [etree.tostring(child, encoding="utf-8", with_tail=False) for child in root]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), elements


class GaccPlatformKit(PlatformFileKit):
    connector_class = "gacc-platform"

    def __init__(self) -> None:
        super().__init__()
        # Numeric: the salt goes into declaration numbers, which are digits.
        self.number_salt = uuid.uuid4().int % 100_000_000

    def bad_config(self, name: str) -> tuple[dict[str, Any], str]:
        return {**self.config(name), "file.format": "gacc-xml"}, "file.format"

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        data, _ = declarations_file([declaration_fields(n, self.number_salt) for n in range(start, start + count)])
        digest = self._drop_as("gacc-import-declarations", ".xml", data)
        return [f"{digest}:{number}" for number in range(1, count + 1)]

    async def put_bad(self) -> bytes:
        bad = declaration_fields(999_999, self.number_salt)
        bad["表体"]["商品"][0]["成交数量"] = "四百"  # not a number: the mapper refuses it (bad-quantity)
        data, elements = declarations_file([bad])
        self._drop_as("gacc-import-declarations", ".xml", data)
        return elements[0]
