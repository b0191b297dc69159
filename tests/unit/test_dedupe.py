"""Dedupe decisions on real (temporary) LMDB state: exact repeats, merges, corrections, once per subscriber."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.state.batch import OBSERVATIONS, SEEN, TABLES, BatchState
from streams.state.store import StateStore
from streams.steps.base import Emit
from streams.steps.dedupe import CORRECTION_OF_UNKNOWN, DedupeSettings, Deduplicator, movement_key
from streams.steps.validate import CaptureContext, validate_event

NOW = datetime(2026, 11, 28, tzinfo=UTC)
HOUR_MS = 3_600_000
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"tb": "urn:tracebus:ns:trace:"}]


def shipment(department: str, *, hours: float = 0, **changes: Any) -> dict[str, Any]:
    """A slaughterhouse's shipment of lot L1 to a market, as one department's platform reports it."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": (datetime(2026, 11, 20, 6, 30, tzinfo=UTC) + timedelta(hours=hours)).isoformat(),
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "quantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.012345.L1", "quantity": 420, "uom": "KGM"}],
        "tb:reportingDepartment": department,
        "tb:traceCode": "330109202611200042",
        "tb:sourceBusiness": {"tb:uscc": "91350200776049653A"},
        "tb:destinationBusiness": {"tb:uscc": "91440101MA5CJQ4N59"},
    }
    event.update(changes)
    return event


def record(event: dict[str, Any], reporter: str = "platform") -> dict[str, Any]:
    ctx = CaptureContext.of(reporter=reporter, capture_id="c", received_at_ms=1, context=CONTEXT)
    result = validate_event(copy.deepcopy(event), ctx, now=NOW, future_skew=timedelta(minutes=5))
    assert isinstance(result, Emit), result
    return result.value


@pytest.fixture
def store() -> Iterator[StateStore]:
    state = StateStore(None, TABLES)
    yield state
    state.close()


def commit(store: StateStore, batch: BatchState) -> None:
    store.write(list(batch.pending()))


def test_exact_repeat_is_a_duplicate_also_after_commit(store: StateStore) -> None:
    dedupe = Deduplicator(DedupeSettings(), ["a"])
    first, again = record(shipment("MOFCOM")), record(shipment("MOFCOM"))
    batch = BatchState(store)
    assert not dedupe.check(first, 0, batch, 10).duplicate
    assert dedupe.check(again, 0, batch, 11).duplicate  # within the batch
    commit(store, batch)
    assert dedupe.check(record(shipment("MOFCOM")), 0, BatchState(store), 12).duplicate  # across batches
    assert not dedupe.check(record(shipment("MOFCOM")), 1, BatchState(store), 12).duplicate  # state is per partition


def test_nothing_is_written_until_the_batch_commits(store: StateStore) -> None:
    dedupe = Deduplicator(DedupeSettings(), ["a"])
    batch = BatchState(store)
    dedupe.check(record(shipment("MOFCOM")), 0, batch, 10)
    assert store.count(SEEN) == 0
    assert len(batch) == 2  # seen + observation: at most two state writes per event
    commit(store, batch)
    assert store.count(SEEN) == 1
    assert store.count(OBSERVATIONS) == 1


def test_the_same_shipment_reported_by_two_departments_is_one_observation(store: StateStore) -> None:
    dedupe = Deduplicator(DedupeSettings(), ["a"])
    batch = BatchState(store)
    mofcom, mara = record(shipment("MOFCOM"), "MOFCOM"), record(shipment("MARA", hours=0.5), "MARA")
    assert mofcom["event_id"] != mara["event_id"]
    assert not dedupe.check(mofcom, 0, batch, 10).joined
    verdict = dedupe.check(mara, 0, batch, 11)
    assert verdict.joined
    assert not verdict.duplicate
    assert mara["observation_id"] == mofcom["event_id"]
    assert [p["department"] for p in mara["provenance"]] == ["MOFCOM", "MARA"]
    assert [p["event_id"] for p in mara["provenance"]] == [mofcom["event_id"], mara["event_id"]]
    assert mara["event_id"] != mara["observation_id"]  # a report keeps its own identity


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"bizStep": "receiving"}, "shipping and receiving are two observations"),
        ({"tb:destinationBusiness": {"tb:uscc": "91350200776049653A"}}, "another destination"),
        ({"tb:traceCode": "330109202611200099"}, "another trace key"),
        ({"hours": 30}, "outside the 24 h window"),
    ],
)
def test_near_misses_do_not_merge(store: StateStore, changes: dict[str, Any], why: str) -> None:
    dedupe = Deduplicator(DedupeSettings(), ["a"])
    batch = BatchState(store)
    hours = changes.pop("hours", 0.5)
    first = record(shipment("MOFCOM"))
    other = record(shipment("MARA", hours=hours, **changes))
    dedupe.check(first, 0, batch, 10)
    verdict = dedupe.check(other, 0, batch, 11)
    assert not verdict.joined, why
    assert other["observation_id"] == other["event_id"]


def test_narrowing_condition_keeps_one_departments_two_reports_apart(store: StateStore) -> None:
    dedupe = Deduplicator(DedupeSettings(require_distinct_reporters=True), ["a"])
    batch = BatchState(store)
    dedupe.check(record(shipment("MOFCOM")), 0, batch, 10)
    assert not dedupe.check(record(shipment("MOFCOM", hours=1)), 0, batch, 11).joined
    assert dedupe.check(record(shipment("MARA", hours=1)), 0, batch, 12).joined


def test_an_event_without_a_movement_is_its_own_observation(store: StateStore) -> None:
    plain = {k: v for k, v in shipment("MOFCOM").items() if "Business" not in k}
    rec = record(plain)
    assert movement_key(rec) is None
    Deduplicator(DedupeSettings(), ["a"]).check(rec, 0, BatchState(store), 10)
    assert rec["observation_id"] == rec["event_id"]
    assert len(rec["provenance"]) == 1


def test_each_subscription_receives_an_observation_once(store: StateStore) -> None:
    dedupe = Deduplicator(DedupeSettings(), ["a", "b"])
    batch = BatchState(store)
    mofcom, mara = record(shipment("MOFCOM")), record(shipment("MARA", hours=1))
    first = dedupe.check(mofcom, 0, batch, 10)
    assert dedupe.deliverable(mofcom, ["a"], 0, batch, first) == ["a"]
    commit(store, batch)  # the later report arrives in another batch
    batch = BatchState(store)
    later = dedupe.check(mara, 0, batch, 11)
    # "a" has the observation already; "b" matches only the later report and gets it now
    assert dedupe.deliverable(mara, ["a", "b"], 0, batch, later) == ["b"]
    assert dedupe.deliverable(mara, ["a", "b"], 0, batch, later) == []
    commit(store, batch)
    assert store.count(OBSERVATIONS) == 1  # one observation, whatever the number of subscriptions
    assert store.count(SEEN) == 2


def test_a_correction_reaches_everyone_who_had_the_original(store: StateStore) -> None:
    dedupe = Deduplicator(DedupeSettings(), ["a", "b", "c"])
    batch = BatchState(store)
    original = record(shipment("MOFCOM"))
    dedupe.deliverable(original, ["a", "b"], 0, batch, dedupe.check(original, 0, batch, 10))
    declaration = {"declarationTime": "2026-11-21T00:00:00+08:00", "reason": "incorrect_data"}
    correction = record(shipment("MOFCOM", errorDeclaration=declaration))
    assert correction["event_id"] == original["event_id"]  # CBV leaves errorDeclaration out of the hash
    verdict = dedupe.check(correction, 0, batch, 11)
    assert not verdict.duplicate
    assert verdict.correction_targets == {"a", "b"}
    assert correction["observation_id"] == original["event_id"]
    assert dedupe.deliverable(correction, ["a", "b", "c"], 0, batch, verdict) == ["a", "b", "c"]
    assert dedupe.check(record(shipment("MOFCOM", errorDeclaration=declaration)), 0, batch, 12).duplicate


def test_a_correction_of_an_unknown_event_is_routed_and_flagged(store: StateStore) -> None:
    declaration = {"declarationTime": "2026-11-21T00:00:00+08:00"}
    correction = record(shipment("MOFCOM", errorDeclaration=declaration))
    verdict = Deduplicator(DedupeSettings(), ["a"]).check(correction, 0, BatchState(store), 10)
    assert verdict.correction_targets == frozenset()
    assert CORRECTION_OF_UNKNOWN in correction["flags"]


def test_a_replayed_repeat_reaches_only_subscriptions_that_lack_it(store: StateStore) -> None:
    dedupe = Deduplicator(DedupeSettings(), ["a", "b"])
    batch = BatchState(store)
    original = record(shipment("MOFCOM"))
    dedupe.deliverable(original, ["a"], 0, batch, dedupe.check(original, 0, batch, 10))
    commit(store, batch)
    batch = BatchState(store)
    assert dedupe.check(record(shipment("MOFCOM")), 0, batch, 11).duplicate  # an ordinary repeat
    replayed = record(shipment("MOFCOM"))
    verdict = dedupe.check(replayed, 0, batch, 12, replay=True)
    assert not verdict.duplicate
    assert not verdict.joined
    assert replayed["observation_id"] == original["event_id"]
    assert dedupe.deliverable(replayed, ["a", "b"], 0, batch, verdict) == ["b"]  # "b" subscribed later


def test_shipment_and_receipt_are_two_observations_linked_both_ways(store: StateStore) -> None:
    dedupe = Deduplicator(DedupeSettings(), ["a"])
    batch = BatchState(store)
    shipped = record(shipment("MOFCOM"))
    dedupe.check(shipped, 0, batch, 10)
    assert shipped["linked_observations"] == []  # nothing at the other end yet
    received = record(shipment("MOFCOM", hours=3, bizStep="receiving"))
    verdict = dedupe.check(received, 0, batch, 11)
    assert not verdict.joined
    assert received["observation_id"] == received["event_id"]  # its own observation, delivered too
    assert received["linked_observations"] == [shipped["event_id"]]
    # a later report of the shipment (another department) carries the link the receipt made
    late = record(shipment("MARA", hours=1))
    assert dedupe.check(late, 0, batch, 12).joined
    assert late["linked_observations"] == [received["event_id"]]


def test_reports_arriving_out_of_order_across_platforms_still_find_their_observation(store: StateStore) -> None:
    """One platform exports a week at once, another later: each report must meet its own shipment."""
    dedupe = Deduplicator(DedupeSettings(), ["a"])
    days = (-192, -96, 0)  # three shipments of one trace code, four days apart
    natcm = [record(shipment("NATCM", hours=h), "NATCM") for h in days]
    nmpa = [record(shipment("NMPA", hours=h + 0.05), "NMPA") for h in days]
    batch = BatchState(store)
    for report in natcm:  # the whole of one platform's export first
        assert not dedupe.check(report, 0, batch, 10).joined
    commit(store, batch)
    batch = BatchState(store)
    for report, counterpart in zip(reversed(nmpa), reversed(natcm), strict=True):  # then the other's, newest first
        assert dedupe.check(report, 0, batch, 11).joined
        assert report["observation_id"] == counterpart["event_id"]
    commit(store, batch)
    assert store.count(OBSERVATIONS) == 3


def test_two_observations_in_one_time_bucket_keep_separate_slots(store: StateStore) -> None:
    dedupe = Deduplicator(DedupeSettings(require_distinct_reporters=True), ["a"])
    batch = BatchState(store)
    first, second = record(shipment("MOFCOM")), record(shipment("MOFCOM", hours=1))
    dedupe.check(first, 0, batch, 10)
    dedupe.check(second, 0, batch, 11)  # the same department again: its own observation (narrowing)
    assert second["observation_id"] == second["event_id"]
    late = record(shipment("MARA", hours=1.1), "MARA")
    assert dedupe.check(late, 0, batch, 12).joined
    assert late["observation_id"] == second["event_id"], "the nearest observation in time is joined"
    commit(store, batch)
    assert store.count(OBSERVATIONS) == 2
