"""Personal data (个人信息) of natural persons: delivered in full to entitled subscriptions, masked for the others.

Platform mappers put a natural person's ID number and phone only in extension
fields of the namespace :data:`PERSONAL_NAMESPACE` (prefix ``pii`` by
convention: ``pii:idNumber``, ``pii:phone``). The router serializes a masked
copy of such an event for every subscription that is not entitled: the same
record, the same identity (``event_id``, ``observation_id``) — so subscribers
deduplicate and reconcile on it as usual — with each personal value masked and
the flag ``personal-data-masked``.

A subscription is entitled when its ``personal_data`` is ``entitled``, or,
left unset, when it belongs to the department that reported the event (the
owning department). ``masked`` never receives personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

import orjson

from schemas.epcis.convert import prefix_map

PERSONAL_NAMESPACE: Final = "urn:tracebus:ns:personal:"
MASKED_FLAG: Final = "personal-data-masked"


@lru_cache(maxsize=256)
def _personal_prefixes(context_json: str) -> frozenset[str]:
    try:
        context = orjson.loads(context_json)
    except orjson.JSONDecodeError:
        return frozenset()
    if not isinstance(context, list):
        context = [context]
    return frozenset(prefix for prefix, iri in prefix_map(context).items() if iri == PERSONAL_NAMESPACE)


def personal_keys(record: Mapping[str, Any]) -> list[str]:
    """The event's top-level extension keys that hold personal data (empty for almost every event)."""
    extensions = record["event"].get("extensions") or {}
    if not extensions:
        return []
    prefixes = _personal_prefixes(record.get("context_json") or "[]")
    if not prefixes:
        return []
    return [key for key in extensions if key.partition(":")[0] in prefixes]


def mask_value(text: str) -> str:
    """Keep what identifies nothing alone: an ID number's region and last 4, a phone's first 3 and last 4."""
    digits = text.strip()
    if len(digits) == 18:  # resident ID number
        return digits[:6] + "*" * 8 + digits[-4:]
    if len(digits) == 11 and digits.isdigit():  # mobile phone
        return digits[:3] + "****" + digits[-4:]
    return "*" * max(3, len(digits))


def _mask_json(value: Any) -> Any:
    if isinstance(value, str):
        return mask_value(value)
    if isinstance(value, list):
        return [_mask_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _mask_json(item) for key, item in value.items()}
    return "***"


def masked_copy(record: Mapping[str, Any], keys: list[str]) -> dict[str, Any]:
    """The record with every personal extension value masked (the extensions hold JSON text) and flagged."""
    event = dict(record["event"])
    extensions = dict(event["extensions"])
    for key in keys:
        extensions[key] = orjson.dumps(_mask_json(orjson.loads(extensions[key]))).decode()
    event["extensions"] = extensions
    copy = dict(record)
    copy["event"] = event
    copy["flags"] = sorted({*(record.get("flags") or []), MASKED_FLAG})
    return copy


def entitled(setting: str | None, subscription_department: str, record: Mapping[str, Any]) -> bool:
    if setting is not None:
        return setting == "entitled"
    trace = record.get("trace") or {}
    return bool(trace.get("reporting_department")) and trace.get("reporting_department") == subscription_department
