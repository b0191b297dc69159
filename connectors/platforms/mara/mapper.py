"""Mapper ``mara``: rows of MARA's 国家农产品质量安全追溯管理信息平台 CSV exports → EPCIS events.

MARA (农业农村部) exports its records as CSV files in GBK with Chinese headers,
one file per record type (记录类型) and week. Every row names its record type in
the column ``记录类型``, so one mapper reads all five files:

==========  ==============  ============  ===================================================================
记录类型     bizStep         time column   what it is
==========  ==============  ============  ===================================================================
产地检疫     shipping        启运时间       live animals leave the farm with an animal quarantine certificate
屠宰加工     commissioning   屠宰时间       carcasses produced at the slaughterhouse (animal and meat certificates)
肉品出厂     shipping        出厂时间       carcasses leave the slaughterhouse for a buyer (购货方)
合格证开具   commissioning   开具时间       a harvest lot gets its compliance certificate 合格证 (承诺达标合格证)
产地准出     shipping        准出时间       the lot leaves the place of production with its 合格证 for a receiver
==========  ==============  ============  ===================================================================

Columns every row has (empty cells count as absent):

==============================  ========  ===========================================================
column                          required  becomes
==============================  ========  ===========================================================
记录编号                         yes       ``src:recordId`` (the platform's record id, for 对账)
主体名称, 生产经营主体统一社会信用代码  no / yes  ``tb:businessUSCC``; the source business (来源) of a shipment
主体类型                         yes       ``tb:businessRole`` (养殖场 breeder, 屠宰企业 slaughterhouse, 合作社 … producer)
行政区划代码                      yes       ``tb:regionCode`` (GB/T 2260)
身份证号, 联系电话                no        ``pii:idNumber``, ``pii:phone`` (individual farmers only; personal data)
产品名称, 产品编码, 产品分类代码     no/no/yes  ``src:productName``; LGTIN class when the code is a GTIN; ``tb:productCategory``
批次号, 追溯码                    yes       the lot of the class; ``tb:outboundBatch``; ``tb:traceCode``
数量, 单位                       yes       ``quantityList[0]`` (Rec 20; the platform's value kept when converted)
==============================  ========  ===========================================================

Type-specific columns: 到达单位/购货方/收货方 名称 and 统一社会信用代码 (the destination,
去向); 检疫证明编号 + 签发机构, 肉品品质检验合格证编号, 合格证编号 (``tb:certificates``;
the 合格证 is issued by the producer itself); 生猪来源批次 (slaughter input lots,
``src:inputBatches``, ``;``-separated); 产地 (the plot, ``readPoint``); 许可证编号
(``src:licence``); 承诺依据 (``src:commitmentBasis``).

Commissioning events are ``ADD``, shipments ``OBSERVE``. The slaughter's input
lots are kept in ``src:`` rather than ``tb:inboundBatch``: the trace key takes the
smallest trace code an event names, and the carcass lot, not the live-pig lot,
is what the slaughter event is about.
"""

from __future__ import annotations

import re
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

DEPARTMENT: Final = "MARA"
PLATFORM: Final = "mara-nyncp-zs"

"""CBV disposition each business step leaves the goods in."""

ROLES: Final = {
    "养殖场": "breeder",
    "屠宰企业": "slaughterhouse",
    "农民专业合作社": "producer",
    "家庭农场": "producer",
    "个体种植户": "producer",
    "生产企业": "producer",
}
"""主体类型 as the platform writes it → ``tb:businessRole``."""

# Column names, shared by the sample export and the conformance kit.
RECORD_ID: Final = "记录编号"
RECORD_TYPE: Final = "记录类型"
BUSINESS_NAME: Final = "主体名称"
BUSINESS_USCC: Final = "生产经营主体统一社会信用代码"
BUSINESS_KIND: Final = "主体类型"
REGION: Final = "行政区划代码"
ID_NUMBER: Final = "身份证号"
PHONE: Final = "联系电话"
LICENCE: Final = "许可证编号"
PRODUCT_NAME: Final = "产品名称"
PRODUCT_CODE: Final = "产品编码"
CATEGORY: Final = "产品分类代码"
BATCH: Final = "批次号"
TRACE_CODE: Final = "追溯码"
QUANTITY: Final = "数量"
UNIT: Final = "单位"
INPUT_BATCHES: Final = "生猪来源批次"
QUARANTINE: Final = "检疫证明编号"
QUARANTINE_ISSUER: Final = "签发机构"
MEAT_QUALITY: Final = "肉品品质检验合格证编号"
COMPLIANCE: Final = "合格证编号"
PLOT: Final = "产地"
BASIS: Final = "承诺依据"

BUSINESS_COLUMNS: Final = (BUSINESS_NAME, BUSINESS_USCC, BUSINESS_KIND, REGION, ID_NUMBER, PHONE)
PRODUCT_COLUMNS: Final = (PRODUCT_NAME, PRODUCT_CODE, CATEGORY, BATCH, TRACE_CODE, QUANTITY, UNIT)


@dataclass(frozen=True, slots=True)
class RecordType:
    """One of the platform's record types: its business step, time column, destination columns and header."""

    name: str
    step: str
    time_column: str
    destination: tuple[str, str] | None
    """(name column, USCC column) of the destination business (去向), for shipments."""
    columns: tuple[str, ...]
    """The header of its export file, in order."""


def _type(name: str, step: str, time_column: str, extra: tuple[str, ...], party_prefix: str | None) -> RecordType:
    destination = (f"{party_prefix}名称", f"{party_prefix}统一社会信用代码") if party_prefix else None
    columns = (RECORD_ID, RECORD_TYPE, *BUSINESS_COLUMNS, *PRODUCT_COLUMNS, *extra, time_column, *(destination or ()))
    return RecordType(name, step, time_column, destination, columns)


RECORD_TYPES: Final = {
    t.name: t
    for t in (
        _type("产地检疫", "shipping", "启运时间", (QUARANTINE, QUARANTINE_ISSUER), "到达单位"),
        _type(
            "屠宰加工",
            "commissioning",
            "屠宰时间",
            (LICENCE, INPUT_BATCHES, QUARANTINE, QUARANTINE_ISSUER, MEAT_QUALITY),
            None,
        ),
        _type("肉品出厂", "shipping", "出厂时间", (LICENCE, QUARANTINE, QUARANTINE_ISSUER, MEAT_QUALITY), "购货方"),
        _type("合格证开具", "commissioning", "开具时间", (COMPLIANCE, PLOT, BASIS), None),
        _type("产地准出", "shipping", "准出时间", (COMPLIANCE,), "收货方"),
    )
}
_LIST_SEPARATOR = re.compile(r"[;；,，]")


@register_mapper
class MaraMapper(RecordMapper):
    """One row of a MARA export (any record type) → one ObjectEvent."""

    name = "mara"
    description = "MARA 农产品质量安全追溯 CSV rows (检疫, 屠宰, 出厂, 合格证, 产地准出): one event each"

    def map(self, record: Mapping[str, Any]) -> Mapped:
        type_name = require(record, RECORD_TYPE)
        kind = RECORD_TYPES.get(type_name)
        if kind is None:
            raise SourceRecordError(
                "unknown-record-type", f"记录类型 {type_name!r} is not one of {sorted(RECORD_TYPES)}"
            )
        uscc = checked_uscc(require(record, BUSINESS_USCC), BUSINESS_USCC)
        batch = require(record, BATCH)
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            **event_time(require(record, kind.time_column)),
            "epcList": [],
            "action": "ADD" if kind.step == "commissioning" else "OBSERVE",
            "bizStep": kind.step,
            "disposition": DISPOSITIONS[kind.step],
        }
        plot = optional(record, PLOT)
        if plot is not None:
            event["readPoint"] = {"id": build("loc", "plot", uscc, plot)}
        epc_class = product_class(optional(record, PRODUCT_CODE), batch, uscc)
        quantity(event, epc_class, require(record, QUANTITY), require(record, UNIT))
        event |= {
            "tb:reportingDepartment": DEPARTMENT,
            "tb:reportingPlatform": PLATFORM,
            "tb:productCategory": require(record, CATEGORY),
            "tb:businessUSCC": uscc,
            "tb:businessRole": business_role(require(record, BUSINESS_KIND), ROLES),
            "tb:regionCode": checked_region(require(record, REGION), REGION),
            "tb:outboundBatch": batch,
            "tb:traceCode": require(record, TRACE_CODE),
        }
        certificates = self._certificates(record, optional(record, BUSINESS_NAME))
        if certificates:
            event["tb:certificates"] = certificates
        if kind.destination is not None:
            event["tb:sourceBusiness"] = party(uscc, optional(record, BUSINESS_NAME))
            destination = _destination(record, *kind.destination)
            if destination is not None:
                event["tb:destinationBusiness"] = destination
        event["src:recordId"] = require(record, RECORD_ID)
        event["src:recordType"] = kind.name
        for column, term in (
            (PRODUCT_NAME, "src:productName"),
            (LICENCE, "src:licence"),
            (BASIS, "src:commitmentBasis"),
        ):
            value = optional(record, column)
            if value is not None:
                event[term] = value
        inputs = optional(record, INPUT_BATCHES)
        if inputs is not None:
            event["src:inputBatches"] = [part.strip() for part in _LIST_SEPARATOR.split(inputs) if part.strip()]
        personal_data(event, optional(record, ID_NUMBER), optional(record, PHONE))
        return Mapped((event,), PLATFORM_CONTEXT)

    @staticmethod
    def _certificates(record: Mapping[str, Any], producer_name: str | None) -> list[dict[str, str]]:
        found = []
        number = optional(record, QUARANTINE)
        if number is not None:
            found.append(certificate("animal-quarantine", number, optional(record, QUARANTINE_ISSUER)))
        number = optional(record, MEAT_QUALITY)
        if number is not None:
            found.append(certificate("meat-quality", number))
        number = optional(record, COMPLIANCE)
        if number is not None:
            # 合格证 are issued by the producer itself (承诺达标): the issuer is the business of the row
            found.append(certificate("compliance", number, producer_name))
        return found


def _destination(record: Mapping[str, Any], name_column: str, uscc_column: str) -> dict[str, str] | None:
    uscc = optional(record, uscc_column)
    name = optional(record, name_column)
    if uscc is not None:
        return party(checked_uscc(uscc, uscc_column), name)
    return {"tb:name": name} if name is not None else None
