"""Mapper ``nmpa``: records of NMPA drug trace-code exports (码上放心-style XML) → EPCIS events.

The file source reads each element under the export's root as one record
(:mod:`connectors.file.readers`: nested elements are dicts, a repeated tag a
list, an element with attributes a dict with ``#text``). ``业务类型`` decides:

========  =====================================  ==========================================================
业务类型   element, time                          event
========  =====================================  ==========================================================
包装       ``<关联记录>``, 关联时间                AggregationEvent ADD packing: ``parentID`` = 上级码,
                                                  ``childEPCs`` = 下级码列表/追溯码 (unit → middle → case)
销售出库   ``<单据>``, 出库时间                    ObjectEvent OBSERVE shipping from 发货企业 to 收货企业:
                                                  the 追溯码列表 codes in ``epcList``, the batch in
                                                  ``quantityList``
========  =====================================  ==========================================================

20-character drug trace codes (药品追溯码) become
``urn:tracebus:id:drugcode:<code>``; their first 7 characters must be the
record's 药品标识码. A 中药饮片 record (药品类别) has no unit codes: its
追溯码 is the batch-level trace code the slice maker hands on, kept in
``tb:traceCode`` only (as NATCM writes it, so both reports meet).
Enterprises (生产企业, 发货企业, 收货企业) are nested elements with 企业名称,
统一社会信用代码, 企业类型, 行政区划代码, 许可证号 (``src:licence``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from connectors.base import SourceRecordError
from connectors.mapping.base import Mapped, RecordMapper, register_mapper
from connectors.mapping.builder import PLATFORM_CONTEXT, event_time, party, quantity, require
from connectors.platforms.gtin_class import product_class
from connectors.platforms.natcm.mapper import cell, role
from schemas.identifiers.drugcode import validate_drug_trace_code
from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.private_uri import build

DEPARTMENT: Final = "NMPA"
PLATFORM: Final = "nmpa-drug-trace"
"""The platform id in ``tb:reportingPlatform``: 药品追溯协同服务平台."""
SLICES: Final = "中药饮片"
ROLES: Final[Mapping[str, str]] = {
    "药品生产企业": "manufacturer",
    "药品批发企业": "distributor",
    "药品零售企业": "retailer",
    "医疗机构": "hospital",
}
"""企业类型 as the platform writes it → ``tb:businessRole``."""


def enterprise(record: Mapping[str, Any], element: str) -> Mapping[str, Any]:
    value = record.get(element)
    if not isinstance(value, Mapping):
        raise SourceRecordError("missing-field", f"element {element!r} is missing or has no 企业名称/统一社会信用代码")
    return value


def codes(value: Any, where: str) -> list[str]:
    """The codes of a code element: text, ``{"#text": …}`` (with attributes), or a list of these."""
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        text = item.get("#text") if isinstance(item, Mapping) else item
        if not isinstance(text, str) or not text.strip():
            raise SourceRecordError("missing-field", f"{where} has an empty code")
        found.append(text.strip())
    return found


def code_list(record: Mapping[str, Any], element: str) -> list[str]:
    container = record.get(element)
    if not isinstance(container, Mapping) or container.get("追溯码") is None:
        raise SourceRecordError("missing-field", f"element {element!r} has no 追溯码")
    return codes(container["追溯码"], element)


def drug_uri(code: str, product_code: str) -> str:
    try:
        parsed = validate_drug_trace_code(code)
    except IdentifierError as exc:
        raise SourceRecordError("bad-drug-code", f"drug trace code {code!r}: {exc}") from None
    if parsed.product_code != product_code:
        raise SourceRecordError(
            "code-mismatch", f"drug trace code {code} does not start with the 药品标识码 {product_code!r}"
        )
    return build("id", "drugcode", code)


@register_mapper
class NmpaMapper(RecordMapper):
    name = "nmpa"
    description = "NMPA drug trace-code XML records (包装 code associations, 销售出库 shipments incl. 饮片) → EPCIS"

    def map(self, record: Mapping[str, Any]) -> Mapped:
        kind = require(record, "业务类型")
        if kind == "包装":
            event = self._packing(record)
        elif kind == "销售出库":
            event = self._shipping(record)
        else:
            raise SourceRecordError("unknown-record-type", f"业务类型 {kind!r} is not 包装 or 销售出库")
        event["src:recordId"] = require(record, "记录编号")
        return Mapped((event,), PLATFORM_CONTEXT)

    def _packing(self, record: Mapping[str, Any]) -> dict[str, Any]:
        maker = enterprise(record, "生产企业")
        product_code = require(record, "药品标识码")
        parents = codes(record.get("上级码"), "上级码")
        if len(parents) != 1:
            raise SourceRecordError("bad-aggregation", f"a packing record has one 上级码, found {len(parents)}")
        children = [drug_uri(code, product_code) for code in code_list(record, "下级码列表")]
        event: dict[str, Any] = {
            "type": "AggregationEvent",
            **event_time(require(record, "关联时间")),
            "parentID": drug_uri(parents[0], product_code),
            "childEPCs": children,
            "action": "ADD",
            "bizStep": "packing",
            "disposition": "in_progress",
            **self._extension(record, maker),
            "tb:traceCode": parents[0],
        }
        # The record's 数量/单位 counts what was packed; the child codes already say that exactly, so it is
        # kept as the platform wrote it rather than as a childQuantityList that would count the children twice.
        epc_class = self._class(record, maker)
        value, unit = require(record, "数量"), require(record, "单位")
        event["src:originalQuantity"] = [{"src:epcClass": epc_class, "src:value": value, "src:unit": unit}]
        return event

    def _shipping(self, record: Mapping[str, Any]) -> dict[str, Any]:
        sender, receiver = enterprise(record, "发货企业"), enterprise(record, "收货企业")
        maker = enterprise(record, "生产企业")
        listed = code_list(record, "追溯码列表")
        slices = cell(record, "药品类别") == SLICES
        epcs = [] if slices else [drug_uri(code, require(record, "药品标识码")) for code in listed]
        sender_uscc, receiver_uscc = require(sender, "统一社会信用代码"), require(receiver, "统一社会信用代码")
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            **event_time(require(record, "出库时间")),
            "epcList": epcs,
        }
        quantity(event, self._class(record, maker), require(record, "数量"), require(record, "单位"))
        event |= {
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "sourceList": [{"type": "owning_party", "source": build("party", "uscc", sender_uscc)}],
            "destinationList": [{"type": "owning_party", "destination": build("party", "uscc", receiver_uscc)}],
            **self._extension(record, sender),
            "tb:traceCode": listed[0],
            "tb:sourceBusiness": party(sender_uscc, cell(sender, "企业名称")),
            "tb:destinationBusiness": party(receiver_uscc, cell(receiver, "企业名称")),
        }
        if slices:
            event["tb:outboundBatch"] = require(record, "生产批号")  # a 饮片 batch is the code handed on
        return event

    @staticmethod
    def _class(record: Mapping[str, Any], maker: Mapping[str, Any]) -> str:
        return product_class(
            require(record, "商品条码"), require(record, "生产批号"), require(maker, "统一社会信用代码")
        )

    @staticmethod
    def _extension(record: Mapping[str, Any], business: Mapping[str, Any]) -> dict[str, Any]:
        """The ``tb:`` fields of the reporting business (the packer, the sender), and its licence."""
        fields: dict[str, Any] = {
            "tb:reportingDepartment": DEPARTMENT,
            "tb:reportingPlatform": PLATFORM,
            "tb:productCategory": require(record, "产品类别代码"),
            "tb:businessUSCC": require(business, "统一社会信用代码").upper(),
            "tb:businessRole": role(business, "企业类型", ROLES),
            "tb:regionCode": require(business, "行政区划代码"),
        }
        if licence := cell(business, "许可证号"):
            fields["src:licence"] = licence
        return fields
