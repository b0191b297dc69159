"""Mapper ``mofcom``: records of MOFCOM's 肉菜流通追溯 platform (JSON Lines) → EPCIS events.

The meat and vegetable circulation traceability platform (肉类蔬菜流通追溯体系,
商务部) follows goods through the circulation nodes (节点): the slaughterhouse's
exit (出厂), the wholesale market's entry (进场) and exit (出场) to retail stalls
and buyers. Meat travels with its animal quarantine certificate, its meat quality
certificate and a transaction voucher (卡单同行: 动物检疫合格证明, 肉品品质检验
合格证, 交易凭证); vegetables with their 合格证. It exports one JSON Lines file
per day, UTF-8, one object per record with Chinese keys:

============  ==============  ========  ==========  =====================================
业务类型       bizStep         time key  来源          去向
============  ==============  ========  ==========  =====================================
屠宰厂出厂     shipping        出厂时间   the node     购货方 (the buyer: a market)
批发市场进场   receiving       进场时间   供货方        the node
批发市场出场   shipping        出场时间   the node     购货方 (a retail stall holder, a buyer)
============  ==============  ========  ==========  =====================================

==================================  ========  ============================================================
key                                 required  becomes
==================================  ========  ============================================================
记录编号                             yes       ``src:recordId``
节点名称, 节点统一社会信用代码          no / yes  ``tb:businessUSCC`` (and 来源 or 去向 as above)
节点类型                             yes       ``tb:businessRole`` (屠宰厂, 批发市场, 农贸市场, 零售摊位 …)
行政区划代码, 许可证号                 yes / no  ``tb:regionCode``; ``src:licence``
商品名称, 商品编码, 商品类别            no/no/yes  ``src:productName``; LGTIN when the code is a GTIN; ``tb:productCategory``
批次号, 追溯码                        yes       lot of the class; ``tb:outboundBatch``/``tb:inboundBatch``; ``tb:traceCode``
生产企业统一社会信用代码                no        the lot's producer (qualifies the lot when there is no GTIN)
数量, 计量单位                        yes       ``quantityList[0]`` (Rec 20; the platform's value kept when converted)
动物检疫合格证明编号 + 检疫机构          no        ``tb:certificates`` animal-quarantine
肉品品质检验合格证编号                  no        ``tb:certificates`` meat-quality
合格证编号 + 合格证开具方               no        ``tb:certificates`` compliance
交易凭证号                           no        ``bizTransactionList`` (``urn:tracebus:doc:voucher:…``, desadv)
供货方 / 购货方                       no        objects {名称, 统一社会信用代码, 主体类型, 身份证号, 联系电话}:
                                              USCC and name → ``tb:sourceBusiness`` / ``tb:destinationBusiness``;
                                              a natural person's 身份证号, 联系电话 → ``pii:idNumber``, ``pii:phone``
==================================  ========  ============================================================

Stall holders (and individual farmers supplying a market) are natural persons:
their ID number and phone are personal data and go only under ``pii:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from connectors.base import SourceRecordError
from connectors.mapping.base import Mapped, RecordMapper, register_mapper
from connectors.mapping.builder import (
    DISPOSITIONS,
    PLATFORM_CONTEXT,
    business_role,
    certificate,
    checked_region,
    checked_uscc,
    event_time,
    optional,
    party,
    personal_data,
    quantity,
    require,
)
from connectors.platforms.gtin_class import product_class
from schemas.identifiers.private_uri import build

DEPARTMENT: Final = "MOFCOM"
PLATFORM: Final = "mofcom-rcltzs"

ROLES: Final = {
    "屠宰厂": "slaughterhouse",
    "批发市场": "wholesale-market",
    "农贸市场": "retail-market",
    "零售摊位": "retailer",
    "超市": "retailer",
    "团体消费单位": "caterer",
}
"""节点类型 (the kind of circulation node) → ``tb:businessRole``."""

# Keys, shared by the sample export and the conformance kit.
RECORD_ID: Final = "记录编号"
RECORD_TYPE: Final = "业务类型"
NODE_NAME: Final = "节点名称"
NODE_USCC: Final = "节点统一社会信用代码"
NODE_KIND: Final = "节点类型"
REGION: Final = "行政区划代码"
LICENCE: Final = "许可证号"
PRODUCT_NAME: Final = "商品名称"
PRODUCT_CODE: Final = "商品编码"
CATEGORY: Final = "商品类别"
BATCH: Final = "批次号"
TRACE_CODE: Final = "追溯码"
PRODUCER_NAME: Final = "生产企业名称"
PRODUCER_USCC: Final = "生产企业统一社会信用代码"
QUANTITY: Final = "数量"
UNIT: Final = "计量单位"
QUARANTINE: Final = "动物检疫合格证明编号"
QUARANTINE_ISSUER: Final = "检疫机构"
MEAT_QUALITY: Final = "肉品品质检验合格证编号"
COMPLIANCE: Final = "合格证编号"
COMPLIANCE_ISSUER: Final = "合格证开具方"
VOUCHER: Final = "交易凭证号"
SUPPLIER: Final = "供货方"
BUYER: Final = "购货方"
# keys of a 供货方 / 购货方 object
PARTY_NAME: Final = "名称"
PARTY_USCC: Final = "统一社会信用代码"
PARTY_KIND: Final = "主体类型"
PARTY_ID_NUMBER: Final = "身份证号"
PARTY_PHONE: Final = "联系电话"


@dataclass(frozen=True, slots=True)
class RecordType:
    """One 业务类型: its business step, time key and which side the counterparty (对方) is on."""

    name: str
    step: str
    time_key: str
    counterparty: str
    """SUPPLIER (the counterparty is the source, 来源) or BUYER (the destination, 去向)."""


RECORD_TYPES: Final = {
    t.name: t
    for t in (
        RecordType("屠宰厂出厂", "shipping", "出厂时间", BUYER),
        RecordType("批发市场进场", "receiving", "进场时间", SUPPLIER),
        RecordType("批发市场出场", "shipping", "出场时间", BUYER),
    )
}


@register_mapper
class MofcomMapper(RecordMapper):
    """One MOFCOM circulation record (出厂, 进场 or 出场) → one ObjectEvent."""

    name = "mofcom"
    description = "MOFCOM 肉菜流通追溯 JSON records (屠宰厂出厂, 批发市场进场/出场): one event each"

    def map(self, record: Mapping[str, Any]) -> Mapped:
        type_name = require(record, RECORD_TYPE)
        kind = RECORD_TYPES.get(type_name)
        if kind is None:
            raise SourceRecordError(
                "unknown-record-type", f"业务类型 {type_name!r} is not one of {sorted(RECORD_TYPES)}"
            )
        node = checked_uscc(require(record, NODE_USCC), NODE_USCC)
        batch = require(record, BATCH)
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            **event_time(require(record, kind.time_key)),
            "epcList": [],
            "action": "OBSERVE",
            "bizStep": kind.step,
            "disposition": DISPOSITIONS[kind.step],
        }
        voucher = optional(record, VOUCHER)
        if voucher is not None:
            event["bizTransactionList"] = [{"type": "desadv", "bizTransaction": build("doc", "voucher", voucher)}]
        producer = optional(record, PRODUCER_USCC)
        owner = checked_uscc(producer, PRODUCER_USCC) if producer is not None else node
        quantity(
            event,
            product_class(optional(record, PRODUCT_CODE), batch, owner),
            require(record, QUANTITY),
            require(record, UNIT),
        )
        event |= {
            "tb:reportingDepartment": DEPARTMENT,
            "tb:reportingPlatform": PLATFORM,
            "tb:productCategory": require(record, CATEGORY),
            "tb:businessUSCC": node,
            "tb:businessRole": business_role(require(record, NODE_KIND), ROLES),
            "tb:regionCode": checked_region(require(record, REGION), REGION),
            "tb:inboundBatch" if kind.step == "receiving" else "tb:outboundBatch": batch,
            "tb:traceCode": require(record, TRACE_CODE),
        }
        certificates = _certificates(record)
        if certificates:
            event["tb:certificates"] = certificates
        here = party(node, optional(record, NODE_NAME))
        other = _party(record, kind.counterparty)
        source, destination = (other, here) if kind.counterparty == SUPPLIER else (here, other)
        if source is not None:
            event["tb:sourceBusiness"] = source
        if destination is not None:
            event["tb:destinationBusiness"] = destination
        event["src:recordId"] = require(record, RECORD_ID)
        event["src:recordType"] = kind.name
        for key, term in ((PRODUCT_NAME, "src:productName"), (LICENCE, "src:licence")):
            value = optional(record, key)
            if value is not None:
                event[term] = value
        counterparty = record.get(kind.counterparty)
        if isinstance(counterparty, Mapping):
            personal_data(event, optional(counterparty, PARTY_ID_NUMBER), optional(counterparty, PARTY_PHONE))
        return Mapped((event,), PLATFORM_CONTEXT)


def _certificates(record: Mapping[str, Any]) -> list[dict[str, str]]:
    found = []
    for key, issuer_key, kind in (
        (QUARANTINE, QUARANTINE_ISSUER, "animal-quarantine"),
        (MEAT_QUALITY, None, "meat-quality"),
        (COMPLIANCE, COMPLIANCE_ISSUER, "compliance"),
    ):
        number = optional(record, key)
        if number is not None:
            found.append(certificate(kind, number, optional(record, issuer_key) if issuer_key else None))
    return found


def _party(record: Mapping[str, Any], key: str) -> dict[str, str] | None:
    """The 供货方 / 购货方 object as ``tb:`` business (USCC and name; never its personal data)."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, Mapping):
        raise SourceRecordError("bad-party", f"{key} must be an object with 名称 and 统一社会信用代码")
    uscc = optional(value, PARTY_USCC)
    name = optional(value, PARTY_NAME)
    if uscc is not None:
        return party(checked_uscc(uscc, f"{key}.{PARTY_USCC}"), name)
    return {"tb:name": name} if name is not None else None
