"""The traceability extension: what Chinese departments add to an EPCIS event.

In EPCIS JSON-LD it is a set of top-level extension fields in the namespace
``urn:tracebus:ns:trace:`` (prefix ``tb`` by convention)::

    "tb:reportingDepartment": "MOFCOM",        reporting department (上报部门)
    "tb:reportingPlatform": "zj-meat-veg",     the department's platform
    "tb:productCategory": "0101",              product catalogue code (产品目录)
    "tb:businessUSCC": "91350200776049653A",   the reporting business (主体)
    "tb:businessRole": "slaughterhouse",
    "tb:regionCode": "330109",                 GB/T 2260 code of the business location
    "tb:inboundBatch": "...",                  入库批次
    "tb:outboundBatch": "...",                 出库批次 (the trace code handed downstream)
    "tb:traceCode": "...",                     追溯码
    "tb:certificates": [{"tb:type": "animal-quarantine", "tb:number": "...", "tb:issuer": "..."}],
    "tb:sourceBusiness": {"tb:uscc": "...", "tb:name": "..."},        来源
    "tb:destinationBusiness": {"tb:uscc": "...", "tb:name": "..."}    去向

Keys inside the nested objects carry the prefix too: a bare ``type`` would mean
``@type`` under the EPCIS JSON-LD context, and XML writes them as prefixed
elements anyway. A single certificate may be written as one object (XML's
one repeated element); it is read as a list of one.

These fields are part of the event as submitted, and so of its CBV 2.0 hash.
The bus's own findings (flags, provenance) are never written here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from schemas.errors import SchemaError

TRACE_NAMESPACE: Final = "urn:tracebus:ns:trace:"
TRACE_PREFIX: Final = "tb"
DEPARTMENTS: Final = ("MARA", "MIIT", "SAMR", "NATCM", "NMPA", "GACC", "MOFCOM", "OTHER")
CERTIFICATE_TYPES: Final = (
    "ANIMAL_QUARANTINE",
    "MEAT_QUALITY",
    "COMPLIANCE",
    "ORIGIN",
    "TEST_REPORT",
    "IMPORT_QUARANTINE",
    "OTHER",
)
_SCALARS: Final = (
    ("reportingDepartment", "reporting_department"),
    ("reportingPlatform", "reporting_platform"),
    ("productCategory", "product_category"),
    ("businessUSCC", "business_uscc"),
    ("businessRole", "business_role"),
    ("regionCode", "region_code"),
    ("inboundBatch", "inbound_batch"),
    ("outboundBatch", "outbound_batch"),
    ("traceCode", "trace_code"),
)
_KNOWN: Final = frozenset({j for j, _ in _SCALARS} | {"certificates", "sourceBusiness", "destinationBusiness"})


class TraceExtensionError(SchemaError):
    """A ``tb:`` field is unknown or has the wrong shape."""


def _string(source: Mapping[str, Any], key: str) -> str | None:
    value = source.get(key)
    if value is None or isinstance(value, str):
        return value
    raise TraceExtensionError(f"tb:{key} must be a string")


def _local(value: Any, key: str, prefixes: frozenset[str], allowed: frozenset[str]) -> dict[str, Any]:
    """A nested object's fields by local name; every key must carry a traceability prefix."""
    if not isinstance(value, dict):
        raise TraceExtensionError(f"tb:{key} must be an object")
    fields: dict[str, Any] = {}
    for name, item in value.items():
        prefix, colon, local = name.partition(":")
        if not colon or prefix not in prefixes or local not in allowed:
            raise TraceExtensionError(f"tb:{key} has field {name!r}; expected {sorted('tb:' + a for a in allowed)}")
        fields[local] = item
    return fields


def _business(value: Any, key: str, prefixes: frozenset[str]) -> dict[str, str | None] | None:
    if value is None:
        return None
    fields = _local(value, key, prefixes, frozenset({"uscc", "name"}))
    return {"uscc": _string(fields, "uscc"), "name": _string(fields, "name")}


def trace_from_json(fields: Mapping[str, Any], prefixes: frozenset[str] = frozenset({TRACE_PREFIX})) -> dict[str, Any]:
    """Top-level local names → the Avro ``TraceExtension`` record.

    ``prefixes`` are the submitter's prefixes bound to the traceability
    namespace (nested keys must use one of them).
    """
    unknown = set(fields) - _KNOWN
    if unknown:
        raise TraceExtensionError(f"unknown traceability extension fields: {sorted('tb:' + u for u in unknown)}")
    trace: dict[str, Any] = {avro: _string(fields, json) for json, avro in _SCALARS}
    department = trace["reporting_department"]
    if department is not None and department not in DEPARTMENTS:
        raise TraceExtensionError(f"tb:reportingDepartment {department!r} is not one of {list(DEPARTMENTS)}")
    certificates = fields.get("certificates", [])
    if isinstance(certificates, dict):
        # XML writes one repeated element as an object; in JSON-LD one value and a one-element list are the same
        certificates = [certificates]
    if not isinstance(certificates, list):
        raise TraceExtensionError("tb:certificates must be a list")
    trace["certificates"] = []
    for index, raw in enumerate(certificates):
        certificate = _local(raw, f"certificates[{index}]", prefixes, frozenset({"type", "number", "issuer"}))
        written = certificate.get("type")
        kind = str(written).upper().replace("-", "_")
        if kind not in CERTIFICATE_TYPES or written != kind.lower().replace("_", "-"):
            raise TraceExtensionError(
                f"tb:certificates[{index}].type {certificate.get('type')!r} is not one of {[t.lower().replace('_', '-') for t in CERTIFICATE_TYPES]}"
            )
        number = certificate.get("number")
        if not isinstance(number, str) or not number:
            raise TraceExtensionError(f"tb:certificates[{index}].number must be a non-empty string")
        trace["certificates"].append({"type": kind, "number": number, "issuer": _string(certificate, "issuer")})
    trace["source_business"] = _business(fields.get("sourceBusiness"), "sourceBusiness", prefixes)
    trace["destination_business"] = _business(fields.get("destinationBusiness"), "destinationBusiness", prefixes)
    return trace


def trace_to_json(trace: Mapping[str, Any], prefix: str = TRACE_PREFIX) -> dict[str, Any]:
    """The Avro ``TraceExtension`` record → top-level local names (the caller prefixes them); nested keys prefixed."""
    fields: dict[str, Any] = {json: trace[avro] for json, avro in _SCALARS if trace[avro] is not None}
    if trace["certificates"]:
        fields["certificates"] = [
            {f"{prefix}:type": c["type"].lower().replace("_", "-"), f"{prefix}:number": c["number"]}
            | ({f"{prefix}:issuer": c["issuer"]} if c["issuer"] is not None else {})
            for c in trace["certificates"]
        ]
    for json, avro in (("sourceBusiness", "source_business"), ("destinationBusiness", "destination_business")):
        business = trace[avro]
        if business is not None:
            fields[json] = {f"{prefix}:{k}": v for k, v in business.items() if v is not None}
    return fields
