"""Step ``route``: which subscriptions an event goes to.

Filters are compiled once into frozensets and prefix tuples, and
:meth:`RouteView.of` reads everything the filters look at once per record, so
matching a record costs a few set lookups per subscription, with no string
work per subscription (location prefixes aside).

Regions. Every GB/T 2260 code a record concerns is expanded once into the
prefixes of its level: a county ``330109`` into ``33``, ``3301`` and
``330109``; a prefecture ``330100`` into ``33`` and ``3301``; a province
``330000`` into ``33``. A subscription's code is compiled to the prefix of its
own level (``330000`` → ``33``, ``330100`` → ``3301``, ``330109`` → ``330109``),
so containment is one set intersection. The codes a record concerns:

* its location: ``trace.region_code`` and ``enrichment.region.code``; when
  neither is known, the reporting business's ``enrichment.business.region_code``;
* for a movement, the source and the destination businesses'
  ``enrichment.source_business.region_code`` / ``destination_business.region_code``.

A value that is not 6 ASCII digits is ignored. The area code inside a USCC is
never used as a region (it is frozen at issue).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from schemas.identifiers.region import level as region_level
from streams.steps.vocabulary import bare_cbv
from streams.subscriptions import Subscription

STEP = "route"
_NONE: Final[frozenset[str]] = frozenset()


def gs1_company_prefix(identifier: str) -> str | None:
    """Company prefix of an EPC pure-identity or class URN (``urn:epc:id:sgtin:0614141.107346.2017``)."""
    if not identifier.startswith(("urn:epc:id:", "urn:epc:class:", "urn:epc:idpat:")):
        return None
    parts = identifier.split(":", 4)  # the body after the scheme may itself contain ':' (in a serial)
    if len(parts) < 5:
        return None
    body = parts[4]
    prefix, dot, _ = body.partition(".")
    return prefix if dot and prefix.isdigit() else None


def region_key(code: str) -> str:
    """The prefix a subscription's region code stands for: its province, prefecture or county digits."""
    kind = region_level(code)
    return code[:2] if kind == "province" else code[:4] if kind == "prefecture" else code


def region_prefixes(code: str | None) -> tuple[str, ...]:
    """Prefixes a record's region code is matched on, shortest first (none unless 6 ASCII digits)."""
    found: set[str] = set()
    _add_region(found, code)
    return tuple(sorted(found, key=len))


def _add_region(found: set[str], code: str | None) -> bool:
    if not code or len(code) != 6 or not (code.isascii() and code.isdigit()):
        return False
    found.add(code[:2])
    if code[2:] != "0000":
        found.add(code[:4])
        if code[4:] != "00":
            found.add(code)
    return True


@dataclass(frozen=True, slots=True)
class _CompiledFilter:
    name: str
    event_types: frozenset[str]
    biz_steps: frozenset[str]
    dispositions: frozenset[str]
    company_prefixes: frozenset[str]
    reporters: frozenset[str]
    location_prefixes: tuple[str, ...]
    categories: frozenset[str]
    regions: frozenset[str]
    businesses: frozenset[str]
    departments: frozenset[str]
    flags_any: frozenset[str]
    flags_none: frozenset[str]

    @classmethod
    def of(cls, subscription: Subscription) -> _CompiledFilter:
        f = subscription.filter
        return cls(
            name=subscription.name,
            event_types=frozenset(f.event_types),
            biz_steps=frozenset(bare_cbv(v, "bizstep") or v for v in f.biz_steps),
            dispositions=frozenset(bare_cbv(v, "disp") or v for v in f.dispositions),
            company_prefixes=frozenset(f.gs1_company_prefixes),
            reporters=frozenset(f.reporters),
            location_prefixes=tuple(f.location_prefixes),
            categories=frozenset(f.categories),
            regions=frozenset(region_key(code) for code in f.regions),
            businesses=frozenset(f.businesses),
            departments=frozenset(f.departments),
            flags_any=frozenset(f.flags_any),
            flags_none=frozenset(f.flags_none),
        )

    def matches(self, view: RouteView, prefixes: frozenset[str]) -> bool:
        if self.event_types and view.event_type not in self.event_types:
            return False
        if self.biz_steps and view.biz_step not in self.biz_steps:
            return False
        if self.dispositions and view.disposition not in self.dispositions:
            return False
        if self.reporters and view.reporter not in self.reporters:
            return False
        if self.flags_none and not self.flags_none.isdisjoint(view.flags):
            return False
        if self.flags_any and self.flags_any.isdisjoint(view.flags):
            return False
        if self.departments and self.departments.isdisjoint(view.departments):
            return False
        if self.categories and self.categories.isdisjoint(view.categories):
            return False
        if self.regions and self.regions.isdisjoint(view.regions):
            return False
        if self.businesses and self.businesses.isdisjoint(view.businesses):
            return False
        if self.company_prefixes and self.company_prefixes.isdisjoint(prefixes):
            return False
        if self.location_prefixes:  # noqa: SIM102 - one criterion, one block
            if not any(p.startswith(self.location_prefixes) for p in view.places):
                return False
        return True


_EPC_FIELDS: Final = ("epc_list", "child_epcs", "input_epc_list", "output_epc_list")
_QUANTITY_FIELDS: Final = ("quantity_list", "child_quantity_list", "input_quantity_list", "output_quantity_list")
_PARTIES: Final = ("source_business", "destination_business")


class RouteView(NamedTuple):
    """What filters look at, read once per record (``trace_event`` v1 or v2 shape).

    ``regions`` holds the region prefixes (see the module docstring),
    ``businesses`` uppercase USCCs, ``departments`` the reporting department
    and every provenance department.
    """

    event_type: str
    biz_step: str | None
    disposition: str | None
    reporter: str
    places: tuple[str, ...]
    identifiers: tuple[str, ...]
    categories: frozenset[str] = _NONE
    regions: frozenset[str] = _NONE
    businesses: frozenset[str] = _NONE
    departments: frozenset[str] = _NONE
    flags: frozenset[str] = _NONE

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> RouteView:
        event = record["event"]
        identifiers: list[str] = []
        if event["parent_id"] is not None:
            identifiers.append(event["parent_id"])
        for name in _EPC_FIELDS:
            if event[name]:
                identifiers.extend(event[name])
        for name in _QUANTITY_FIELDS:
            if event[name]:
                identifiers.extend(q["epc_class"] for q in event[name])
        places = tuple(p["id"] for p in (event["read_point"], event["biz_location"]) if p is not None)
        categories, regions, businesses, departments = _traceability(record)
        flags = record.get("flags")
        return cls(
            event_type=event["type"],
            biz_step=bare_cbv(event["biz_step"], "bizstep"),
            disposition=bare_cbv(event["disposition"], "disp"),
            reporter=record["reporter"],
            places=places,
            identifiers=tuple(identifiers),
            categories=categories,
            regions=regions,
            businesses=businesses,
            departments=departments,
            flags=frozenset(flags) if flags else _NONE,
        )


def _frozen(found: set[str]) -> frozenset[str]:
    return frozenset(found) if found else _NONE


def _traceability(record: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """Categories, region prefixes, USCCs and departments of a record, in one pass."""
    categories: set[str] = set()
    regions: set[str] = set()
    businesses: set[str] = set()
    departments: set[str] = set()
    located = False
    trace = record.get("trace")
    if trace:
        if trace.get("product_category"):
            categories.add(trace["product_category"])
        located = _add_region(regions, trace.get("region_code"))
        if trace.get("business_uscc"):
            businesses.add(trace["business_uscc"].upper())
        for party in _PARTIES:
            ref = trace.get(party)
            if ref and ref.get("uscc"):
                businesses.add(ref["uscc"].upper())
        if trace.get("reporting_department"):
            departments.add(trace["reporting_department"])
    enrichment = record.get("enrichment")
    if enrichment:
        for part in ("catalogue", "product"):
            info = enrichment.get(part)
            if info and info.get("category"):
                categories.add(info["category"])
        region = enrichment.get("region")
        if region:
            located = _add_region(regions, region.get("code")) or located
        info = enrichment.get("business")
        if info:
            if info.get("uscc"):
                businesses.add(info["uscc"].upper())
            if not located:  # the registered region stands in for an unknown location
                _add_region(regions, info.get("region_code"))
        for party in _PARTIES:
            info = enrichment.get(party)
            if info:
                if info.get("uscc"):
                    businesses.add(info["uscc"].upper())
                _add_region(regions, info.get("region_code"))
    for report in record.get("provenance") or ():
        if report.get("department"):
            departments.add(report["department"])
    return _frozen(categories), _frozen(regions), _frozen(businesses), _frozen(departments)


class Router:
    """Matches canonical records against a fixed set of subscriptions; immutable once built.

    A change of subscriptions builds a new router (see :mod:`streams.subscription_store`),
    which the consumer swaps in between batches.
    """

    __slots__ = ("_filters", "_needs_prefixes", "_subscriptions")

    def __init__(self, subscriptions: Iterable[Subscription]) -> None:
        ordered = tuple(subscriptions)
        names = [s.name for s in ordered]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"subscription names used twice: {duplicated}")
        self._subscriptions = ordered
        self._filters = tuple(_CompiledFilter.of(s) for s in ordered)
        self._needs_prefixes = any(f.company_prefixes for f in self._filters)

    def __repr__(self) -> str:
        return f"Router({self.subscription_names})"

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return self._subscriptions

    @property
    def subscription_names(self) -> list[str]:
        return [f.name for f in self._filters]

    def route(self, record: Mapping[str, Any]) -> list[str]:
        """Names of the subscriptions whose filter matches ``record`` (possibly none)."""
        view = RouteView.of(record)
        prefixes: frozenset[str] = _NONE
        if self._needs_prefixes:
            prefixes = frozenset(p for p in map(gs1_company_prefix, view.identifiers) if p is not None)
        return [f.name for f in self._filters if f.matches(view, prefixes)]
