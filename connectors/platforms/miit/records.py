"""The record shapes of MIIT's infant formula traceability platform exports (婴幼儿配方乳粉追溯).

The platform exports one JSON document per production batch: an array whose
first record is the batch (生产批次: the producer, product, quantity, raw-milk
sources 原料乳来源, factory test reports 出厂检验报告) and whose further records
are the batch's shipments (发货记录: quantity, consignee 收货单位, delivery note
发货单号). Records are told apart by ``记录类型``. Each record repeats the
producer and product, so every one maps on its own (the file source hands
records over one by one).

The key names are shared by the sample exporter (:mod:`ops.sampledata.miit`),
the conformance kit and the mapper.
"""

from __future__ import annotations

from typing import Final

import orjson

RECORD_TYPE: Final = "记录类型"
BATCH: Final = "生产批次"
SHIPMENT: Final = "发货记录"

# keys of the producer object (生产企业) and of a party object (收货单位, 原料乳来源 entries)
PRODUCER: Final = "生产企业"
CONSIGNEE: Final = "收货单位"
RAW_MILK: Final = "原料乳来源"
TEST_REPORTS: Final = "出厂检验报告"
NAME: Final = "企业名称"
USCC: Final = "统一社会信用代码"
LICENCE: Final = "许可证编号"
REGION: Final = "所在地行政区划代码"


def document_bytes(records: list[dict[str, object]]) -> bytes:
    """One export document: the records as a JSON array, keys in order, Chinese unescaped, indented."""
    return orjson.dumps(records, option=orjson.OPT_INDENT_2) + b"\n"
