"""Conformance kit of the NMPA platform source: real 出库单据 (shipment) XML exports dropped in a real directory.

Each good record is a shipment of one case of a drug, with its own 20-digit
case code, from the manufacturer to a distributor. Files are written under a
hidden ``.part`` name and then renamed. Only test code imports this module.
"""

from __future__ import annotations

from typing import Final
from xml.sax.saxutils import escape

from connectors.file.conformance import PlatformFileKit

MANUFACTURER: Final = ("浙江某制药有限公司", "91330110MA2B00051W", "药品生产企业", "330110", "浙20000123")
DISTRIBUTOR: Final = ("浙江某医药有限公司", "91330108MA2B001742", "药品批发企业", "330108", "浙AA5710001")
PRODUCT_CODE: Final = "8100000"


def _enterprise(tag: str, fields: tuple[str, str, str, str, str]) -> str:
    name, uscc, kind, region, licence = (escape(f) for f in fields)
    return (
        f"<{tag}><企业名称>{name}</企业名称><统一社会信用代码>{uscc}</统一社会信用代码><企业类型>{kind}</企业类型>"
        f"<行政区划代码>{region}</行政区划代码><许可证号>{licence}</许可证号></{tag}>"
    )


def shipment(number: int, salt: str, *, case_code: str | None = None) -> str:
    """One ``<单据>``: a case shipped from the manufacturer to the distributor (serialised as lxml writes it)."""
    code = case_code if case_code is not None else f"{PRODUCT_CODE}{number:09d}0003"
    return (
        f"<单据><记录编号>NMPA-FH-{salt}-{number:06d}</记录编号><业务类型>销售出库</业务类型>"
        "<出库时间>2026-11-04 16:00:00</出库时间><药品名称>阿莫西林胶囊</药品名称>"
        f"<药品标识码>{PRODUCT_CODE}</药品标识码><商品条码>06909999120017</商品条码><产品类别代码>0501</产品类别代码>"
        f"<药品类别>化学药品</药品类别><规格>0.25g×24粒/盒</规格><生产批号>DY-{salt}</生产批号>"
        f"<生产企业><企业名称>{MANUFACTURER[0]}</企业名称><统一社会信用代码>{MANUFACTURER[1]}</统一社会信用代码></生产企业>"
        f"{_enterprise('发货企业', MANUFACTURER)}{_enterprise('收货企业', DISTRIBUTOR)}"
        f'<追溯码列表><追溯码 包装层级="3">{code}</追溯码></追溯码列表><数量>1</数量><单位>箱</单位></单据>'
    )


def outbound_xml(records: list[str]) -> bytes:
    """An 出库单据 export: the enterprise on the root, one ``<单据>`` per line."""
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<出库单据 企业名称="{MANUFACTURER[0]}" 统一社会信用代码="{MANUFACTURER[1]}">\n'
    return (head + "".join(f"  {record}\n" for record in records) + "</出库单据>\n").encode()


class NmpaPlatformKit(PlatformFileKit):
    connector_class = "nmpa-platform"

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        digest = self._drop_as(
            "nmpa-outbound", ".xml", outbound_xml([shipment(n, self.salt) for n in range(start, start + count)])
        )
        return [f"{digest}:{number}" for number in range(1, count + 1)]

    async def put_bad(self) -> bytes:
        # 19 digits: not a drug trace code, so the mapper refuses it (bad-drug-code)
        bad = shipment(999_999, self.salt, case_code="8100000000999999003")
        self._drop_as("nmpa-outbound", ".xml", outbound_xml([bad]))
        return bad.encode()
