"""Mapper ``miit``: one record of MIIT's infant formula traceability export → one EPCIS ObjectEvent.

* 生产批次 (a production batch) → ``commissioning``, action ADD: the batch's
  tins come into being at the producer. Its factory test reports (出厂检验报告)
  become ``tb:certificates`` of type ``test-report``; its raw-milk sources
  (原料乳来源, the suppliers the dairy bought milk from) are kept in
  ``src:rawMilkSources`` — they are not a 来源 of this event (nothing moved
  between two businesses), so they stay out of ``tb:sourceBusiness``, which
  would make the bus treat the batch as a movement.
* 发货记录 (a shipment of the batch) → ``shipping``, action OBSERVE, 来源 the
  producer, 去向 the consignee (收货单位), the delivery note (发货单号) as a
  ``desadv`` business transaction. The batch number is the trace code
  (``tb:traceCode``, ``tb:outboundBatch``), which SAMR's 销货台账 carries
  as well: the two reports of one shipment merge.

Quantities are in the platform's unit (罐, tins → Rec 20 ``XCX``); the class
is the product's LGTIN (GTIN + batch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from connectors.base import SourceRecordError
from connectors.mapping.base import Mapped, RecordMapper, register_mapper
from connectors.mapping.builder import PLATFORM_CONTEXT, certificate, event_time, party, quantity
from connectors.platforms.gtin_class import product_class
from connectors.platforms.miit import records as r
from schemas.identifiers.private_uri import build

DEPARTMENT: Final = "MIIT"
PLATFORM: Final = "miit-formula-trace"
ROLE: Final = "manufacturer"
"""The platform records infant formula producers only."""


def _text(source: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = source.get(key)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _require(source: Mapping[str, Any], key: str, where: str = "") -> str:
    text = _text(source, key)
    if text is None:
        raise SourceRecordError("missing-field", f"{where}{key!r} is missing or empty")
    return text


def _object(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    if not isinstance(value, dict):
        raise SourceRecordError("missing-field", f"{key!r} is missing or not an object")
    return value


def _list(record: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = record.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SourceRecordError("bad-field", f"{key!r} must be a list of objects")
    return value


@register_mapper
class MiitFormulaMapper(RecordMapper):
    name = "miit"
    description = "MIIT infant formula traceability (JSON: 生产批次 / 发货记录) → commissioning/shipping ObjectEvents"

    def map(self, record: Mapping[str, Any]) -> Mapped:
        kind = _text(record, r.RECORD_TYPE)
        if kind not in (r.BATCH, r.SHIPMENT):
            raise SourceRecordError(
                "unknown-record-type", f"{r.RECORD_TYPE} {kind!r} is neither {r.BATCH!r} nor {r.SHIPMENT!r}"
            )
        producer = _object(record, r.PRODUCER)
        producer_uscc = _require(producer, r.USCC, f"{r.PRODUCER}.")
        batch = _require(record, "生产批号")
        trace_code = _text(record, "追溯码") or batch
        epc_class = product_class(_text(record, "商品条码"), batch, producer_uscc)
        shipping = kind == r.SHIPMENT
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            **event_time(_require(record, "发货时间" if shipping else "生产时间")),
            "epcList": [],
            "action": "OBSERVE" if shipping else "ADD",
            "bizStep": "shipping" if shipping else "commissioning",
        }
        quantity(event, epc_class, _require(record, "数量"), _require(record, "单位"))
        if shipping and _text(record, "发货单号"):
            event["bizTransactionList"] = [
                {"type": "desadv", "bizTransaction": build("doc", "voucher", _require(record, "发货单号"))}
            ]
        event.update(
            {
                "tb:reportingDepartment": DEPARTMENT,
                "tb:reportingPlatform": PLATFORM,
                "tb:productCategory": _require(record, "产品类别"),
                "tb:businessUSCC": party(producer_uscc)["tb:uscc"],
                "tb:businessRole": ROLE,
                "tb:regionCode": _require(producer, r.REGION, f"{r.PRODUCER}."),
                "tb:outboundBatch": batch,
                "tb:traceCode": trace_code,
            }
        )
        reports = [
            certificate(
                "test-report", _require(item, "报告编号", f"{r.TEST_REPORTS}[{index}]."), _text(item, "检验机构")
            )
            for index, item in enumerate(_list(record, r.TEST_REPORTS))
        ]
        if reports:
            event["tb:certificates"] = reports
        if shipping:
            consignee = _object(record, r.CONSIGNEE)
            event["tb:sourceBusiness"] = party(producer_uscc, _text(producer, r.NAME))
            event["tb:destinationBusiness"] = party(
                _require(consignee, r.USCC, f"{r.CONSIGNEE}."), _text(consignee, r.NAME)
            )
            if _text(consignee, r.LICENCE):
                event["src:consigneeLicence"] = _text(consignee, r.LICENCE)
        event["src:recordId"] = _require(record, "记录编号")
        for key, term in (("产品名称", "src:productName"), ("规格", "src:spec"), ("商品条码", "src:productCode")):
            if _text(record, key):
                event[term] = _text(record, key)
        if _text(producer, r.LICENCE):
            event["src:businessLicence"] = _text(producer, r.LICENCE)
        sources = [
            {"src:uscc": _require(item, r.USCC, f"{r.RAW_MILK}[{index}].")}
            | ({"src:name": name} if (name := _text(item, r.NAME)) else {})
            | ({"src:regionCode": region} if (region := _text(item, r.REGION)) else {})
            for index, item in enumerate(_list(record, r.RAW_MILK))
        ]
        if sources:
            event["src:rawMilkSources"] = sources
        return Mapped((event,), PLATFORM_CONTEXT)
