"""Conformance kit of the MIIT platform source: real JSON batch documents dropped in a real directory.

Good records are shipments (发货记录) of an infant formula batch to the
sample distributor; the bad one has a quantity the mapper refuses
(``bad-quantity``). Each document is written under a hidden ``.part`` name and
renamed. Only test code imports this module.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from connectors.file.conformance import PlatformFileKit
from connectors.platforms.miit import records as r

DAIRY: Final = {
    r.NAME: "黑龙江某乳业有限公司",
    r.USCC: "91230103MA2B0006XR",
    r.LICENCE: "SC10523010300456",
    r.REGION: "230103",
}
DISTRIBUTOR: Final = {r.NAME: "杭州某母婴用品商贸有限公司", r.USCC: "91330106MA2B00131P", r.LICENCE: "JY13301060056789"}


def shipment(number: int, salt: str) -> dict[str, Any]:
    """One shipment of tins of a formula batch to the Hangzhou distributor, as the MIIT platform exports it."""
    batch = f"RF{salt}{number:06d}"
    return {
        r.RECORD_TYPE: r.SHIPMENT,
        "记录编号": f"MIIT-KIT-{salt}-{number:06d}",
        r.PRODUCER: DAIRY,
        "产品名称": "婴幼儿配方乳粉（0-6月龄 1段）",
        "商品条码": "06902468002005",
        "规格": "800g/罐",
        "产品类别": "0401",
        "生产批号": batch,
        "追溯码": batch,
        "发货时间": f"2026-11-20 10:{number % 60:02d}:00",
        "数量": 600 + 6 * (number % 100),
        "单位": "罐",
        "发货单号": f"FH-{salt}-{number:06d}",
        r.CONSIGNEE: DISTRIBUTOR,
    }


class MiitPlatformKit(PlatformFileKit):
    connector_class = "miit-platform"

    def bad_config(self, name: str) -> tuple[dict[str, Any], str]:
        return {**self.config(name), "file.format": "miit-json"}, "file.format"

    def _drop_document(self, records: list[dict[str, Any]]) -> str:
        return self._drop_as("miit-formula-kit", ".json", r.document_bytes(records))

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        digest = self._drop_document([shipment(number, self.salt) for number in range(start, start + count)])
        return [f"{digest}:{number}" for number in range(1, count + 1)]

    async def put_bad(self) -> bytes:
        bad = shipment(999_999, self.salt)
        bad["数量"] = "四百"  # not a number: the mapper refuses it (bad-quantity)
        self._drop_document([bad])
        return orjson.dumps(bad)  # the JSON reader hands each element's compact form to the dead letter
