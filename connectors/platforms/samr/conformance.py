"""Conformance kit of the SAMR platform source: real XLSX ledger workbooks dropped in a real directory.

Good records are 进货台账 rows of the sample market receiving vegetables by
the 斤; the bad one has a quantity the mapper refuses (``bad-quantity``).
Each workbook is written under a hidden ``.part`` name and renamed. Only test
code imports this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import orjson

from connectors.file.conformance import PlatformFileKit
from connectors.platforms.samr import ledger

MARKET: Final = ("杭州某农副产品批发市场", "91440101MA5CJQ4N59", "JY13301020012345", "食用农产品批发市场", "330102")
GROWER: Final = ("杭州萧山某蔬菜专业合作社", "93330109MA2B00027Q")


def inbound_row(number: int, salt: str) -> list[Any]:
    """One receipt of greens at the market, in 斤, checked against the grower's 合格证 (in ledger column order)."""
    trace = f"HGZ{salt}{number:06d}"
    return [
        f"SAMR-KIT-{salt}-{number:06d}",
        datetime(2026, 11, 20, 8, number % 60),
        "萧山青菜",
        "06905555008713",
        "散装 按重量计",
        "0201",
        f"QC-{salt}-{number:06d}",
        200 + number % 300,
        "斤",
        None,
        trace,
        None,
        None,
        *GROWER,
        *GROWER,
        None,
        None,
        None,
        "承诺达标合格证",
        trace,
        GROWER[0],
        None,
        *MARKET,
    ]


def raw_of(row: list[Any]) -> bytes:
    """The bytes the XLSX reader hands a dead letter for ``row``: its cells by header, as compact JSON."""
    cells = [value.isoformat() if isinstance(value, datetime) else value for value in row]
    return orjson.dumps(dict(zip(ledger.columns("in"), cells, strict=True)))


class SamrPlatformKit(PlatformFileKit):
    connector_class = "samr-platform"

    def bad_config(self, name: str) -> tuple[dict[str, Any], str]:
        return {**self.config(name), "file.format": "xls"}, "file.format"

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        rows = [inbound_row(number, self.salt) for number in range(start, start + count)]
        digest = self._drop_as("samr-ledger-in-kit", ".xlsx", ledger.workbook_bytes("in", rows))
        return [f"{digest}:{number}" for number in range(1, count + 1)]

    async def put_bad(self) -> bytes:
        bad = inbound_row(999_999, self.salt)
        bad[ledger.columns("in").index("数量")] = "四百"  # not a number: the mapper refuses it (bad-quantity)
        self._drop_as("samr-ledger-in-kit", ".xlsx", ledger.workbook_bytes("in", [bad]))
        return raw_of(bad)
