"""Writing EPCIS 2.0 JSON-LD: events from records, with a ``@context`` that binds every prefix they use.

Events delivered together may come from different submissions, and two
submitters may bind one prefix to different namespaces. Each record's own
context entries are merged into the document's ``@context``; a record whose
bindings conflict with those already merged carries its context as an
event-level ``@context`` instead, so every event keeps exactly the meaning
(and so the CBV 2.0 hash) it was submitted with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import orjson

from schemas.epcis.convert import from_record_event, prefix_map
from schemas.epcis.trace_extension import TRACE_NAMESPACE, TRACE_PREFIX

EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def trace_prefix(prefixes: Mapping[str, str]) -> str:
    """The prefix to write the traceability extension with: the submitter's own, else ``tb`` if free."""
    for prefix, namespace in prefixes.items():
        if namespace == TRACE_NAMESPACE:
            return prefix
    candidate, number = TRACE_PREFIX, 0
    while candidate in prefixes:
        number += 1
        candidate = f"{TRACE_PREFIX}{number}"
    return candidate


class _Context:
    def __init__(self) -> None:
        self.entries: list[Any] = [EPCIS_CONTEXT]
        self._seen = {orjson.dumps(EPCIS_CONTEXT)}
        self.bindings: dict[str, str] = {}

    def conflicts(self, bindings: Mapping[str, str]) -> bool:
        return any(self.bindings.get(prefix, iri) != iri for prefix, iri in bindings.items())

    def add(self, entries: Iterable[Any], bindings: Mapping[str, str]) -> None:
        self.bindings.update(bindings)
        for entry in entries:
            encoded = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)
            if encoded not in self._seen:
                self._seen.add(encoded)
                self.entries.append(entry)


def render_events(records: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[dict[str, Any]]]:
    """(document ``@context``, events) for ``trace_event`` v1 records, in order."""
    document = _Context()
    events: list[dict[str, Any]] = []
    for record in records:
        entries: list[Any] = orjson.loads(record["context_json"] or "[]")
        prefixes = prefix_map(entries)
        prefix = trace_prefix(prefixes)
        if record["trace"] is not None and prefixes.get(prefix) != TRACE_NAMESPACE:
            entries = [*entries, {prefix: TRACE_NAMESPACE}]
            prefixes = {**prefixes, prefix: TRACE_NAMESPACE}
        event = from_record_event(record["event"], record["trace"], trace_prefix=prefix)
        if document.conflicts(prefixes):
            own = entries if EPCIS_CONTEXT in entries else [EPCIS_CONTEXT, *entries]
            event = {"@context": own, **event}
        else:
            document.add(entries, prefixes)
        events.append(event)
    return document.entries, events
