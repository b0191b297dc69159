"""Step ``route``: which subscriptions an event goes to.

Filters are compiled once into frozensets and prefix tuples; matching a record
costs a few set lookups per subscription, with no allocation per criterion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from streams.steps.vocabulary import bare_cbv
from streams.subscriptions import Subscription

STEP = "route"


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


@dataclass(frozen=True, slots=True)
class _CompiledFilter:
    name: str
    event_types: frozenset[str]
    biz_steps: frozenset[str]
    dispositions: frozenset[str]
    company_prefixes: frozenset[str]
    reporters: frozenset[str]
    location_prefixes: tuple[str, ...]

    def matches(self, view: RouteView, prefixes: frozenset[str]) -> bool:
        if self.event_types and view.event_type not in self.event_types:
            return False
        if self.biz_steps and view.biz_step not in self.biz_steps:
            return False
        if self.dispositions and view.disposition not in self.dispositions:
            return False
        if self.reporters and view.reporter not in self.reporters:
            return False
        if self.company_prefixes and self.company_prefixes.isdisjoint(prefixes):
            return False
        if self.location_prefixes:  # noqa: SIM102 - one criterion, one block
            if not any(p.startswith(self.location_prefixes) for p in view.places):
                return False
        return True


_EPC_FIELDS: Final = ("epc_list", "child_epcs", "input_epc_list", "output_epc_list")
_QUANTITY_FIELDS: Final = ("quantity_list", "child_quantity_list", "input_quantity_list", "output_quantity_list")


@dataclass(frozen=True, slots=True)
class RouteView:
    """What filters look at, read once per record from the ``trace_event`` v1 shape."""

    event_type: str
    biz_step: str | None
    disposition: str | None
    reporter: str
    places: tuple[str, ...]
    identifiers: tuple[str, ...]

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
        return cls(
            event_type=event["type"],
            biz_step=bare_cbv(event["biz_step"], "bizstep"),
            disposition=bare_cbv(event["disposition"], "disp"),
            reporter=record["reporter"],
            places=places,
            identifiers=tuple(identifiers),
        )


class Router:
    """Matches canonical records against a fixed set of subscriptions."""

    def __init__(self, subscriptions: Sequence[Subscription]) -> None:
        self._filters = [
            _CompiledFilter(
                name=s.name,
                event_types=frozenset(s.filter.event_types),
                biz_steps=frozenset(bare_cbv(v, "bizstep") or v for v in s.filter.biz_steps),
                dispositions=frozenset(bare_cbv(v, "disp") or v for v in s.filter.dispositions),
                company_prefixes=frozenset(s.filter.gs1_company_prefixes),
                reporters=frozenset(s.filter.reporters),
                location_prefixes=tuple(s.filter.location_prefixes),
            )
            for s in subscriptions
        ]
        self._needs_prefixes = any(f.company_prefixes for f in self._filters)

    @property
    def subscription_names(self) -> list[str]:
        return [f.name for f in self._filters]

    def route(self, record: Mapping[str, Any]) -> list[str]:
        """Names of the subscriptions whose filter matches ``record`` (possibly none)."""
        view = RouteView.of(record)
        prefixes: frozenset[str] = frozenset()
        if self._needs_prefixes:
            prefixes = frozenset(p for p in map(gs1_company_prefix, view.identifiers) if p is not None)
        return [f.name for f in self._filters if f.matches(view, prefixes)]
