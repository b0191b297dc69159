"""streams.parking: the parking lot, its headers, and retry passes — alone, then simulated end to end without Kafka."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from streams.parking import (
    ATTEMPT_HEADER,
    HELD_BEHIND,
    HELD_BEHIND_HEADER,
    NOT_BEFORE_HEADER,
    ORIGIN_HEADER,
    REASON_HEADER,
    Key,
    Outcome,
    Parked,
    ParkInfo,
    ParkingLot,
    RetryPolicy,
    Verdict,
    hold_behind,
    key_groups,
    plan_pass,
    read_park,
    settle,
)

POLICY = RetryPolicy(max_attempts=3, initial_s=1.0, max_s=3.0)


def parked(key: Key, origin: int, *, attempt: int = 0, offset: int = 0, not_before_ms: int = 0) -> Parked:
    return Parked(0, offset, key, b"v%d" % origin, (("h", b"1"),), ParkInfo(origin, attempt, not_before_ms, "x"))


def test_park_headers_round_trip_and_replace_earlier_ones() -> None:
    info = ParkInfo(origin=41, attempt=2, not_before_ms=1_700_000_000_123, reason="HTTP 503", held_behind=True)
    earlier = ParkInfo(origin=41, attempt=1, not_before_ms=5, reason="old").headers([("ledger-input", b"7")])
    headers = info.headers(earlier)
    assert headers == [
        ("ledger-input", b"7"),
        (ORIGIN_HEADER, b"41"),
        (ATTEMPT_HEADER, b"2"),
        (NOT_BEFORE_HEADER, b"1700000000123"),
        (REASON_HEADER, b"HTTP 503"),
        (HELD_BEHIND_HEADER, b"1"),
    ]
    assert read_park(headers) == info
    assert read_park(ParkInfo(3, 0, 0, "r").headers([])) == ParkInfo(3, 0, 0, "r", held_behind=False)


@pytest.mark.parametrize(
    "headers", [[], [("ledger-input", b"1")], [(ORIGIN_HEADER, b"x")], [(ORIGIN_HEADER, b"1"), (ATTEMPT_HEADER, b"?")]]
)
def test_headers_that_describe_no_park_read_as_none(headers: list[tuple[str, bytes]]) -> None:
    assert read_park(headers) is None


def test_a_repeated_park_is_one_member_released_once() -> None:
    lot = ParkingLot()
    lot.park(0, b"k", 5)
    lot.park(0, b"k", 5)  # the same event parked twice (a lost commit)
    lot.park(0, b"k", 9)
    assert lot.earlier(0, b"k", 9) == {5}
    lot.release(0, b"k", 5)
    assert lot.is_parked(0, b"k")
    lot.release(0, b"k", 9)
    assert not lot.is_parked(0, b"k")
    assert lot.parked_keys() == 0
    assert lot.was_released(0, 5)
    assert not lot.was_released(1, 5), "offsets are per partition"


def test_keys_are_per_partition_and_forget_drops_partitions() -> None:
    lot = ParkingLot()
    lot.park(0, b"k", 1)
    lot.park(1, b"k", 1)
    lot.park(1, None, 2)
    lot.release(1, b"k", 1)
    lot.forget([1])
    assert lot.is_parked(0, b"k")
    assert not lot.is_parked(1, None)
    assert not lot.was_released(1, 1)
    assert (lot.parked_keys(), lot.parked_events()) == (1, 1)


def test_released_memory_is_bounded() -> None:
    lot = ParkingLot(remember_released=2)
    for origin in (1, 2, 3):
        lot.release(0, b"k", origin)
    assert [lot.was_released(0, o) for o in (1, 2, 3)] == [False, True, True]


def test_main_lane_holds_only_parked_keys_and_parks_what_it_holds() -> None:
    lot = ParkingLot()
    lot.park(0, b"a", 3)
    held = hold_behind(lot, 0, [(b"a", 10), (b"b", 11), (b"a", 12), (None, 13)])
    assert held == [True, False, True, False]
    assert lot.earlier(0, b"a", 99) == {3, 10, 12}
    lot.release(0, b"a", 3)
    assert lot.is_parked(0, b"a"), "held events keep their key parked after the head is released"


def test_a_pass_tries_heads_and_their_followers_and_holds_what_waits_on_another_pass() -> None:
    lot = ParkingLot()
    for key, origin in [(b"a", 1), (b"a", 2), (b"b", 3), (b"b", 7), (b"c", 5)]:
        lot.park(0, key, origin)
    # b's head (3) was re-parked further down the topic: 7 comes first and must wait
    records = [parked(b"a", 1), parked(b"a", 2), parked(b"b", 7), parked(b"c", 5), parked(b"a", 2)]
    verdicts = plan_pass(lot, records)
    assert verdicts == [Verdict.TRY, Verdict.TRY, Verdict.HOLD, Verdict.TRY, Verdict.SKIP]
    assert {k: [r.info.origin for r in g] for k, g in key_groups(records, verdicts).items()} == {
        b"a": [1, 2],
        b"c": [5],
    }


def test_a_pass_skips_repeats_of_finished_events_and_adopts_unknown_ones() -> None:
    lot = ParkingLot()
    lot.park(0, b"a", 1)
    lot.release(0, b"a", 1)
    verdicts = plan_pass(lot, [parked(b"a", 1), parked(b"z", 4)])
    assert verdicts == [Verdict.SKIP, Verdict.TRY]
    assert lot.holds(0, b"z", 4), "a park the lot did not know joins it"
    lot.park(0, b"a", 1)  # parked again (the main lane re-read it): a copy is no repeat any more
    assert plan_pass(lot, [parked(b"a", 1)]) == [Verdict.TRY]


def test_settle_releases_reparks_with_growing_bounded_backoff_and_dead_letters_at_the_limit() -> None:
    records = [
        parked(b"ok", 1),
        parked(b"fail", 2, attempt=0),
        parked(b"fail", 3, attempt=1),
        parked(b"fail", 4, attempt=2),
        parked(b"held", 5, attempt=1),
        parked(b"no", 6),
        parked(b"ok", 1),
    ]
    verdicts = [Verdict.TRY] * 4 + [Verdict.HOLD, Verdict.TRY, Verdict.SKIP]
    outcomes: dict[Key, Outcome] = {
        b"ok": Outcome("ok"),
        b"fail": Outcome("failed", message="RetriableSinkError: 503", error_class="RetriableSinkError"),
        b"no": Outcome("rejected", "http-400", "400", "SinkRejectedError"),
    }
    done = settle(records, verdicts, outcomes, POLICY, now_ms=10_000, hold_pause_ms=250)
    assert [(r.info.origin, info) for r, info in done.repark] == [
        (2, ParkInfo(2, 1, 12_000, "RetriableSinkError: 503")),  # second wait: 2 s
        (3, ParkInfo(3, 2, 13_000, "RetriableSinkError: 503")),  # third: 4 s, bounded at 3 s
        (5, ParkInfo(5, 1, 10_250, HELD_BEHIND, held_behind=True)),  # untried: attempts unchanged
    ]
    assert [(x.record.info.origin, x.reason) for x in done.letters] == [(4, "retries-exhausted"), (6, "http-400")]
    assert "after 3 attempts" in done.letters[0].message
    assert [r.info.origin for r in done.release] == [1, 4, 6]


# --- both lanes, simulated on one partition: a list is the retry topic, a function the receiver ---


@dataclass
class Simulation:
    """The main lane and the retry lane as SinkRunner and RetryLane drive the pure parts, minus Kafka."""

    accepts: Callable[[Sequence[tuple[Key, int]]], bool]
    policy: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=4, initial_s=1.0, max_s=4.0))
    lot: ParkingLot = field(default_factory=ParkingLot)
    topic: list[Parked] = field(default_factory=list)
    position: int = 0
    now_ms: int = 0
    requests: list[tuple[list[tuple[Key, int]], bool]] = field(default_factory=list)
    dead: list[tuple[Key, int]] = field(default_factory=list)

    def write(self, events: list[tuple[Key, int]]) -> bool:
        ok = self.accepts(events)
        self.requests.append((events, ok))
        return ok

    def append(self, key: Key, info: ParkInfo) -> None:
        self.topic.append(Parked(0, len(self.topic), key, b"", (), info))

    def main_batch(self, events: list[tuple[Key, int]]) -> None:
        held = hold_behind(self.lot, 0, events)
        parks = [
            (k, ParkInfo(o, 0, 0, HELD_BEHIND, held_behind=True)) for (k, o), h in zip(events, held, strict=True) if h
        ]
        to_write = [e for e, h in zip(events, held, strict=True) if not h]
        if to_write and not self.write(to_write):
            for k, o in to_write:
                self.lot.park(0, k, o)
                parks.append((k, ParkInfo(o, 0, self.now_ms + 1000, "failed")))
        for key, info in sorted(parks, key=lambda p: p[1].origin):
            self.append(key, info)

    def retry_pass(self, max_batch: int) -> None:
        due: list[Parked] = []
        for record in self.topic[self.position :]:
            if len(due) >= max_batch or record.info.not_before_ms > self.now_ms:
                break
            due.append(record)
        verdicts = plan_pass(self.lot, due)
        outcomes = {
            key: Outcome("ok") if self.write([(r.key, r.info.origin) for r in group]) else Outcome("failed")
            for key, group in key_groups(due, verdicts).items()
        }
        done = settle(due, verdicts, outcomes, self.policy, self.now_ms, 250)
        for record, info in done.repark:
            self.append(record.key, info)
        self.dead.extend((x.record.key, x.record.info.origin) for x in done.letters)
        for record in done.release:
            self.lot.release(0, record.key, record.info.origin)
        self.position += len(due)

    def first_accepted(self) -> list[tuple[Key, int]]:
        seen: dict[tuple[Key, int], None] = {}
        for events, ok in self.requests:
            if ok:
                for event in events:
                    seen.setdefault(event, None)
        return list(seen)


def _in_key_order(events: list[tuple[Key, int]]) -> bool:
    last: dict[Key, int] = {}
    for key, origin in events:
        if origin <= last.get(key, -1):
            return False
        last[key] = origin
    return True


def test_a_failing_key_is_held_back_alone_and_delivered_in_order() -> None:
    failures = {"x": 3}  # the main lane's attempt and two from the retry topic (of 4)

    def accepts(events: Sequence[tuple[Key, int]]) -> bool:
        if any(k == b"x" for k, _ in events) and failures["x"] > 0:
            failures["x"] -= 1
            return False
        return True

    sim = Simulation(accepts)
    origin = 0
    for round_ in range(12):
        batch: list[tuple[Key, int]] = []
        for key in (b"x", b"y", b"z"):
            batch.append((key, origin))
            origin += 1
        if round_ == 0:
            sim.main_batch(batch)  # x fails with y and z in one batch: all three parked
        else:
            for event in batch:
                sim.main_batch([event])  # one batch per key, as partitions would
        sim.now_ms += 700
        sim.retry_pass(max_batch=3)
    while sim.position < len(sim.topic):
        sim.now_ms += 500
        sim.retry_pass(max_batch=3)
    delivered = sim.first_accepted()
    assert sorted(o for _, o in delivered) == list(range(origin)), "every event delivered"
    assert _in_key_order(delivered)
    assert not sim.dead
    assert sim.lot.parked_keys() == 0
    # after the first batch, x's failures never took y or z along: each of their events was sent once
    tried_later = [e for events, _ in sim.requests for e in events if e[0] != b"x" and e[1] >= 3]
    assert len(tried_later) == len(set(tried_later))


@pytest.mark.parametrize("seed", range(25))
def test_random_failures_and_repeated_parks_keep_key_order_and_lose_nothing(seed: int) -> None:
    rng = random.Random(seed)
    keys = [b"a", b"b", b"c", None]

    def accepts(events: Sequence[tuple[Key, int]]) -> bool:
        return rng.random() > 0.4

    sim = Simulation(accepts)
    origin = 0
    for _ in range(60):
        events = []
        for _ in range(rng.randint(1, 4)):
            events.append((rng.choice(keys), origin))
            origin += 1
        sim.main_batch(events)
        if sim.position < len(sim.topic) and rng.random() < 0.15:  # a park written twice: its commit was lost
            copy = sim.topic[rng.randrange(sim.position, len(sim.topic))]
            sim.append(copy.key, copy.info)
        sim.now_ms += rng.randint(0, 1500)
        sim.retry_pass(max_batch=rng.randint(1, 5))
    for _ in range(10_000):
        if sim.position >= len(sim.topic):
            break
        sim.now_ms += 1000
        sim.retry_pass(max_batch=5)
    assert sim.position == len(sim.topic), "the retry topic drains"
    delivered = sim.first_accepted()
    dead = set(sim.dead)
    assert {o for _, o in delivered} | {o for _, o in dead} == set(range(origin)), "each event delivered or lettered"
    assert _in_key_order([e for e in delivered if e not in dead])
    assert sim.lot.parked_keys() == 0, "no key stays pinned"
