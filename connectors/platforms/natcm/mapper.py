"""Mapper ``natcm``: rows of the NATCM herb traceability platform's CSV exports (中药材/饮片追溯) → EPCIS events.

The platform exports one CSV per module (UTF-8 with BOM, Chinese headers);
every row names its module in ``业务类型``, which decides the event:

==========  ============================  =========================  ====================================
业务类型     time / batch columns          event                      notes
==========  ============================  =========================  ====================================
采收         采收时间 / 采收批号           ObjectEvent ADD            planting base (基地) → ``readPoint``
             (harvest)                     commissioning              产地证明 (origin certificate)
产地加工     加工时间 / 加工批号           TransformationEvent        primary processing at the origin:
                                           transforming               inputs 原料批号 of 原料产品编码
饮片生产     生产时间 / 饮片批号           TransformationEvent        slices (饮片) from herb batches;
                                           transforming               检验报告 (test report)
销售         销售时间 / 销售批号           ObjectEvent OBSERVE        来源 = the row's business,
             (sale)                        shipping                   去向 = 购货单位
==========  ============================  =========================  ====================================

Columns every row has: 记录编号 (``src:recordId``), 追溯码 (``tb:traceCode``;
the batch when empty), 产品编码 (GTIN-14 or the platform's code), 产品类别代码,
数量 and 单位 (Rec 20 via :mod:`connectors.mapping.units`, the original kept),
主体名称 / 主体统一社会信用代码 / 主体类型 / 行政区划代码 (the reporting
business). Optional: 生产许可证号 (``src:licence``), 负责人身份证号 and
负责人联系电话 of a natural person (only under ``pii:``), 基地名称, 产地证明编号
and 产地证明出具单位, 检验报告编号 and 检验机构, 原料批号 and 原料产品编码
(``;``-separated, paired), 购货单位名称 / 购货单位统一社会信用代码.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from connectors.base import SourceRecordError
from connectors.mapping.base import Mapped, RecordMapper, register_mapper
from connectors.mapping.builder import PLATFORM_CONTEXT, certificate, event_time, party, quantity, require
from connectors.platforms.gtin_class import product_class
from schemas.identifiers.private_uri import build

DEPARTMENT: Final = "NATCM"
PLATFORM: Final = "natcm-zyc-zs"
"""The platform id in ``tb:reportingPlatform``: 中药材追溯 (herb traceability) of NATCM."""


@dataclass(frozen=True, slots=True)
class Module:
    step: str
    time: str
    batch: str


MODULES: Final[Mapping[str, Module]] = {
    "采收": Module("commissioning", "采收时间", "采收批号"),
    "产地加工": Module("transforming", "加工时间", "加工批号"),
    "饮片生产": Module("transforming", "生产时间", "饮片批号"),
    "销售": Module("shipping", "销售时间", "销售批号"),
}
_COMMON: Final = (
    "记录编号",
    "业务类型",
    "{time}",
    "追溯码",
    "产品名称",
    "产品编码",
    "产品类别代码",
    "规格",
    "{batch}",
    "数量",
    "单位",
    "主体名称",
    "主体统一社会信用代码",
    "主体类型",
    "行政区划代码",
)
_EXTRA: Final[Mapping[str, tuple[str, ...]]] = {
    "采收": ("基地名称", "负责人身份证号", "负责人联系电话", "产地证明编号", "产地证明出具单位"),
    "产地加工": ("原料批号", "原料产品编码", "生产许可证号", "检验报告编号", "检验机构"),
    "饮片生产": ("原料批号", "原料产品编码", "生产许可证号", "检验报告编号", "检验机构"),
    "销售": ("生产主体统一社会信用代码", "生产许可证号", "购货单位名称", "购货单位统一社会信用代码", "检验报告编号"),
}
COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    kind: tuple(c.format(time=module.time, batch=module.batch) for c in _COMMON) + _EXTRA[kind]
    for kind, module in MODULES.items()
}
"""The header of each module's export file, in the platform's column order."""
ROLES: Final[Mapping[str, str]] = {
    "中药材种植主体": "producer",
    "中药饮片生产企业": "manufacturer",
    "中药材经营企业": "distributor",
    "医疗机构": "hospital",
    "药品零售企业": "retailer",
}
"""主体类型 as the platform writes it → ``tb:businessRole``."""


def cell(record: Mapping[str, Any], column: str) -> str:
    """A cell's stripped text; "" when absent or empty."""
    value = record.get(column)
    return "" if value is None else str(value).strip()


def role(record: Mapping[str, Any], column: str, roles: Mapping[str, str]) -> str:
    written = require(record, column)
    found = roles.get(written)
    if found is None:
        raise SourceRecordError("unknown-business-type", f"{column} {written!r} is not one of {sorted(roles)}")
    return found


def quantity_in(event: dict[str, Any], list_name: str, epc_class: str, value: str, unit: str) -> None:
    """Like :func:`connectors.mapping.builder.quantity`, into ``list_name`` (e.g. ``outputQuantityList``)."""
    scratch: dict[str, Any] = {}
    quantity(scratch, epc_class, value, unit)
    event.setdefault(list_name, []).extend(scratch["quantityList"])
    if "src:originalQuantity" in scratch:
        event.setdefault("src:originalQuantity", []).extend(scratch["src:originalQuantity"])


def inputs(record: Mapping[str, Any], producer: str) -> list[dict[str, str]]:
    """The consumed batches (原料批号, paired with 原料产品编码) as quantity elements without a quantity."""
    batches = [b.strip() for b in require(record, "原料批号").split(";") if b.strip()]
    codes = [c.strip() for c in cell(record, "原料产品编码").split(";")]
    if len(codes) == 1 and len(batches) > 1:
        codes = codes * len(batches)  # one product code for every input batch
    if len(codes) != len(batches):
        raise SourceRecordError(
            "bad-inputs", f"原料批号 has {len(batches)} batches but 原料产品编码 has {len(codes)} codes"
        )
    # The platform records which batches went in, not how much of each: EPCIS allows a class without quantity.
    return [{"epcClass": product_class(code, batch, producer)} for code, batch in zip(codes, batches, strict=True)]


@register_mapper
class NatcmMapper(RecordMapper):
    name = "natcm"
    description = "NATCM herb platform CSV rows (采收, 产地加工, 饮片生产, 销售) → EPCIS with 来源/去向"

    def map(self, record: Mapping[str, Any]) -> Mapped:
        kind = require(record, "业务类型")
        module = MODULES.get(kind)
        if module is None:
            raise SourceRecordError("unknown-record-type", f"业务类型 {kind!r} is not one of {sorted(MODULES)}")
        business = require(record, "主体统一社会信用代码").upper()
        batch = require(record, module.batch)
        product = require(record, "产品编码")
        producer = cell(record, "生产主体统一社会信用代码") or business
        epc_class = product_class(product, batch, producer)
        value, unit = require(record, "数量"), require(record, "单位")
        event: dict[str, Any] = {"type": "ObjectEvent", **event_time(require(record, module.time))}
        if module.step == "transforming":
            event["type"] = "TransformationEvent"
            event["inputQuantityList"] = inputs(record, producer)
            quantity_in(event, "outputQuantityList", epc_class, value, unit)
        else:
            event["epcList"] = []
            quantity(event, epc_class, value, unit)
            event["action"] = "ADD" if module.step == "commissioning" else "OBSERVE"
        event["bizStep"] = module.step
        event["disposition"] = "in_transit" if module.step == "shipping" else "active"
        base = cell(record, "基地名称")
        if base:
            event["readPoint"] = {"id": build("loc", "plot", business, base)}
        if module.step == "shipping":
            buyer = require(record, "购货单位统一社会信用代码")
            event["sourceList"] = [{"type": "owning_party", "source": build("party", "uscc", business)}]
            event["destinationList"] = [{"type": "owning_party", "destination": build("party", "uscc", buyer)}]
        event.update(
            {
                "tb:reportingDepartment": DEPARTMENT,
                "tb:reportingPlatform": PLATFORM,
                "tb:productCategory": require(record, "产品类别代码"),
                "tb:businessUSCC": business,
                "tb:businessRole": role(record, "主体类型", ROLES),
                "tb:regionCode": require(record, "行政区划代码"),
                "tb:traceCode": cell(record, "追溯码") or batch,
            }
        )
        if module.step == "shipping":
            event["tb:outboundBatch"] = batch
            event["tb:sourceBusiness"] = party(business, cell(record, "主体名称"))
            event["tb:destinationBusiness"] = party(buyer, cell(record, "购货单位名称"))
        certificates = [
            certificate(certificate_type, number, cell(record, issuer) or None)
            for certificate_type, column, issuer in (
                ("origin", "产地证明编号", "产地证明出具单位"),
                ("test-report", "检验报告编号", "检验机构"),
            )
            if (number := cell(record, column))
        ]
        if certificates:
            event["tb:certificates"] = certificates
        event["src:recordId"] = require(record, "记录编号")
        if licence := cell(record, "生产许可证号"):
            event["src:licence"] = licence
        for column, term in (("负责人身份证号", "pii:idNumber"), ("负责人联系电话", "pii:phone")):
            if personal := cell(record, column):
                event[term] = personal  # personal data (个人信息): only here, masked for non-entitled subscribers
        return Mapped((event,), PLATFORM_CONTEXT)
