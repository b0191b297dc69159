"""Step ``enrich``: add master data to a canonical ``trace_event`` record (v2 ``enrichment``), and flag findings.

What it adds (``record["enrichment"]``, the v2 ``Enrichment`` record):

* ``business``: the reporting business, from ``trace.business_uscc``;
* ``source_business`` / ``destination_business``: from the USCCs of
  ``trace.source_business`` / ``trace.destination_business``;
* ``product``: from the first product code of the what dimension (``parentID``,
  the EPC lists, then the quantity lists, in that order): the GTIN of an SGTIN,
  LGTIN or GTIN pattern (EPC URN or GS1 Digital Link), or the drug
  identification code (药品标识码, first 7 characters) of a drug trace code
  ``urn:tracebus:id:drugcode:…``;
* ``region``: province, prefecture and county names of ``trace.region_code`` in
  the GB/T 2260 snapshot in force on the event's date;
* ``catalogue``: the catalogue entry of ``trace.product_category``, else of the
  product's category.

The event's date is its local date (``event_time_ms`` shifted by
``event_time_zone_offset``). Findings about reference data never reject an
event: they are appended to ``record["flags"]`` (each once):

* ``unknown-business``: a USCC named by the event is not in the master data;
* ``unknown-product``: the event names a product code that is not in it
  (an event without any product code is not flagged);
* ``category-not-in-catalogue``: the category is not in the catalogue;
* ``category-not-traced-at-event-date``: the category is not traced, or only
  from a later date than the event's;
* ``region-invalid-at-event-date``: the region code is malformed, or not in the
  snapshot in force on the event's date;
* ``region-older-than-snapshots``: the event predates every snapshot; the names
  (if any) come from the oldest one.

The record's identity is untouched: ``event_id``, ``event`` and ``trace`` are
the very objects that came in (the hash covers only the submitted event); the
result is a new top-level dict with new ``flags`` and ``enrichment``. Enrichment
entries are shared with the reference tables: never mutate them. The step does
no I/O and builds no models; region verdicts are cached per (code, snapshot).
Any unexpected exception becomes ``Fail("unexpected-error")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any, Final

from schemas.identifiers.epc import canonical_epc
from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.region import OLDER_THAN_OLDEST, RegionTable
from streams.reference import BusinessEntry, ReferenceData
from streams.steps.base import Emit, Fail, StepResult

STEP: Final = "enrich"

UNKNOWN_BUSINESS: Final = "unknown-business"
UNKNOWN_PRODUCT: Final = "unknown-product"
CATEGORY_NOT_IN_CATALOGUE: Final = "category-not-in-catalogue"
CATEGORY_NOT_TRACED: Final = "category-not-traced-at-event-date"
REGION_INVALID: Final = "region-invalid-at-event-date"
REGION_OLDER_THAN_SNAPSHOTS: Final = "region-older-than-snapshots"
FLAGS: Final = (
    UNKNOWN_BUSINESS,
    UNKNOWN_PRODUCT,
    CATEGORY_NOT_IN_CATALOGUE,
    CATEGORY_NOT_TRACED,
    REGION_INVALID,
    REGION_OLDER_THAN_SNAPSHOTS,
)

_GTIN_LINK: Final = "https://id.gs1.org/01/"
_DRUG_CODE: Final = "urn:tracebus:id:drugcode:"
_DRUG_PRODUCT_LENGTH: Final = 7
_EPC_LISTS: Final = ("epc_list", "child_epcs", "input_epc_list", "output_epc_list")
_QUANTITY_LISTS: Final = ("quantity_list", "child_quantity_list", "input_quantity_list", "output_quantity_list")
_DAY_MS: Final = 86_400_000
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()

RegionOutcome = tuple[dict[str, Any] | None, str | None]
_REGION_CACHE_SIZE: Final = 16_384
_region_caches: dict[RegionTable, dict[tuple[str, date | None], RegionOutcome]] = {}


def enrich(record: dict[str, Any], data: ReferenceData, regions: RegionTable) -> StepResult[dict[str, Any]]:
    """``Emit`` the record with ``enrichment`` filled and reference-data flags appended (see the module)."""
    try:
        return Emit(_enriched(record, data, regions))
    except Exception as exc:  # a step never raises for one event
        return Fail(reason="unexpected-error", message=f"{type(exc).__name__}: {exc}", error_class=type(exc).__name__)


def _enriched(record: dict[str, Any], data: ReferenceData, regions: RegionTable) -> dict[str, Any]:
    event = record["event"]
    trace: Mapping[str, Any] | None = record.get("trace")
    found: list[str] = []
    day = event_date(event)

    business = source = destination = None
    category: str | None = None
    region_code: str | None = None
    if trace is not None:
        business = _business(data, trace.get("business_uscc"), found)
        source = _business(data, _ref_uscc(trace.get("source_business")), found)
        destination = _business(data, _ref_uscc(trace.get("destination_business")), found)
        category = trace.get("product_category")
        region_code = trace.get("region_code")

    product = None
    code = product_code(event)
    if code is not None:
        product = data.product(code)
        if product is None:
            found.append(UNKNOWN_PRODUCT)
    if category is None and product is not None:
        category = product["category"]

    catalogue = None
    if category is not None:
        catalogue = data.catalogue(category)
        if catalogue is None:
            found.append(CATEGORY_NOT_IN_CATALOGUE)
        elif not catalogue["traced"] or (catalogue["since"] is not None and catalogue["since"] > day.isoformat()):
            found.append(CATEGORY_NOT_TRACED)

    region = None
    if region_code is not None:
        region, flag = region_info(regions, region_code, day)
        if flag is not None:
            found.append(flag)

    flags: list[str] = list(record.get("flags") or ())
    for flag in found:
        if flag not in flags:
            flags.append(flag)
    return {
        **record,
        "flags": flags,
        "enrichment": {
            "business": business,
            "source_business": source,
            "destination_business": destination,
            "product": product,
            "region": region,
            "catalogue": catalogue,
        },
    }


def _ref_uscc(ref: Mapping[str, Any] | None) -> str | None:
    return None if ref is None else ref.get("uscc")


def _business(data: ReferenceData, uscc: str | None, found: list[str]) -> BusinessEntry | None:
    if not uscc:
        return None
    entry = data.business(uscc.upper())  # USCCs are kept upper case; a submitted one may not be
    if entry is None:
        found.append(UNKNOWN_BUSINESS)
    return entry


def product_code(event: Mapping[str, Any]) -> str | None:
    """The first product code of the what dimension: a GTIN-14, or a 7-character drug identification code."""
    code = _code_of(event.get("parent_id"))
    if code is not None:
        return code
    for name in _EPC_LISTS:
        for value in event.get(name) or ():
            code = _code_of(value)
            if code is not None:
                return code
    for name in _QUANTITY_LISTS:
        for element in event.get(name) or ():
            code = _code_of(element.get("epc_class"))
            if code is not None:
                return code
    return None


def _code_of(identifier: str | None) -> str | None:
    if not identifier:
        return None
    if identifier.startswith(_DRUG_CODE):
        value = identifier[len(_DRUG_CODE) :]
        return value[:_DRUG_PRODUCT_LENGTH].upper() if len(value) >= _DRUG_PRODUCT_LENGTH else None
    canonical = canonical_epc(identifier)  # cached; EPC URNs and Digital Links alike
    if canonical.startswith(_GTIN_LINK):
        return canonical[len(_GTIN_LINK) : len(_GTIN_LINK) + 14]
    return None


def event_date(event: Mapping[str, Any]) -> date:
    """The event's local date: ``event_time_ms`` shifted by ``event_time_zone_offset`` (UTC without one)."""
    offset_ms = _offset_ms(event.get("event_time_zone_offset"))
    return date.fromordinal(_EPOCH_ORDINAL + (event["event_time_ms"] + offset_ms) // _DAY_MS)


@lru_cache(maxsize=64)
def _offset_ms(offset: str | None) -> int:
    if not offset or len(offset) != 6 or offset[0] not in "+-" or offset[3] != ":":
        return 0
    minutes = int(offset[1:3]) * 60 + int(offset[4:6])
    return (-1 if offset[0] == "-" else 1) * minutes * 60_000


def region_info(regions: RegionTable, code: str, day: date) -> RegionOutcome:
    """(``RegionInfo`` dict or None, flag or None) for ``code`` on ``day``, cached per snapshot."""
    cache = _region_caches.get(regions)
    if cache is None:
        if len(_region_caches) >= 8:  # tables are few (one per process); tests make more
            _region_caches.clear()
        cache = _region_caches[regions] = {}
    snapshot = regions.snapshot_for(day)
    key = (code, None if snapshot is None else snapshot.effective)
    outcome = cache.get(key)
    if outcome is None:
        if len(cache) >= _REGION_CACHE_SIZE:
            cache.clear()
        outcome = cache[key] = _judge_region(regions, code, day)
    return outcome


def _judge_region(regions: RegionTable, code: str, day: date) -> RegionOutcome:
    try:
        verdict = regions.check(code, day)
    except IdentifierError:
        return None, REGION_INVALID
    flag = REGION_OLDER_THAN_SNAPSHOTS if verdict.flag == OLDER_THAN_OLDEST else None
    if not verdict.known:
        return None, flag
    info = {
        "code": verdict.code,
        "province": verdict.province,
        "prefecture": verdict.prefecture,
        "county": verdict.county,
        "snapshot": verdict.snapshot.isoformat(),
    }
    return info, flag
