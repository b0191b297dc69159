"""Step ``dedupe``: exact repeats, cross-department merges, corrections, and once-per-subscriber delivery.

Exact: an event identity (its CBV 2.0 hash) already seen on this partition
within the retention window is dropped as ``duplicate``. A correction — the
same event with an ``errorDeclaration``, which CBV leaves out of the hash — is
not a repeat of its original: its key adds the declaration time.

Cross-department: reports of one observation by several platforms share the
trace key, the business step, and the source and destination businesses, and
fall within ``window_ms`` of each other. The first report opens the
observation (its identity becomes the observation's); a later matching
report joins it: ``observation_id`` is the first identity and ``provenance``
lists every report so far. Shipping and receiving are different business
steps, so they never merge: they are two observations.

Once per subscriber: a subscription receives an observation once, whichever
of its reports matches its filter first. A correction goes to every
subscription that received the original, plus whatever its own content
routes to; a correction of an event the bus never saw is routed normally and
flagged ``correction-of-unknown-event``.

All state is partition-local (the trace key decides the partition, so every
report of one movement meets here) and goes through :class:`BatchState`.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from streams.state.batch import DELIVERED, OBSERVATIONS, SEEN, BatchState
from streams.steps.vocabulary import bare_cbv

STEP: Final = "dedupe"
CORRECTION_OF_UNKNOWN: Final = "correction-of-unknown-event"
_TIME: Final = struct.Struct(">q")


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


@dataclass(frozen=True, slots=True)
class DedupeSettings:
    window_ms: int = 24 * 3600 * 1000
    """Reports of one observation may be this far apart in event time."""
    require_distinct_reporters: bool = False
    """Narrowing condition: merge only reports from different reporting departments or platforms."""


@dataclass(slots=True)
class Verdict:
    """What dedupe decided for one record."""

    duplicate: bool = False
    joined: bool = False  # a later report of an existing observation
    correction_targets: frozenset[str] = frozenset()


def _provenance_of(record: Mapping[str, Any]) -> dict[str, Any]:
    trace = record["trace"] or {}
    return {
        "event_id": record["event_id"],
        "department": trace.get("reporting_department"),
        "platform": trace.get("reporting_platform"),
        "reporter": record["reporter"],
        "capture_id": record["capture_id"],
        "received_at_ms": record["received_at_ms"],
    }


def _party(record: Mapping[str, Any], side: str) -> str:
    trace = record["trace"]
    if trace is not None and trace.get(f"{side}_business") and trace[f"{side}_business"].get("uscc"):
        return "uscc:" + str(trace[f"{side}_business"]["uscc"])
    parties = record["event"][f"{side}_list"] or []
    owners = sorted(p["id"] for p in parties if str(p["type"]).endswith("owning_party"))
    return "|".join(owners or sorted(p["id"] for p in parties))


def movement_key(record: Mapping[str, Any]) -> str | None:
    """The observation match key, or None for events that are not a movement between businesses."""
    step = bare_cbv(record["event"]["biz_step"], "bizstep")
    source, destination = _party(record, "source"), _party(record, "destination")
    if step is None or not (source or destination):
        return None
    return "\x1e".join((record["trace_key"], step, source, destination))


class Deduplicator:
    def __init__(self, settings: DedupeSettings, subscription_names: Sequence[str]) -> None:
        self.settings = settings
        self.subscription_names = list(subscription_names)

    def seen_key(self, record: Mapping[str, Any]) -> bytes:
        declaration = record["event"]["error_declaration"]
        if declaration is None:
            return _digest(record["event_id"])
        return _digest(record["event_id"], "correction", declaration["declaration_time"])

    def check(self, record: dict[str, Any], partition: int, state: BatchState, now_ms: int) -> Verdict:
        """Decide for one record; annotates ``record`` (observation, provenance, flags) and stages state."""
        key = self.seen_key(record)
        if state.get(SEEN, partition, key) is not None:
            return Verdict(duplicate=True)
        if record["event"]["error_declaration"] is not None:
            return self._correction(record, partition, state, key, now_ms)
        verdict = self._merge(record, partition, state)
        state.put(SEEN, partition, key, _TIME.pack(now_ms) + record["observation_id"].encode())
        return verdict

    def _merge(self, record: dict[str, Any], partition: int, state: BatchState) -> Verdict:
        mine = _provenance_of(record)
        match = movement_key(record)
        if match is None:
            record["observation_id"], record["provenance"] = record["event_id"], [mine]
            return Verdict()
        key = _digest(match)
        raw = state.get(OBSERVATIONS, partition, key)
        observation = orjson.loads(raw) if raw is not None else None
        event_time = record["event"]["event_time_ms"]
        if observation is not None and self._joins(observation, mine, event_time):
            observation["provenance"].append(mine)
            record["observation_id"], record["provenance"] = observation["id"], list(observation["provenance"])
            state.put(OBSERVATIONS, partition, key, orjson.dumps(observation))
            return Verdict(joined=True)
        observation = {"id": record["event_id"], "t": event_time, "provenance": [mine]}
        state.put(OBSERVATIONS, partition, key, orjson.dumps(observation))
        record["observation_id"], record["provenance"] = record["event_id"], [mine]
        return Verdict()

    def _joins(self, observation: Mapping[str, Any], mine: Mapping[str, Any], event_time: int) -> bool:
        if abs(event_time - int(observation["t"])) > self.settings.window_ms:
            return False
        if self.settings.require_distinct_reporters:
            reporters = {(p["department"], p["platform"]) for p in observation["provenance"]}
            return (mine["department"], mine["platform"]) not in reporters
        return True

    def _correction(
        self, record: dict[str, Any], partition: int, state: BatchState, key: bytes, now_ms: int
    ) -> Verdict:
        original = state.get(SEEN, partition, _digest(record["event_id"]))
        mine = _provenance_of(record)
        if original is None:
            record["flags"] = [*record["flags"], CORRECTION_OF_UNKNOWN]
            record["observation_id"], record["provenance"] = record["event_id"], [mine]
            targets: frozenset[str] = frozenset()
        else:
            observation_id = original[_TIME.size :].decode()
            record["observation_id"], record["provenance"] = observation_id, [mine]
            targets = frozenset(
                name
                for name in self.subscription_names
                if state.get(DELIVERED, partition, _digest(name, observation_id)) is not None
            )
        state.put(SEEN, partition, key, _TIME.pack(now_ms) + record["observation_id"].encode())
        return Verdict(correction_targets=targets)

    def deliverable(
        self, record: Mapping[str, Any], targets: Sequence[str], partition: int, state: BatchState, now_ms: int
    ) -> list[str]:
        """The targets that have not received this observation (or this correction) yet; stages them."""
        declaration = record["event"]["error_declaration"]
        identity = record["observation_id"]
        if declaration is not None:
            identity = f"{identity}#correction@{declaration['declaration_time']}"
        fresh = []
        for name in targets:
            key = _digest(name, identity)
            if state.get(DELIVERED, partition, key) is None:
                state.put(DELIVERED, partition, key, _TIME.pack(now_ms))
                fresh.append(name)
        return fresh
