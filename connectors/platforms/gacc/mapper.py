"""Mapper ``gacc``: one import food customs declaration (进口食品报关单) of GACC's platform → receiving events.

GACC (海关总署) exports its import food declarations as XML in the style of the
single window (国际贸易"单一窗口"): a root element holding one ``<报关单>``
per declaration, with its head (表头), its goods lines (表体, one ``<商品>``
each) and its attached documents (随附单证, one ``<单证>`` each)::

    <报关单>
      <记录编号>GACC-BG-00001</记录编号>
      <表头>
        <报关单号>310420261000000000</报关单号> <进出口标志>I</进出口标志> <放行时间>2026-11-06 10:30:00</放行时间>
        <境内收货人><统一社会信用代码>91330206MA2B000781</统一社会信用代码><名称>…</名称></境内收货人> …
      </表头>
      <表体><商品><商品项号>1</商品项号> <商品条码>…</商品条码> <生产批号>…</生产批号>
                  <成交数量>400</成交数量> <成交计量单位>箱</成交计量单位> <原产国地区代码>AUS</原产国地区代码> …</商品></表体>
      <随附单证><单证><单证类别>入境货物检验检疫证明</单证类别><单证编号>…</单证编号><签发机构>…</签发机构></单证></随附单证>
    </报关单>

(the file source's XML reader gives it as nested dicts, a repeated element as
a list: :mod:`connectors.file.readers`).

Each goods line is the movement "cleared and received by the consignee"
(境内收货人, the importer): an ``ObjectEvent`` (OBSERVE, ``receiving``) at the
release time (放行时间), located at the consignee. The declaration number
(报关单号) is the trace code (``tb:traceCode``) every department uses for the
consignment — SAMR's 进货台账 of the importer carries the same number, so the
two reports meet. The foreign shipper has no USCC and is not a business of
the bus: the event names no source business (来源), only the destination
(去向), the consignee.

======================================  =========  =============================================================
element                                 required   becomes
======================================  =========  =============================================================
记录编号                                 yes        ``src:recordId`` (with ``src:lineNumber`` = 商品项号)
表头/报关单号                            yes        ``tb:traceCode``; ``bizTransactionList`` (customs-declaration)
表头/进出口标志                          yes        ``I`` (import) only
表头/放行时间                            yes        ``eventTime`` (China time when no offset)
表头/境内收货人/统一社会信用代码, 名称     yes, no    ``tb:businessUSCC``, ``tb:destinationBusiness``
表头/申报地海关                          no         ``src:customsOffice``
表体/商品 (one or more)                  yes        one event each
商品/生产批号, 商品条码                   yes, no    ``quantityList[0].epcClass``: LGTIN (GTIN + lot), else batch;
                                                   ``tb:inboundBatch``
商品/成交数量, 成交计量单位               yes        ``quantityList[0]`` (Rec 20; the original kept)
商品/境内目的地代码                       no         ``tb:regionCode`` (GB/T 2260)
商品/原产国地区代码, 名称, 商品编号        no         ``src:originCountry``, ``src:originCountryName``, ``src:hsCode``
随附单证/单证 (类别, 编号, 签发机构)       no         ``tb:certificates`` (入境货物检验检疫证明 → import-quarantine)
======================================  =========  =============================================================

Every event carries ``tb:productCategory`` 0601 (进口食品): the catalogue puts
all imported food under GACC, whatever its HS code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from connectors.base import SourceRecordError
from connectors.mapping.base import Mapped, RecordMapper, register_mapper
from connectors.mapping.builder import PLATFORM_CONTEXT, certificate, china_time, party, quantity, require
from connectors.platforms.gtin_class import product_class
from schemas.identifiers.private_uri import build

DEPARTMENT: Final = "GACC"
PLATFORM: Final = "gacc-single-window"
CATEGORY: Final = "0601"
ROLE: Final = "importer"
IMPORT: Final = "I"
DOCUMENT_KINDS: Final = {
    "入境货物检验检疫证明": "import-quarantine",
    "原产地证书": "origin",
    "检验检疫证书": "test-report",
}
"""随附单证 kinds → ``tb:certificates`` types; any other kind is ``other``."""


def _optional(record: Mapping[str, Any], field: str) -> str | None:
    value = record.get(field)
    if isinstance(value, dict | list):
        raise SourceRecordError("bad-structure", f"element {field!r} has child elements; expected text")
    text = "" if value is None else str(value).strip()
    return text or None


def _part(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = record.get(name)
    if not isinstance(value, dict):
        raise SourceRecordError("missing-field", f"element {name!r} is missing or has no child elements")
    return value


def _items(parent: Any, name: str) -> list[Mapping[str, Any]]:
    """The repeated child elements ``name`` of ``parent`` (one element is a dict, several a list, none "")."""
    if not isinstance(parent, dict):
        return []
    value = parent.get(name)
    values = value if isinstance(value, list) else [] if value in (None, "") else [value]
    if not all(isinstance(item, dict) for item in values):
        raise SourceRecordError("bad-structure", f"element {name!r} has no child elements")
    return values


def _certificates(record: Mapping[str, Any]) -> list[dict[str, str]]:
    found = []
    for document in _items(record.get("随附单证"), "单证"):
        number = _optional(document, "单证编号")
        if number is None:
            continue  # a document the declarant left without its number names nothing
        kind = DOCUMENT_KINDS.get(_optional(document, "单证类别") or "", "other")
        found.append(certificate(kind, number, _optional(document, "签发机构")))
    return found


@register_mapper
class GaccDeclarationMapper(RecordMapper):
    """One ``<报关单>`` element (import food declaration) → one receiving ObjectEvent per goods line."""

    name = "gacc"
    description = "GACC import food declarations (报关单, single-window XML): one receiving event per goods line"

    def map(self, record: Mapping[str, Any]) -> Mapped:
        record_id = require(record, "记录编号")
        head = _part(record, "表头")
        declaration = require(head, "报关单号")
        direction = require(head, "进出口标志").upper()
        if direction != IMPORT:
            raise SourceRecordError(
                "not-an-import", f"报关单 {declaration}: 进出口标志 {direction!r} is not I (import)"
            )
        when, offset = china_time(require(head, "放行时间"))
        consignee_element = _part(head, "境内收货人")
        consignee = require(consignee_element, "统一社会信用代码").upper()
        lines = _items(_part(record, "表体"), "商品")
        if not lines:
            raise SourceRecordError("missing-field", f"报关单 {declaration} has no goods line (表体/商品)")
        shared: dict[str, Any] = {
            "tb:reportingDepartment": DEPARTMENT,
            "tb:reportingPlatform": PLATFORM,
            "tb:productCategory": CATEGORY,
            "tb:businessUSCC": consignee,
            "tb:businessRole": ROLE,
            "tb:traceCode": declaration,
            "tb:destinationBusiness": party(consignee, _optional(consignee_element, "名称")),
        }
        certificates = _certificates(record)
        if certificates:
            shared["tb:certificates"] = certificates
        office = _optional(head, "申报地海关")
        events = []
        for number, goods in enumerate(lines, start=1):
            event: dict[str, Any] = {
                "type": "ObjectEvent",
                "eventTime": when,
                "eventTimeZoneOffset": offset,
                "epcList": [],
                "action": "OBSERVE",
                "bizStep": "receiving",
                "bizTransactionList": [{"bizTransaction": build("doc", "customs-declaration", declaration)}],
            }
            lot = require(goods, "生产批号")
            # Without a GTIN the lot is qualified by the consignee, the only business of the bus that owns it.
            epc_class = product_class(_optional(goods, "商品条码"), lot, consignee)
            quantity(event, epc_class, require(goods, "成交数量"), require(goods, "成交计量单位"))
            event |= shared
            region = _optional(goods, "境内目的地代码")
            if region is not None:
                event["tb:regionCode"] = region
            event["tb:inboundBatch"] = lot
            event["src:recordId"] = record_id
            event["src:lineNumber"] = _optional(goods, "商品项号") or str(number)
            for element, term in (
                ("原产国地区代码", "src:originCountry"),
                ("原产国地区名称", "src:originCountryName"),
                ("商品编号", "src:hsCode"),
            ):
                value = _optional(goods, element)
                if value is not None:
                    event[term] = value
            if office is not None:
                event["src:customsOffice"] = office
            events.append(event)
        return Mapped(tuple(events), PLATFORM_CONTEXT)
