"""Mapper ``flat-movement``: tracebus's flat movement row, for platforms that export tables, not EPCIS.

One row is one ObjectEvent: a quantity of a batch seen at a business step.
Columns (header names, case-insensitive; empty cells count as absent):

=====================  ========  ===========================================================
column                 required  becomes
=====================  ========  ===========================================================
event_time             yes       ``eventTime``; a local time without offset is China time (+08:00)
biz_step               yes       ``bizStep`` (CBV bare name: shipping, receiving, commissioning …)
business_uscc          yes       ``tb:businessUSCC``
batch                  yes*      class ``urn:tracebus:class:batch:<producer_uscc or business_uscc>:<batch>``
epc_class              yes*      the class as given (an EPC class URN), instead of ``batch``
quantity               yes       ``quantityList[0].quantity``
uom                    no        UN/ECE Rec 20 code (KGM, H87 …)
action                 no        default OBSERVE
disposition            no        CBV bare name
trace_code             no        ``tb:traceCode``
department, platform   no        ``tb:reportingDepartment`` / ``tb:reportingPlatform``
category               no        ``tb:productCategory``
business_role          no        ``tb:businessRole``
region_code            no        ``tb:regionCode`` (GB/T 2260)
source_uscc/_name      no        ``tb:sourceBusiness`` (来源)
destination_uscc/_name no        ``tb:destinationBusiness`` (去向)
certificate_type       no        ``tb:certificates[0]`` with ``certificate_number``
voucher                no        ``bizTransactionList`` (transaction voucher, 交易凭证)
=====================  ========  ===========================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from connectors.base import SourceRecordError
from connectors.mapping.base import Mapped, RecordMapper, register_mapper
from schemas.identifiers.private_uri import build

CHINA_OFFSET: Final = "+08:00"
_HAS_OFFSET = re.compile(r"(Z|[+-]\d\d:\d\d)$")
_LOCAL_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(:\d{2}(\.\d+)?)?)$")


def china_time(value: str) -> tuple[str, str]:
    """(eventTime, eventTimeZoneOffset) for a timestamp; without an offset it is read as China time."""
    text = value.strip()
    if _HAS_OFFSET.search(text):
        offset = "+00:00" if text.endswith("Z") else text[-6:]
        return text.replace(" ", "T", 1), offset
    match = _LOCAL_TIME.match(text)
    if match is None:
        raise SourceRecordError("bad-time", f"event_time {value!r} is not YYYY-MM-DD[T ]HH:MM[:SS]")
    clock = match.group(2) if match.group(3) else match.group(2) + ":00"
    return f"{match.group(1)}T{clock}{CHINA_OFFSET}", CHINA_OFFSET


def _cells(record: Mapping[str, Any]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for key, value in record.items():
        if value is None:
            continue
        text = str(value).strip()
        if text:
            cells[str(key).strip().lower()] = text
    return cells


def _require(cells: Mapping[str, str], column: str) -> str:
    value = cells.get(column)
    if value is None:
        raise SourceRecordError("missing-field", f"column {column!r} is missing or empty")
    return value


def _number(text: str) -> int | float:
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise SourceRecordError("bad-quantity", f"quantity {text!r} is not a number") from None
    return int(number) if number == number.to_integral_value() else float(number)


@register_mapper
class FlatMovementMapper(RecordMapper):
    name = "flat-movement"
    description = "one flat row (CSV/XLSX/JSON) per movement: time, step, batch, quantity, 来源/去向"

    def map(self, record: Mapping[str, Any]) -> Mapped:
        cells = _cells(record)
        event_time, offset = china_time(_require(cells, "event_time"))
        business = _require(cells, "business_uscc")
        if "epc_class" in cells:
            epc_class = cells["epc_class"]
        else:
            producer = cells.get("producer_uscc", business)
            epc_class = build("class", "batch", producer, _require(cells, "batch"))
        quantity: dict[str, Any] = {"epcClass": epc_class, "quantity": _number(_require(cells, "quantity"))}
        if "uom" in cells:
            quantity["uom"] = cells["uom"]
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventTime": event_time,
            "eventTimeZoneOffset": offset,
            "epcList": [],
            "quantityList": [quantity],
            "action": cells.get("action", "OBSERVE").upper(),
            "bizStep": _require(cells, "biz_step"),
        }
        if "disposition" in cells:
            event["disposition"] = cells["disposition"]
        if "voucher" in cells:
            event["bizTransactionList"] = [
                {"type": "desadv", "bizTransaction": build("doc", "voucher", cells["voucher"])}
            ]
        for column, term in (
            ("department", "tb:reportingDepartment"),
            ("platform", "tb:reportingPlatform"),
            ("category", "tb:productCategory"),
            ("business_role", "tb:businessRole"),
            ("region_code", "tb:regionCode"),
            ("trace_code", "tb:traceCode"),
        ):
            if column in cells:
                event[term] = cells[column]
        event["tb:businessUSCC"] = business
        if "certificate_type" in cells:
            certificate = {"tb:type": cells["certificate_type"], "tb:number": _require(cells, "certificate_number")}
            event["tb:certificates"] = [certificate]
        for side, term in (("source", "tb:sourceBusiness"), ("destination", "tb:destinationBusiness")):
            if f"{side}_uscc" in cells:
                party = {"tb:uscc": cells[f"{side}_uscc"]}
                if f"{side}_name" in cells:
                    party["tb:name"] = cells[f"{side}_name"]
                event[term] = party
        return Mapped((event,))
