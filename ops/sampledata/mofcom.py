"""MOFCOM's sample export: the world's MOFCOM reports as the 肉菜流通追溯 platform's daily JSON Lines files.

One file per day, ``mofcom-<yyyymmdd>.jsonl`` in UTF-8, one object per record
with Chinese keys (read back by :mod:`connectors.platforms.mofcom.mapper`):
slaughterhouse exits (屠宰厂出厂), wholesale market entries (批发市场进场) and
exits to retail stalls (批发市场出场). Meat records carry 卡单同行 — animal
quarantine certificate, meat quality certificate and transaction voucher.
Stall holders and individual farmers are natural persons: their 身份证号 and
联系电话 are in the 购货方 / 供货方 object.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import orjson

from connectors.platforms.mofcom import mapper as m
from ops.sampledata.mara import local_time, reported_quantity
from ops.sampledata.world import Business, Movement, Report, World

NODE_KINDS: Final = {"slaughterhouse": "屠宰厂", "wholesale-market": "批发市场"}
PARTY_KINDS: Final = {
    "slaughterhouse": "屠宰厂",
    "wholesale-market": "批发市场",
    "producer": "生产基地",
    "retailer": "零售摊位",
}


def record_type(movement: Movement) -> m.RecordType:
    """Which of MOFCOM's 业务类型 the movement is."""
    role = movement.location.role
    if movement.step == "shipping" and role == "slaughterhouse":
        name = "屠宰厂出厂"
    elif movement.step == "receiving" and role == "wholesale-market":
        name = "批发市场进场"
    elif movement.step == "shipping" and role == "wholesale-market":
        name = "批发市场出场"
    else:
        raise ValueError(f"{movement.id}: MOFCOM has no record type for {movement.step} at {role}")
    return m.RECORD_TYPES[name]


def _party(business: Business | None) -> dict[str, str]:
    if business is None:
        return {m.PARTY_NAME: "", m.PARTY_USCC: "", m.PARTY_KIND: ""}
    found = {
        m.PARTY_NAME: business.name,
        m.PARTY_USCC: business.uscc,
        m.PARTY_KIND: "个体工商户"
        if business.natural_person and business.role == "producer"
        else PARTY_KINDS[business.role],
    }
    if business.natural_person:  # the platform registers the person behind a stall or a farmer's supply
        found |= {m.PARTY_ID_NUMBER: business.person_id_number or "", m.PARTY_PHONE: business.person_phone or ""}
    return found


def _quantity(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def record(movement: Movement, report: Report) -> dict[str, Any]:
    """One report as the platform's JSON object (keys in the platform's order; blanks as "")."""
    kind = record_type(movement)
    value, unit = reported_quantity(movement, report)
    node = movement.location
    certificates = {c.kind: c for c in movement.certificates}
    found: dict[str, Any] = {
        m.RECORD_ID: report.record_id,
        m.RECORD_TYPE: kind.name,
        m.NODE_NAME: node.name,
        m.NODE_USCC: node.uscc,
        m.NODE_KIND: NODE_KINDS[node.role],
        m.REGION: node.region_code,
        m.LICENCE: node.licence or "",
        kind.time_key: local_time(movement.reported_time(report)),
        m.PRODUCT_NAME: movement.product.name,
        m.PRODUCT_CODE: movement.product.code,
        m.CATEGORY: movement.product.category,
        m.BATCH: movement.batch,
        m.TRACE_CODE: movement.trace_code,
        m.PRODUCER_NAME: movement.producer.name,
        m.PRODUCER_USCC: movement.producer.uscc,
        m.QUANTITY: _quantity(value),
        m.UNIT: unit,
    }
    if movement.chain == "pork":
        quarantine, quality = certificates.get("animal-quarantine"), certificates.get("meat-quality")
        found |= {
            m.QUARANTINE: quarantine.number if quarantine else "",
            m.QUARANTINE_ISSUER: (quarantine.issuer or "") if quarantine else "",
            m.MEAT_QUALITY: quality.number if quality else "",
            m.VOUCHER: movement.voucher or "",
        }
    else:
        compliance = certificates.get("compliance")
        found |= {
            m.COMPLIANCE: compliance.number if compliance else "",
            m.COMPLIANCE_ISSUER: (compliance.issuer or "") if compliance else "",
        }
    counterparty = movement.source if kind.counterparty == m.SUPPLIER else movement.destination
    found[kind.counterparty] = _party(counterparty)
    _blank(found, report, kind)
    return found


def _blank(found: dict[str, Any], report: Report, kind: m.RecordType) -> None:
    """Leave the fields the report misses empty, as the platform's operator did."""
    side = "source" if kind.counterparty == m.SUPPLIER else "destination"
    for field in sorted(report.missing):
        if field in (f"{side}_name", f"{side}_uscc"):
            found[kind.counterparty][m.PARTY_NAME if field.endswith("name") else m.PARTY_USCC] = ""
        elif field in ("source_name", "destination_name"):
            found[m.NODE_NAME] = ""
        elif field in ("batch", "trace_code", "voucher"):
            found[{"batch": m.BATCH, "trace_code": m.TRACE_CODE, "voucher": m.VOUCHER}[field]] = ""
        elif field == "certificates":
            for key in (m.QUARANTINE, m.QUARANTINE_ISSUER, m.MEAT_QUALITY, m.COMPLIANCE, m.COMPLIANCE_ISSUER):
                if key in found:
                    found[key] = ""
        else:
            raise ValueError(f"{report.record_id}: MOFCOM's export has no field for missing {field!r}")


def export(world: World, directory: Path) -> list[Path]:
    """Write ``mofcom-<yyyymmdd>.jsonl`` (UTF-8) for every day with reports, records in time order; return them."""
    days: dict[date, list[tuple[str, str, bytes]]] = {}
    for movement, report in world.reports_of("MOFCOM"):
        when = movement.reported_time(report)
        line = orjson.dumps(record(movement, report))
        days.setdefault(when.date(), []).append((local_time(when), report.record_id, line))
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for day, lines in sorted(days.items()):
        path = directory / f"mofcom-{day:%Y%m%d}.jsonl"
        path.write_bytes(b"".join(line + b"\n" for *_, line in sorted(lines)))
        written.append(path)
    return written
