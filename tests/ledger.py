"""The ledger test's generator: canonical records in a fixed arrival order, each with the outcome it must have.

Records are built as ``ops/bench_pipeline.generate`` builds them: one template
validated once, then cheap copies with their own identity, trace key,
department, region, business step, destination and event time. The
identities are synthetic (the router never recomputes a hash), unique per
generated record.

Records come in *groups* that share one trace key (so they meet on one
partition, in arrival order). Each group follows one pattern:

* ``single``: one report: its own observation, delivered to every matching subscriber;
* ``dup``: a report and, later, the very same record again: the repeat is dropped as a duplicate;
* ``cross``: a report and a report of the same movement by another department (same trace key, business
  step, source and destination, event time within the 24 h window, before or after): the second is merged
  into the first's observation; ``cross3`` has a third department's report too; ``cross-dup`` repeats the
  merged report exactly (dropped);
* near misses that must not merge, each another department's report of the same trace key that differs in
  one respect: ``near-step`` (receiving, not shipping), ``near-dest`` (another destination business),
  ``near-window`` (25 h later) and ``near-window-back`` (25 h earlier): each is an observation of its own;
* ``invalid``: bytes the router cannot decode (no Confluent header, a 4-byte record, a truncated Avro body,
  an unknown schema id): dead-lettered, stage ``decode``, reason ``undecodable``.

A group's later records arrive a few groups later (interleaved with other
groups' records), so merges and repeats span batches and crashes.

Who must receive what is computed here from the generator's own knowledge of
the subscription filters: :data:`PREDICATES` mirrors :data:`FILTERS` by hand
(a subscriber receives an observation once, when the first of its reports
matches; a ``departments`` filter sees the reporting department and every
department of the observation's reports so far; a ``regions`` filter with
``330000`` contains every ``33xxxx`` code), not by calling the router.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from schemas.codec import TopicSerializer
from streams.testing import MARKET, movement_record

INPUT_HEADER: Final = "ledger-input"
"""Header carrying each input's arrival index: dead letters keep the original headers."""

DELIVERED: Final = "delivered"  # the first report of an observation
DUPLICATE: Final = "duplicate"
MERGED: Final = "merged"
NEAR_MISS: Final = "near-miss"  # an observation of its own, though it resembles another
DEAD_LETTER: Final = "dead-lettered"
OUTCOMES: Final = (DELIVERED, DUPLICATE, MERGED, NEAR_MISS, DEAD_LETTER)

COOPERATIVE: Final = "93330109MA2B00027Q"
DEPARTMENTS: Final = ("MOFCOM", "MARA", "SAMR", "GACC")
REGIONS: Final = ("330109", "440106", "330102", "110105")
HOUR_MS: Final = 3_600_000
BASE_TIME_MS: Final = int(datetime(2026, 10, 1, 8, 0, tzinfo=UTC).timestamp() * 1000)
CHINA: Final = timezone(timedelta(hours=8))

# The subscriptions of the test (webhook URLs are added by the test) and, by hand, what each filter means.
FILTERS: Final[Mapping[str, Mapping[str, list[str]]]] = {
    "all": {},
    "mara": {"departments": ["MARA"]},
    "zhejiang": {"regions": ["330000"]},
    "nobody": {"departments": ["NATCM"]},  # no generated record is NATCM's: must receive nothing
}


@dataclass(frozen=True, slots=True)
class Report:
    event_id: str
    department: str
    region: str


Predicate = Callable[[Report, frozenset[str]], bool]
"""(the report, departments of the observation's reports up to this one) → does the filter match it."""
PREDICATES: Final[Mapping[str, Predicate]] = {
    "all": lambda report, departments: True,
    "mara": lambda report, departments: "MARA" in departments,
    "zhejiang": lambda report, departments: report.region.startswith("33"),
    "nobody": lambda report, departments: "NATCM" in departments,
}

# group patterns, cycled in this order (20 groups, 33 inputs per cycle)
PATTERNS: Final = (
    *("single",) * 8,
    "dup",
    "dup",
    "cross",
    "cross",
    "cross-back",
    "cross3",
    "cross-dup",
    "near-step",
    "near-dest",
    "near-window",
    "near-window-back",
    "invalid",
)
INVALID_KINDS: Final = ("no-header", "short", "truncated")
UNKNOWN_SCHEMA_EVERY: Final = 100
"""One invalid record in this many names an unknown schema id (each costs the router a registry re-read)."""


@dataclass(frozen=True, slots=True)
class Expected:
    outcome: str
    event_id: str | None = None
    observation_id: str | None = None
    stage: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class Ledger:
    messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = field(default_factory=list)
    """(key, value, headers) in arrival order: index i is input i."""
    expected: list[Expected] = field(default_factory=list)
    delivered: dict[str, set[str]] = field(default_factory=dict)
    """subscriber → the observation identities it must receive (each at least once)."""
    merges: dict[str, str] = field(default_factory=dict)
    """event identity of each merged report → the observation it joins."""
    provenance: dict[str, list[str]] = field(default_factory=dict)
    """event identity of each merged report → identities of the observation's reports so far, in order."""
    dead_letters: dict[int, tuple[str, str]] = field(default_factory=dict)
    """input index → (stage, reason)."""
    duplicated_observations: set[str] = field(default_factory=set)
    """observations with an exact repeat among the inputs."""

    def counts(self) -> Counter[str]:
        return Counter(e.outcome for e in self.expected)


def template() -> dict[str, Any]:
    """One shipment from the slaughterhouse to the market, validated once like a capture would."""
    return movement_record(event_time="2026-10-01T16:00:00.000+08:00", trace_code="L0", reporter="ledger")


class _Builder:
    def __init__(self, serializer: TopicSerializer, tag: str) -> None:
        self._serializer = serializer
        self._template = template()
        self._tag = tag
        self._serial = 0

    def identity(self) -> str:
        self._serial += 1
        digest = hashlib.sha256(f"ledger/{self._tag}/{self._serial}".encode()).hexdigest()
        return f"ni:///sha-256;{digest}?ver=CBV2.0"

    def record(
        self,
        group: int,
        *,
        department: str,
        region: str,
        time_ms: int,
        step: str = "shipping",
        destination: str = MARKET,
    ) -> tuple[Report, bytes, bytes]:
        base = self._template
        event = {
            **base["event"],
            "biz_step": step,
            "event_time_ms": time_ms,
            "event_time": datetime.fromtimestamp(time_ms / 1000, CHINA).isoformat(timespec="milliseconds"),
        }
        trace = {
            **base["trace"],
            "reporting_department": department,
            "region_code": region,
            "trace_code": f"L{group}",
            "destination_business": {"name": None, "uscc": destination},
        }
        event_id = self.identity()
        key = f"trace:L{group}"
        record = {**base, "event_id": event_id, "trace_key": key, "event": event, "trace": trace}
        return Report(event_id, department, region), key.encode(), self._serializer.serialize(record)

    def invalid(self, number: int) -> bytes:
        kind = INVALID_KINDS[number % len(INVALID_KINDS)]
        if number % UNKNOWN_SCHEMA_EVERY == UNKNOWN_SCHEMA_EVERY - 1:
            kind = "unknown-schema"
        if kind == "no-header":
            return b"\x01not Confluent-framed Avro: " + str(number).encode()
        if kind == "short":
            return b"\x00" + number.to_bytes(3, "big")  # shorter than the 5-byte header
        if kind == "truncated":
            _, _, value = self.record(0, department="SAMR", region="330109", time_ms=BASE_TIME_MS)
            return value[:12] + number.to_bytes(4, "big")
        return b"\x00\x7f\x7f\x7f\x7f" + str(number).encode()  # a schema id no registry knows


class _Observation:
    def __init__(self, first: Report) -> None:
        self.id = first.event_id
        self.reports = [first]
        self.departments = {first.department}
        self.receivers = self._matching(first)

    def _matching(self, report: Report) -> set[str]:
        departments = frozenset(self.departments)
        return {name for name, matches in PREDICATES.items() if matches(report, departments)}

    def join(self, report: Report) -> None:
        self.reports.append(report)
        self.departments.add(report.department)
        self.receivers |= self._matching(report)


def generate(serializer: TopicSerializer, inputs: int, *, tag: str = "run") -> Ledger:
    """At least ``inputs`` inputs, in a fixed arrival order, with every expected outcome."""
    build = _Builder(serializer, tag)
    ledger = Ledger(delivered={name: set() for name in FILTERS})
    observations: list[_Observation] = []
    later: dict[int, list[tuple[bytes, bytes, Expected]]] = {}
    invalid_count = 0

    def emit(key: bytes, value: bytes, expected: Expected) -> None:
        index = len(ledger.messages)
        ledger.messages.append((key, value, [(INPUT_HEADER, str(index).encode())]))
        ledger.expected.append(expected)
        if expected.outcome == DEAD_LETTER:
            assert expected.stage is not None
            assert expected.reason is not None
            ledger.dead_letters[index] = (expected.stage, expected.reason)

    def defer(group: int, delay: int, key: bytes, value: bytes, expected: Expected) -> None:
        later.setdefault(group + delay, []).append((key, value, expected))

    group = 0
    while len(ledger.messages) + sum(len(v) for v in later.values()) < inputs:
        pattern = PATTERNS[group % len(PATTERNS)]
        department = DEPARTMENTS[group % len(DEPARTMENTS)]
        other = DEPARTMENTS[(group + 1 + (group // len(PATTERNS)) % 3) % len(DEPARTMENTS)]
        third = next(d for d in DEPARTMENTS if d not in (department, other))
        region = REGIONS[(group // 4) % len(REGIONS)]
        other_region = REGIONS[(group // 3 + 1) % len(REGIONS)]
        time_ms = BASE_TIME_MS + (group % 1000) * 60_000
        if pattern == "invalid":
            emit(f"invalid:{invalid_count}".encode(), build.invalid(invalid_count), _dead("decode", "undecodable"))
            invalid_count += 1
        else:
            first, key, value = build.record(group, department=department, region=region, time_ms=time_ms)
            observation = _Observation(first)
            observations.append(observation)
            emit(key, value, Expected(DELIVERED, first.event_id, first.event_id))
            if pattern == "dup":
                defer(group, 9, key, value, Expected(DUPLICATE, first.event_id, first.event_id))
                ledger.duplicated_observations.add(first.event_id)
            elif pattern.startswith("cross"):
                shift = -2 * HOUR_MS if pattern == "cross-back" else 23 * HOUR_MS if group % 40 == 10 else HOUR_MS // 2
                follow_ups = [(other, other_region, shift, 5)]
                if pattern == "cross3":
                    follow_ups.append((third, region, -HOUR_MS, 11))
                for reporter, where, offset, delay in follow_ups:
                    report, _, merged = build.record(group, department=reporter, region=where, time_ms=time_ms + offset)
                    observation.join(report)
                    ledger.merges[report.event_id] = observation.id
                    ledger.provenance[report.event_id] = [r.event_id for r in observation.reports]
                    defer(group, delay, key, merged, Expected(MERGED, report.event_id, observation.id))
                    if pattern == "cross-dup":
                        defer(group, delay + 4, key, merged, Expected(DUPLICATE, report.event_id, observation.id))
                        ledger.duplicated_observations.add(observation.id)
            elif pattern.startswith("near"):
                options: dict[str, Any] = {"department": other, "region": other_region, "time_ms": time_ms}
                if pattern == "near-step":
                    options["step"] = "receiving"
                elif pattern == "near-dest":
                    options["destination"] = COOPERATIVE
                else:
                    options["time_ms"] = time_ms + (25 if pattern == "near-window" else -25) * HOUR_MS
                report, _, value = build.record(group, **options)
                observations.append(_Observation(report))
                defer(group, 7, key, value, Expected(NEAR_MISS, report.event_id, report.event_id))
        for deferred in later.pop(group, []):
            emit(*deferred)
        group += 1
    for due in sorted(later):
        for deferred in later[due]:
            emit(*deferred)
    for observation in observations:
        for name in observation.receivers:
            ledger.delivered[name].add(observation.id)
    return ledger


def _dead(stage: str, reason: str) -> Expected:
    return Expected(DEAD_LETTER, stage=stage, reason=reason)
