"""Mapper ``samr``: one row of a SAMR food business ledger (进货台账 / 销货台账) → one EPCIS ObjectEvent.

The row's ledger is told by its time column: ``进货日期`` (inbound: bizStep
``receiving``, 来源 the 供货者, 去向 the ledger's business) or ``销售日期``
(outbound: ``shipping``, 来源 the business, 去向 the 购货者). See
:mod:`connectors.platforms.samr.ledger` for the columns.

What the event carries, and why:

* ``tb:traceCode``: the 追溯码, or for imported food the customs declaration
  number (报关单号), which is the code GACC's clearance report carries too —
  so SAMR's receipt at the importer merges with GACC's report. The same code is
  the ``tb:inboundBatch`` / ``tb:outboundBatch`` (the code the goods were
  received or sold under); the producer's lot (生产批号) is in the EPC class.
* quantities in Rec 20 units; 斤 becomes kilograms. A ledger that counts cases
  of a product whose movement unit is the tin writes its case size (箱规,
  ``6罐/箱``): the quantity becomes tins, so SAMR's report of a formula shipment
  states the same quantity as MIIT's. The ledger's own value and unit stay in
  ``src:originalQuantity``.
* a natural-person supplier's or buyer's ID number and phone go only under
  ``pii:idNumber`` / ``pii:phone``.
* licence numbers (SC 食品生产许可证, JY 食品经营许可证) under ``src:``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from connectors.base import SourceRecordError
from connectors.mapping.base import Mapped, RecordMapper, register_mapper
from connectors.mapping.builder import PLATFORM_CONTEXT, certificate, decimal, event_time, party, quantity
from connectors.mapping.units import rec20
from connectors.platforms.gtin_class import product_class
from connectors.platforms.samr import ledger
from schemas.identifiers.private_uri import build

DEPARTMENT: Final = "SAMR"
PLATFORM: Final = "samr-food-safety-collab"
_CASE_SIZE: Final = re.compile(r"^\s*(\d+)\s*([^\d\s/]+)\s*/\s*箱\s*$")


def _cells(record: Mapping[str, Any]) -> dict[str, str]:
    """Non-empty cells as stripped text (XLSX cells come as numbers, text or ISO date-times)."""
    cells: dict[str, str] = {}
    for key, value in record.items():
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 报关单号 or 商品条码 typed as a number by a spreadsheet user
        text = str(value).strip()
        if text:
            cells[str(key).strip()] = text
    return cells


def _require(cells: Mapping[str, str], column: str) -> str:
    value = cells.get(column)
    if value is None:
        raise SourceRecordError("missing-field", f"column {column!r} is missing or empty")
    return value


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in re.split(r"[；;]", text or "")] if text else []


def _certificates(cells: Mapping[str, str], names: tuple[str, str, str]) -> list[dict[str, str]]:
    labels, numbers, issuers = (_split(cells.get(name)) for name in names)
    if len(labels) != len(numbers):
        raise SourceRecordError(
            "bad-certificates", f"{names[0]} lists {len(labels)} certificate(s) but {names[1]} {len(numbers)}"
        )
    found = []
    for index, (label, number) in enumerate(zip(labels, numbers, strict=True)):
        kind = ledger.CERTIFICATE_KINDS.get(label)
        if kind is None:
            raise SourceRecordError("unknown-certificate-type", f"{names[0]} {label!r} is not a known certificate")
        issuer = issuers[index] if index < len(issuers) and issuers[index] else None
        found.append(certificate(kind, number, issuer))
    return found


def _quantity(event: dict[str, Any], epc_class: str, cells: Mapping[str, str]) -> None:
    value, unit = _require(cells, "数量"), _require(cells, "单位")
    case = _CASE_SIZE.match(cells.get("箱规", ""))
    if unit != "箱" or case is None:
        quantity(event, epc_class, value, unit)
        return
    # counted in cases of N inner units: state the inner units (the movement's unit), keep the cases
    inner, code = rec20(decimal(value) * Decimal(case.group(1)), case.group(2))
    amount = int(inner) if inner == inner.to_integral_value() else float(inner)
    event.setdefault("quantityList", []).append({"epcClass": epc_class, "quantity": amount, "uom": code})
    event.setdefault("src:originalQuantity", []).append(
        {"src:epcClass": epc_class, "src:value": value, "src:unit": unit, "src:caseSize": cells["箱规"]}
    )


@register_mapper
class SamrLedgerMapper(RecordMapper):
    name = "samr"
    description = "SAMR food business ledgers (进货台账/销货台账, XLSX rows) → receiving/shipping ObjectEvents"

    def map(self, record: Mapping[str, Any]) -> Mapped:
        cells = _cells(record)
        if ledger.IN_TIME in record:
            inbound, time_column, partner = True, ledger.IN_TIME, ledger.IN_PARTNER
            certificate_columns, voucher_column = ledger.IN_CERTIFICATES, ledger.IN_VOUCHER
        elif ledger.OUT_TIME in record:
            inbound, time_column, partner = False, ledger.OUT_TIME, ledger.OUT_PARTNER
            certificate_columns, voucher_column = ledger.OUT_CERTIFICATES, ledger.OUT_VOUCHER
        else:
            raise SourceRecordError(
                "unknown-ledger", f"the row has neither {ledger.IN_TIME!r} nor {ledger.OUT_TIME!r}: not a SAMR ledger"
            )
        owner = party(_require(cells, "经营者统一社会信用代码"), cells.get("经营者名称"))
        role_label = _require(cells, "经营者类型")
        role = ledger.BUSINESS_ROLES.get(role_label)
        if role is None:
            raise SourceRecordError("unknown-business-type", f"经营者类型 {role_label!r} is not a known business type")
        other = None
        if f"{partner}统一社会信用代码" in cells:
            other = party(cells[f"{partner}统一社会信用代码"], cells.get(f"{partner}名称"))
        trace_code = cells.get("追溯码") or cells.get("报关单号")
        if trace_code is None:
            raise SourceRecordError("missing-field", "neither 追溯码 nor 报关单号 is given: the row has no trace code")
        batch = _require(cells, "生产批号")
        producer = cells.get("生产者统一社会信用代码") or (other or owner)["tb:uscc"]
        epc_class = product_class(cells.get("商品条码"), batch, producer)

        event: dict[str, Any] = {
            "type": "ObjectEvent",
            **event_time(_require(cells, time_column)),
            "epcList": [],
            "action": "OBSERVE",
            "bizStep": "receiving" if inbound else "shipping",
        }
        _quantity(event, epc_class, cells)
        transactions = []
        if voucher_column in cells:
            transactions.append({"type": "desadv", "bizTransaction": build("doc", "voucher", cells[voucher_column])})
        if "报关单号" in cells:
            transactions.append({"bizTransaction": build("doc", "customs-declaration", cells["报关单号"])})
        if transactions:
            event["bizTransactionList"] = transactions
        event.update(
            {
                "tb:reportingDepartment": DEPARTMENT,
                "tb:reportingPlatform": PLATFORM,
                "tb:productCategory": _require(cells, "食品类别"),
                "tb:businessUSCC": owner["tb:uscc"],
                "tb:businessRole": role,
                "tb:regionCode": _require(cells, "经营场所行政区划代码"),
                "tb:inboundBatch" if inbound else "tb:outboundBatch": trace_code,
                "tb:traceCode": trace_code,
            }
        )
        certificates = _certificates(cells, certificate_columns)
        if certificates:
            event["tb:certificates"] = certificates
        source, destination = (other, owner) if inbound else (owner, other)
        if source is not None:
            event["tb:sourceBusiness"] = source
        if destination is not None:
            event["tb:destinationBusiness"] = destination
        event.update(_source_fields(cells, partner, batch))
        # personal data of a natural-person supplier or buyer: only here, masked for non-entitled subscribers
        if f"{partner}身份证号" in cells:
            event["pii:idNumber"] = cells[f"{partner}身份证号"]
        if f"{partner}联系电话" in cells:
            event["pii:phone"] = cells[f"{partner}联系电话"]
        return Mapped((event,), PLATFORM_CONTEXT)


def _source_fields(cells: Mapping[str, str], partner: str, batch: str) -> dict[str, Any]:
    """What the ledger says beyond the traceability extension, kept under ``src:`` for reconciliation (对账)."""
    fields: dict[str, Any] = {"src:recordId": _require(cells, "记录编号"), "src:batch": batch}
    for column, term in (("食品名称", "src:productName"), ("规格型号", "src:spec"), ("商品条码", "src:productCode")):
        if column in cells:
            fields[term] = cells[column]
    if "生产者统一社会信用代码" in cells:
        fields["src:producer"] = {"src:uscc": cells["生产者统一社会信用代码"]} | (
            {"src:name": cells["生产者名称"]} if "生产者名称" in cells else {}
        )
    if "经营者许可证编号" in cells:
        fields["src:businessLicence"] = cells["经营者许可证编号"]
    if f"{partner}许可证编号" in cells:
        fields["src:partnerLicence"] = cells[f"{partner}许可证编号"]
    country = cells.get("原产国（地区）")
    if country is not None:
        code = ledger.COUNTRY_CODES.get(country)
        if code is None and re.fullmatch(r"[A-Z]{2}", country):
            code = country
        fields["src:originCountry" if code else "src:originCountryName"] = code or country
    return fields
