"""Building blocks shared by the platform mappers: times, quantities, parties, certificates, extensions.

Every platform mapper writes events the same way:

* event times are China time when the platform wrote none (:func:`china_time`);
* quantities carry a Rec 20 unit, and the platform's own value and unit are kept
  in ``src:originalQuantity`` when they differ (:func:`quantity`);
* the traceability extension (``tb:``) names department, platform, business,
  region, batches, trace code, certificates, 来源/去向;
* the platform's own record id is kept in ``src:recordId`` (for 对账, reconciliation);
* personal data of natural persons (ID number, phone) goes only under ``pii:``
  — the router delivers it to entitled subscriptions and masks it for the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from connectors.base import SourceRecordError
from connectors.mapping.base import EPCIS_CONTEXT
from connectors.mapping.flat import china_time
from connectors.mapping.units import rec20
from schemas.epcis.trace_extension import TRACE_NAMESPACE
from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.private_uri import build
from schemas.identifiers.uscc import validate_uscc
from streams.steps.personal import PERSONAL_NAMESPACE  # personal data (个人信息): masked for those not entitled

SOURCE_NAMESPACE: Final = "urn:tracebus:ns:source:"
PLATFORM_CONTEXT: Final[tuple[Any, ...]] = (
    EPCIS_CONTEXT,
    {"tb": TRACE_NAMESPACE, "src": SOURCE_NAMESPACE, "pii": PERSONAL_NAMESPACE},
)

DISPOSITIONS: Final = {"commissioning": "active", "shipping": "in_transit", "receiving": "in_progress"}
"""The CBV disposition a platform record implies for its business step."""

__all__ = [
    "DISPOSITIONS",
    "PERSONAL_NAMESPACE",
    "PLATFORM_CONTEXT",
    "SOURCE_NAMESPACE",
    "batch_class",
    "business_role",
    "certificate",
    "checked_region",
    "checked_uscc",
    "china_time",
    "decimal",
    "event_time",
    "optional",
    "party",
    "personal_data",
    "quantity",
    "require",
]


def require(record: Mapping[str, Any], field: str) -> str:
    value = record.get(field)
    text = "" if value is None else str(value).strip()
    if not text:
        raise SourceRecordError("missing-field", f"field {field!r} is missing or empty")
    return text


def decimal(text: str, field: str = "quantity") -> Decimal:
    try:
        return Decimal(str(text).replace(",", "").strip())
    except InvalidOperation:
        raise SourceRecordError("bad-quantity", f"{field} {text!r} is not a number") from None


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def batch_class(producer_uscc: str, batch: str) -> str:
    """The class of a producer's batch without a GTIN: ``urn:tracebus:class:batch:<uscc>:<batch>``."""
    return build("class", "batch", producer_uscc, batch)


def quantity(event: dict[str, Any], epc_class: str, value: str, unit: str) -> None:
    """Add one quantity element (Rec 20 unit) and keep the platform's own value and unit when they differ."""
    amount, code = rec20(decimal(value), unit)
    event.setdefault("quantityList", []).append({"epcClass": epc_class, "quantity": _number(amount), "uom": code})
    if unit.strip() != code or amount != decimal(value):
        event.setdefault("src:originalQuantity", []).append(
            {"src:epcClass": epc_class, "src:value": str(value).strip(), "src:unit": unit.strip()}
        )


def party(uscc: str, name: str | None = None) -> dict[str, str]:
    """A ``tb:sourceBusiness`` / ``tb:destinationBusiness`` value (来源/去向)."""
    found = {"tb:uscc": uscc.strip().upper()}
    if name:
        found["tb:name"] = name.strip()
    return found


def certificate(kind: str, number: str, issuer: str | None = None) -> dict[str, str]:
    """A ``tb:certificates`` entry: kind is animal-quarantine, meat-quality, compliance, origin, test-report …"""
    found = {"tb:type": kind, "tb:number": number.strip()}
    if issuer:
        found["tb:issuer"] = issuer.strip()
    return found


def event_time(value: str) -> dict[str, str]:
    when, offset = china_time(value)
    return {"eventTime": when, "eventTimeZoneOffset": offset}


def optional(record: Mapping[str, Any], field: str) -> str | None:
    """The cell's text, or None when it is absent or blank."""
    value = record.get(field)
    text = "" if value is None else str(value).strip()
    return text or None


def checked_uscc(value: str, field: str) -> str:
    """A well-formed USCC (upper case), or a mapping error naming the field."""
    try:
        return validate_uscc(value.strip())
    except IdentifierError as exc:
        raise SourceRecordError("bad-uscc", f"{field} {value!r}: {exc}") from None


def checked_region(value: str, field: str) -> str:
    if not (len(value) == 6 and value.isascii() and value.isdigit()):
        raise SourceRecordError("bad-region", f"{field} {value!r} is not a 6-digit GB/T 2260 code")
    return value


def business_role(kind: str, roles: Mapping[str, str]) -> str:
    role = roles.get(kind)
    if role is None:
        raise SourceRecordError("unknown-business-kind", f"主体类型 {kind!r} is not one of {sorted(roles)}")
    return role


def personal_data(event: dict[str, Any], id_number: str | None, phone: str | None) -> None:
    """A natural person's ID number and phone: under ``pii:`` only, masked for subscriptions not entitled."""
    if id_number is not None:
        event["pii:idNumber"] = id_number.upper()
    if phone is not None:
        event["pii:phone"] = phone
