"""Conformance kit of the MOFCOM platform source: real daily JSON Lines exports dropped in a real directory.

Good records are slaughterhouse exits (屠宰厂出厂) of pork lots to the
wholesale market, with 卡单同行 (quarantine and meat quality certificates,
transaction voucher); the bad one has a quantity the mapper refuses
(``bad-quantity``). Files are named like the platform's
(``mofcom-….jsonl``, matched by the default pattern) and written under a
hidden ``.part`` name, then renamed. Only test code imports this module.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from connectors.file.conformance import PlatformFileKit
from connectors.platforms.mofcom import mapper as m

SLAUGHTERHOUSE: Final = "91350200776049653A"
MARKET: Final = "91440101MA5CJQ4N59"


def slaughterhouse_exit(number: int, salt: str) -> dict[str, Any]:
    """One 屠宰厂出厂 record as MOFCOM exports it: a pork lot leaving for the wholesale market."""
    lot = f"TZ-{salt}-{number:06d}"
    return {
        m.RECORD_ID: f"MOFCOM-KIT-{salt}-{number:06d}",
        m.RECORD_TYPE: "屠宰厂出厂",
        m.NODE_NAME: "杭州萧山某肉类加工有限公司",
        m.NODE_USCC: SLAUGHTERHOUSE,
        m.NODE_KIND: "屠宰厂",
        m.REGION: "330109",
        m.LICENCE: "SC10433010900123",
        "出厂时间": "2026-11-20 06:30:00",
        m.PRODUCT_NAME: "白条猪肉（片猪肉）",
        m.PRODUCT_CODE: "06901234123456",
        m.CATEGORY: "0101",
        m.BATCH: lot,
        m.TRACE_CODE: lot,
        m.QUANTITY: 500 + number % 1000,
        m.UNIT: "公斤",
        m.QUARANTINE: f"3301{number:012d}",
        m.QUARANTINE_ISSUER: "萧山区动物卫生监督所",
        m.MEAT_QUALITY: f"ZJ-HZ-{salt}-{number:06d}",
        m.VOUCHER: f"PF-{salt}-{number:06d}",
        m.BUYER: {m.PARTY_NAME: "杭州某农副产品批发市场", m.PARTY_USCC: MARKET, m.PARTY_KIND: "批发市场"},
    }


def jsonl(records: list[dict[str, Any]]) -> tuple[bytes, list[bytes]]:
    """(the file's bytes, each line's bytes as the JSON Lines reader hands them to a dead letter)."""
    lines = [orjson.dumps(record) for record in records]
    return b"".join(line + b"\n" for line in lines), lines


class MofcomPlatformKit(PlatformFileKit):
    connector_class = "mofcom-platform"

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        data, _ = jsonl([slaughterhouse_exit(number, self.salt) for number in range(start, start + count)])
        digest = self._drop_as("mofcom", ".jsonl", data)
        return [f"{digest}:{number}" for number in range(1, count + 1)]

    async def put_bad(self) -> bytes:
        bad = slaughterhouse_exit(999_999, self.salt)
        bad[m.QUANTITY] = "五百"  # not a number: the mapper refuses it (bad-quantity)
        data, lines = jsonl([bad])
        self._drop_as("mofcom", ".jsonl", data)
        return lines[0]
