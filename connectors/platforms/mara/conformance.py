"""Conformance kit of the MARA platform source: real GBK CSV exports dropped in a real directory.

Good records are 产地准出 (origin exit) rows of a vegetable cooperative's lots
shipped to the wholesale market, each with its 合格证; the bad one has a
quantity the mapper refuses (``bad-quantity``). Files are named like the
platform's (``mara-origin-exit-….csv``, matched by the default pattern) and
written under a hidden ``.part`` name, then renamed. Only test code imports
this module.
"""

from __future__ import annotations

from typing import Final

from connectors.file.conformance import PlatformFileKit
from connectors.platforms.mara import mapper as m

COOPERATIVE: Final = "93330109MA2B00027Q"
MARKET: Final = "91440101MA5CJQ4N59"
ORIGIN_EXIT: Final = m.RECORD_TYPES["产地准出"]


def origin_exit_row(number: int, salt: str) -> dict[str, str]:
    """One 产地准出 row as MARA exports it: a lot of greens leaving the cooperative for the market."""
    certificate = f"HGZ-{salt}-{number:06d}"
    return {
        m.RECORD_ID: f"MARA-KIT-{salt}-{number:06d}",
        m.RECORD_TYPE: ORIGIN_EXIT.name,
        m.BUSINESS_NAME: "杭州萧山某蔬菜专业合作社",
        m.BUSINESS_USCC: COOPERATIVE,
        m.BUSINESS_KIND: "农民专业合作社",
        m.REGION: "330109",
        m.ID_NUMBER: "",
        m.PHONE: "",
        m.PRODUCT_NAME: "萧山青菜",
        m.PRODUCT_CODE: "06905555008713",
        m.CATEGORY: "0201",
        m.BATCH: f"QC-{salt}-{number:06d}",
        m.TRACE_CODE: certificate,
        m.QUANTITY: str(100 + number % 300),
        m.UNIT: "公斤",
        m.COMPLIANCE: certificate,
        ORIGIN_EXIT.time_column: "2026-11-20 06:15:00",
        "收货方名称": "杭州某农副产品批发市场",
        "收货方统一社会信用代码": MARKET,
    }


def gbk_csv(rows: list[dict[str, str]]) -> tuple[bytes, list[bytes]]:
    """(the file's bytes, each data row's bytes as the CSV reader hands them to a dead letter)."""
    header = ",".join(ORIGIN_EXIT.columns).encode("gbk")
    lines = [",".join(row.get(column, "") for column in ORIGIN_EXIT.columns).encode("gbk") for row in rows]
    return b"\r\n".join([header, *lines]) + b"\r\n", lines


class MaraPlatformKit(PlatformFileKit):
    connector_class = "mara-platform"

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        data, _ = gbk_csv([origin_exit_row(number, self.salt) for number in range(start, start + count)])
        digest = self._drop_as("mara-origin-exit", ".csv", data)
        return [f"{digest}:{number}" for number in range(1, count + 1)]

    async def put_bad(self) -> bytes:
        bad = origin_exit_row(999_999, self.salt)
        bad[m.QUANTITY] = "十二"  # not a number: the mapper refuses it (bad-quantity)
        data, lines = gbk_csv([bad])
        self._drop_as("mara-origin-exit", ".csv", data)
        return lines[0]
