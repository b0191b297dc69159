"""The parking lot of a sink: which keys have events waiting on the retry topic, and what a retry pass does.

Pure bookkeeping and decisions, no Kafka: :mod:`streams.sinks` (the main lane)
and :mod:`streams.retry_lane` (the retry lane) do the reading, writing and
committing around it, and the unit tests drive it alone.

Identity of a parked event: its *origin offset*, the offset of the record on
``deliver.<subscription>``. The retry topic has as many partitions as the
delivery topic and a record is parked on the partition of the same index, so
(partition, origin offset) names one delivery-topic record for good. It
serves twice:

* as a set member: an event parked twice (an at-least-once repeat of a park
  whose commit was lost) is one member, released once; it cannot pin its key;
* as the event's place in its key's order: offsets on one partition grow, so
  "an earlier event of this key is still parked" is "the key's set holds a
  smaller origin offset". Re-parking appends a record to the end of the retry
  topic, behind later events of its key; this rule, not the position on the
  retry topic, keeps them behind it.

A delivery id would not do as the identity: a correction reuses its
observation's id, and two records with one id would be one member.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

PREFIX = "tracebus.retry."
ORIGIN_HEADER = PREFIX + "origin-offset"
ATTEMPT_HEADER = PREFIX + "attempt"
NOT_BEFORE_HEADER = PREFIX + "not-before"
REASON_HEADER = PREFIX + "reason"
HELD_BEHIND_HEADER = PREFIX + "held-behind"
HELD_BEHIND = "held-behind"
Key = bytes | None


class RetryPolicy:
    """Exponential backoff: ``initial_s`` after the first failure, doubling, at most ``max_s``."""

    def __init__(self, *, max_attempts: int, initial_s: float, max_s: float) -> None:
        self.max_attempts = max_attempts
        self.initial_s = initial_s
        self.max_s = max_s

    def pause(self, attempt: int) -> float:
        """Pause after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_s, self.initial_s * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class ParkInfo:
    """Why and until when an event is parked: the ``tracebus.retry.*`` headers of its retry-topic record."""

    origin: int
    attempt: int
    """Attempts made from the retry topic so far (in-line attempts not counted)."""
    not_before_ms: int
    reason: str
    held_behind: bool = False

    def headers(self, original: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """``original`` without earlier retry headers, then this park's."""
        own = [
            (ORIGIN_HEADER, str(self.origin).encode()),
            (ATTEMPT_HEADER, str(self.attempt).encode()),
            (NOT_BEFORE_HEADER, str(self.not_before_ms).encode()),
            (REASON_HEADER, self.reason[:500].encode()),
        ]
        if self.held_behind:
            own.append((HELD_BEHIND_HEADER, b"1"))
        return [*strip_headers(original), *own]


def strip_headers(headers: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in headers if not k.startswith(PREFIX)]


def read_park(headers: Iterable[tuple[str, bytes]]) -> ParkInfo | None:
    """The park of a retry-topic record, None when its headers do not describe one."""
    found = {k: v for k, v in headers if k.startswith(PREFIX)}
    try:
        return ParkInfo(
            origin=int(found[ORIGIN_HEADER]),
            attempt=int(found.get(ATTEMPT_HEADER, b"0")),
            not_before_ms=int(found.get(NOT_BEFORE_HEADER, b"0")),
            reason=found.get(REASON_HEADER, b"").decode(errors="replace"),
            held_behind=HELD_BEHIND_HEADER in found,
        )
    except (KeyError, ValueError):
        return None


class ParkingLot:
    """Per partition and key, the origin offsets of the events parked on the retry topic.

    A key is parked while its set is not empty. Members are added when an
    event is parked (before its retry-topic record is produced, so the retry
    lane can never read a record its lot does not know yet), or when the lot
    is rebuilt from the retry topic; they are removed only when the event was
    delivered or dead-lettered. ``released`` remembers the last origin offsets
    released per partition, to recognise a repeat of a finished event.
    """

    def __init__(self, *, remember_released: int = 10_000) -> None:
        self._parked: dict[tuple[int, Key], set[int]] = {}
        self._released: dict[int, OrderedDict[int, None]] = {}
        self._remember = remember_released

    def park(self, partition: int, key: Key, origin: int) -> None:
        self._parked.setdefault((partition, key), set()).add(origin)

    def release(self, partition: int, key: Key, origin: int) -> None:
        members = self._parked.get((partition, key))
        if members is not None:
            members.discard(origin)
            if not members:
                del self._parked[(partition, key)]
        released = self._released.setdefault(partition, OrderedDict())
        released[origin] = None
        released.move_to_end(origin)
        while len(released) > self._remember:
            released.popitem(last=False)

    def is_parked(self, partition: int, key: Key) -> bool:
        return (partition, key) in self._parked

    def holds(self, partition: int, key: Key, origin: int) -> bool:
        return origin in self._parked.get((partition, key), ())

    def earlier(self, partition: int, key: Key, origin: int) -> set[int]:
        """Parked origin offsets of ``key`` before ``origin``: the events that must be delivered first."""
        return {o for o in self._parked.get((partition, key), ()) if o < origin}

    def was_released(self, partition: int, origin: int) -> bool:
        return origin in self._released.get(partition, ())

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop what is known of ``partitions`` (revoked: another worker rebuilds it from the topic)."""
        dropped = set(partitions)
        for slot in [slot for slot in self._parked if slot[0] in dropped]:
            del self._parked[slot]
        for partition in dropped:
            self._released.pop(partition, None)

    def parked_keys(self) -> int:
        return len(self._parked)

    def parked_events(self) -> int:
        return sum(len(members) for members in self._parked.values())


def hold_behind(lot: ParkingLot, partition: int, items: Sequence[tuple[Key, int]]) -> list[bool]:
    """Main lane: which of a batch's (key, origin offset) must be parked untried, behind their key.

    A held event joins the lot at once, so its key stays parked even if the
    retry lane releases the key's earlier events meanwhile.
    """
    held = []
    for key, origin in items:
        hold = lot.is_parked(partition, key)
        if hold:
            lot.park(partition, key, origin)
        held.append(hold)
    return held


class Verdict(enum.Enum):
    TRY = "try"
    HOLD = "hold"  # an earlier event of its key is parked and not in this pass: re-park behind it, untried
    SKIP = "skip"  # a repeat of an event already delivered, dead-lettered, or already in this pass


@dataclass(frozen=True, slots=True)
class Parked:
    """One record read from the retry topic (``headers`` are the original ones, retry headers stripped)."""

    partition: int
    offset: int
    key: Key
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    info: ParkInfo


def plan_pass(lot: ParkingLot, records: Sequence[Parked]) -> list[Verdict]:
    """Retry lane: the verdict on each record of a pass (consecutive due records of one partition, in order).

    An event is tried when every earlier parked event of its key is tried in
    this pass too (its key's group is written in order, all or nothing), held
    otherwise. A record the lot does not hold joins it, unless it repeats an
    event already released: a record that comes from a park the lot missed
    (say, written late by a worker that lost the partition) is still delivered.
    """
    trying: dict[Key, set[int]] = {}
    seen: set[int] = set()
    verdicts: list[Verdict] = []
    for record in records:
        partition, key, origin = record.partition, record.key, record.info.origin
        repeat = lot.was_released(partition, origin) and not lot.holds(partition, key, origin)
        if origin in seen or repeat:
            verdicts.append(Verdict.SKIP)
            continue
        seen.add(origin)
        lot.park(partition, key, origin)
        group = trying.setdefault(key, set())
        if lot.earlier(partition, key, origin) <= group:
            group.add(origin)
            verdicts.append(Verdict.TRY)
        else:
            verdicts.append(Verdict.HOLD)
    return verdicts


def key_groups(records: Sequence[Parked], verdicts: Sequence[Verdict]) -> dict[Key, list[Parked]]:
    """The records to try, per key, in order: each group is one write, so one key's failure spares the others."""
    groups: dict[Key, list[Parked]] = {}
    for record, verdict in zip(records, verdicts, strict=True):
        if verdict is Verdict.TRY:
            groups.setdefault(record.key, []).append(record)
    return groups


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the write of one key group went: ``ok``, ``rejected`` (final) or ``failed`` (retriable)."""

    kind: str
    reason: str = ""
    message: str = ""
    error_class: str = ""


@dataclass(frozen=True, slots=True)
class Letter:
    record: Parked
    reason: str
    message: str
    error_class: str


@dataclass(slots=True)
class Settlement:
    """What a pass leaves to do, in the pass's order: re-park, dead-letter, then release."""

    repark: list[tuple[Parked, ParkInfo]] = field(default_factory=list)
    letters: list[Letter] = field(default_factory=list)
    release: list[Parked] = field(default_factory=list)


def settle(
    records: Sequence[Parked],
    verdicts: Sequence[Verdict],
    outcomes: Mapping[Key, Outcome],
    policy: RetryPolicy,
    now_ms: int,
    hold_pause_ms: int,
) -> Settlement:
    """Turn a pass's write outcomes into re-parks, dead letters and releases.

    A held record is re-parked with its attempts unchanged and a short
    ``hold_pause_ms``, so a key whose earlier event is not on the topic yet
    (its park still in flight) cannot make the lane spin.
    """
    done = Settlement()
    for record, verdict in zip(records, verdicts, strict=True):
        info = record.info
        if verdict is Verdict.SKIP:
            continue
        if verdict is Verdict.HOLD:
            held = ParkInfo(info.origin, info.attempt, now_ms + hold_pause_ms, HELD_BEHIND, held_behind=True)
            done.repark.append((record, held))
            continue
        outcome = outcomes[record.key]
        if outcome.kind == "ok":
            done.release.append(record)
        elif outcome.kind == "rejected":
            done.letters.append(Letter(record, outcome.reason, outcome.message, outcome.error_class))
            done.release.append(record)
        else:
            attempt = info.attempt + 1
            if attempt >= policy.max_attempts:
                message = f"after {attempt} attempts from the retry topic: {outcome.message}"
                done.letters.append(Letter(record, "retries-exhausted", message, outcome.error_class))
                done.release.append(record)
            else:
                # the park after the in-line attempts waited pause(1): this is the (attempt + 1)-th wait
                not_before = now_ms + int(policy.pause(attempt + 1) * 1000)
                done.repark.append((record, ParkInfo(info.origin, attempt, not_before, outcome.message)))
    return done
