"""Conformance kit of the NATCM platform source: real 销售 (sale) CSV exports dropped in a real directory.

Files are written as the platform writes them (UTF-8 with BOM, Chinese
header, CRLF), under a hidden ``.part`` name and then renamed. Only test code
imports this module.
"""

from __future__ import annotations

import csv
import io
from typing import Final

from connectors.file.conformance import PlatformFileKit
from connectors.file.readers import BOM
from connectors.platforms.natcm.mapper import COLUMNS

COOPERATIVE: Final = ("磐安县某中药材专业合作社", "93330727MA2B00086W")
PROCESSOR: Final = ("磐安县某中药饮片有限公司", "91330727MA2B00158U")


def sale_row(number: int, salt: str) -> dict[str, str]:
    """One sale of a dried 浙贝母 batch from the cooperative to the slice maker (去向: 饮片企业)."""
    batch = f"ZBM-{salt}-{number:06d}"
    return {
        "记录编号": f"NATCM-XS-{salt}-{number:06d}",
        "业务类型": "销售",
        "销售时间": "2026-11-07 08:30:00",
        "追溯码": batch,
        "产品名称": "浙贝母（统货）",
        "产品编码": "06908888001017",
        "产品类别代码": "0301",
        "规格": "1kg/袋",
        "销售批号": batch,
        "数量": str(100 + number % 900),
        "单位": "公斤",
        "主体名称": COOPERATIVE[0],
        "主体统一社会信用代码": COOPERATIVE[1],
        "主体类型": "中药材种植主体",
        "行政区划代码": "330727",
        "生产主体统一社会信用代码": COOPERATIVE[1],
        "购货单位名称": PROCESSOR[0],
        "购货单位统一社会信用代码": PROCESSOR[1],
    }


def sales_csv(rows: list[dict[str, str]]) -> bytes:
    """A 销售 export file: UTF-8 with BOM, the platform's header, CRLF."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS["销售"], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


class NatcmPlatformKit(PlatformFileKit):
    connector_class = "natcm-platform"

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        digest = self._drop_as(
            "natcm-sales", ".csv", sales_csv([sale_row(n, self.salt) for n in range(start, start + count)])
        )
        return [f"{digest}:{number}" for number in range(1, count + 1)]

    async def put_bad(self) -> bytes:
        bad = sale_row(999_999, self.salt)
        bad["数量"] = "十二"  # not a number: the mapper refuses it (bad-quantity)
        data = sales_csv([bad])
        self._drop_as("natcm-sales", ".csv", data)
        return data[len(BOM) :].split(b"\r\n")[1]
