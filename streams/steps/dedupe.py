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
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from streams.state.batch import OBSERVATIONS, SEEN, BatchState
from streams.steps.vocabulary import bare_cbv

STEP: Final = "dedupe"
CORRECTION_OF_UNKNOWN: Final = "correction-of-unknown-event"
_TIME: Final = struct.Struct(">q")
_SEPARATOR: Final = "\x1e"
_MAX_SLOTS: Final = 16
_SLOT: Final = struct.Struct(">qB")  # time bucket, slot: appended to the movement key's digest
"""Observations of one movement key opened within one window-wide time bucket (distinct-reporter narrowing and
corrections can open several)."""


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
    """What dedupe decided for one record, and the observation it belongs to."""

    duplicate: bool = False
    joined: bool = False  # a later report of an existing observation
    correction_targets: frozenset[str] = frozenset()
    observation_key: bytes = b""
    observation: dict[str, Any] = field(default_factory=dict)


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


# the two ends of one movement: each end's observation links the other's (lineage)
COUNTERPART_STEPS: Final = {
    "shipping": "receiving",
    "receiving": "shipping",
    "departing": "arriving",
    "arriving": "departing",
}


def movement_key(record: Mapping[str, Any], *, step: str | None = None) -> str | None:
    """The observation match key, or None for events that are not a movement between businesses.

    ``step`` replaces the record's own business step (to find the other end of the movement).
    """
    step = step or bare_cbv(record["event"]["biz_step"], "bizstep")
    source, destination = _party(record, "source"), _party(record, "destination")
    if step is None or not (source or destination):
        return None
    return _SEPARATOR.join((record["trace_key"], step, source, destination))


class Deduplicator:
    """Dedupe decisions over two partition-local tables.

    ``seen``: event identity (or identity + declaration time for a correction) →
    first-seen time (8 bytes). ``observations``: observation key → JSON
    ``{id, t (event time), s (opened at), provenance, delivered, corrections, links}`` where ``delivered`` lists the
    subscriptions that received the observation. The key is the movement key,
    a window-wide time bucket of the observation's first event time and a slot
    for movements (so reports arriving in any order find theirs), and the event
    identity otherwise; every event costs two state writes at most, however
    many subscriptions it reaches.
    """

    def __init__(self, settings: DedupeSettings, subscription_names: Sequence[str]) -> None:
        self.settings = settings
        self.subscription_names = list(subscription_names)

    def seen_key(self, record: Mapping[str, Any]) -> bytes:
        declaration = record["event"]["error_declaration"]
        if declaration is None:
            return _digest(record["event_id"])
        return _digest(record["event_id"], "correction", declaration["declaration_time"])

    def _candidates(
        self, match: str, event_time: int, partition: int, state: BatchState
    ) -> tuple[list[tuple[bytes, dict[str, Any]]], bytes]:
        """(every stored observation of movement ``match`` that may lie within the window of ``event_time``,
        the key a new observation of this event would take).

        Observations are stored by movement key, time bucket and slot, so reports of one movement may arrive
        in any order — a platform's export of last week after another's of today — and still find theirs.
        Buckets are two windows wide: whatever lies within a window of the event is in its own bucket or in
        the one neighbour on the side of the half it falls in, so two bucket reads suffice. Slots fill in
        order, so a bucket's lookup stops at its first empty slot.
        """
        width = 2 * self.settings.window_ms
        bucket, offset = divmod(event_time, width)
        neighbour = bucket - 1 if offset < self.settings.window_ms else bucket + 1
        prefix = _digest("movement", match)
        found: list[tuple[bytes, dict[str, Any]]] = []
        free = prefix + _SLOT.pack(bucket, _MAX_SLOTS - 1)  # a full bucket (never seen in practice) reuses its last
        for near in (bucket, neighbour):
            for slot in range(_MAX_SLOTS):
                key = prefix + _SLOT.pack(near, slot)
                raw = state.get(OBSERVATIONS, partition, key)
                if raw is None:
                    if near == bucket:
                        free = key
                    break
                found.append((key, orjson.loads(raw)))
        return found, free

    def _locate(
        self, record: Mapping[str, Any], partition: int, state: BatchState, mine: Mapping[str, Any]
    ) -> tuple[bytes, dict[str, Any] | None, bool, str | None]:
        """(observation key, observation or None, whether the record is already one of its reports, movement key)."""
        match = movement_key(record)
        if match is None:
            key = _digest("event", record["event_id"])
            raw = state.get(OBSERVATIONS, partition, key)
            return key, (orjson.loads(raw) if raw is not None else None), raw is not None, None
        event_time = int(record["event"]["event_time_ms"])
        candidates, free = self._candidates(match, event_time, partition, state)
        for key, observation in candidates:
            if any(p["event_id"] == record["event_id"] for p in observation["provenance"]):
                return key, observation, True, match
        joinable = [(abs(event_time - int(o["t"])), k, o) for k, o in candidates if self._joins(o, mine, event_time)]
        if joinable:
            _, key, observation = min(joinable, key=lambda item: item[0])
            return key, observation, False, match
        return free, None, False, match

    def check(
        self, record: dict[str, Any], partition: int, state: BatchState, now_ms: int, *, replay: bool = False
    ) -> Verdict:
        """Decide for one record; annotates ``record`` (observation, provenance, flags) and stages state.

        ``replay``: the record was re-published on purpose (``tracebus replay``). A repeat is then
        not dropped; it goes on to routing against the observation's recipients, so subscribers
        that should have it and do not get it, and nobody gets it twice.
        """
        key = self.seen_key(record)
        already_seen = state.get(SEEN, partition, key) is not None
        if already_seen and not replay:
            return Verdict(duplicate=True)
        mine = _provenance_of(record)
        observation_key, observation, known, match = self._locate(record, partition, state, mine)
        if already_seen and observation is not None:
            record["observation_id"] = observation["id"]
            record["provenance"] = list(observation["provenance"])
            record["linked_observations"] = list(observation.get("links", []))
            return Verdict(observation_key=observation_key, observation=observation)
        correction = record["event"]["error_declaration"] is not None
        verdict = Verdict(observation_key=observation_key)
        if correction:
            if known and observation is not None:
                verdict.correction_targets = frozenset(observation["delivered"])
            else:  # a correction of an event never seen: its own observation, not another report's
                record["flags"] = [*record["flags"], CORRECTION_OF_UNKNOWN]
                observation = self._new(record, mine, now_ms)
                if match is not None:
                    _, observation_key = self._candidates(
                        match, int(record["event"]["event_time_ms"]), partition, state
                    )
                    verdict.observation_key = observation_key
        elif observation is not None:
            observation["provenance"].append(mine)
            verdict.joined = True
        else:
            observation = self._new(record, mine, now_ms)
            self._link(match, observation, partition, state)
        record["observation_id"] = observation["id"]
        record["provenance"] = [mine] if correction else list(observation["provenance"])
        record["linked_observations"] = list(observation.get("links", []))
        verdict.observation = observation
        state.put(OBSERVATIONS, partition, observation_key, orjson.dumps(observation))
        # only the time: the observation is found from the record itself (its movement key), and 8 bytes a
        # key keep a million identities well under the memory budget
        state.put(SEEN, partition, key, _TIME.pack(now_ms))
        return verdict

    @staticmethod
    def _new(record: Mapping[str, Any], mine: dict[str, Any], now_ms: int) -> dict[str, Any]:
        return {
            "id": record["event_id"],
            "t": record["event"]["event_time_ms"],
            "s": now_ms,  # when the bus opened it: retention counts from here
            "provenance": [mine],
            "delivered": [],
            "corrections": {},
        }

    def _link(self, own: str | None, observation: dict[str, Any], partition: int, state: BatchState) -> None:
        """Link a new observation with the other end of its movement (shipment ↔ receipt), both ways."""
        if own is None:
            return
        trace_key, step, source, destination = own.split(_SEPARATOR)
        counterpart_step = COUNTERPART_STEPS.get(step)
        if counterpart_step is None:
            return
        match = _SEPARATOR.join((trace_key, counterpart_step, source, destination))
        event_time = int(observation["t"])
        nearby = [
            (abs(int(o["t"]) - event_time), k, o)
            for k, o in self._candidates(match, event_time, partition, state)[0]
            if abs(int(o["t"]) - event_time) <= self.settings.window_ms
        ]
        if not nearby:
            return
        _, key, other = min(nearby, key=lambda item: item[0])
        observation["links"] = [*observation.get("links", []), other["id"]]
        other["links"] = [*other.get("links", []), observation["id"]]
        state.put(OBSERVATIONS, partition, key, orjson.dumps(other))

    def _joins(self, observation: Mapping[str, Any], mine: Mapping[str, Any], event_time: int) -> bool:
        if abs(event_time - int(observation["t"])) > self.settings.window_ms:
            return False
        if self.settings.require_distinct_reporters:
            reporters = {(p["department"], p["platform"]) for p in observation["provenance"]}
            return (mine["department"], mine["platform"]) not in reporters
        return True

    def deliverable(
        self, record: Mapping[str, Any], targets: Sequence[str], partition: int, state: BatchState, verdict: Verdict
    ) -> list[str]:
        """The targets that have not received this observation (or this correction) yet; stages them."""
        observation = verdict.observation
        declaration = record["event"]["error_declaration"]
        if declaration is None:
            received = observation["delivered"]
        else:
            received = observation["corrections"].setdefault(declaration["declaration_time"], [])
        fresh = [name for name in targets if name not in received]
        if fresh:
            received.extend(fresh)
            state.put(OBSERVATIONS, partition, verdict.observation_key, orjson.dumps(observation))
        return fresh
