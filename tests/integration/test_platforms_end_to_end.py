"""All seven platforms' sample files through the bus, end to end, checked against the generator's world.

The committed exports of ``ops/samples/platforms/<dept>/`` are dropped into the
seven platform sources of one bus. Subscribers: a PostgreSQL archive of
everything (a ``postgres-sink`` connector on its delivery topic), webhook
subscribers by department (MOFCOM, NMPA, MARA) and by region (Hangzhou
3301xx, Pan'an 330727). Expectations come from :mod:`ops.sampledata.world`
and the shipped ``expected-merges.csv`` — never from the bus's own counters:

* counts per platform in: every report of the world read by its platform's source;
* merges found vs expected: precision and recall 1.0, and no near miss merged;
* per subscriber out: each observation once, to exactly the subscribers it concerns;
* dead letters with reasons: only the record broken on purpose;
* personal data only to the owning department;
* reconciliation (对账) figures of one business day.
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import sys
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
import yaml
from prometheus_client import REGISTRY

from connectors.webhook.receiver import WebhookReceiver
from ops.demo import load_sample_master_data
from ops.sampledata.world import Movement, World, build_world
from schemas.codec import Deserializer
from streams.deadletter import read_context
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.read import read_topic
from streams.report import source_report
from streams.settings import OPS_DIR
from streams.subscriptions import Subscription, SubscriptionFilter, WebhookTarget
from tests.integration.conftest import bus_settings, running_bus, wait_until

pytestmark = pytest.mark.integration

PLATFORMS = ("MARA", "MIIT", "SAMR", "NATCM", "NMPA", "GACC", "MOFCOM")
SAMPLES = OPS_DIR / "samples" / "platforms"
PG = "postgresql://127.0.0.1:5432/test"
HOOKS = {
    "mofcom-hook": ("MOFCOM", SubscriptionFilter(departments=["MOFCOM"])),
    "nmpa-hook": ("NMPA", SubscriptionFilter(departments=["NMPA"])),
    "mara-hook": ("MARA", SubscriptionFilter(departments=["MARA"])),
    "hangzhou-hook": ("MOFCOM", SubscriptionFilter(regions=["330100"])),
    "panan-hook": ("NATCM", SubscriptionFilter(regions=["330727"])),
}


def _valid_reports(world: World) -> dict[tuple[str, str], Movement]:
    """(platform, record id) → movement, for every report a platform exports that can be mapped."""
    return {(r.platform, r.record_id): m for m in world.movements for r in m.reports if "trace_code" not in r.missing}


def _expected_groups() -> set[frozenset[tuple[str, str]]]:
    groups: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with (SAMPLES / "expected-merges.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            groups[row["observation"]].add((row["platform"], row["record_id"]))
    return {frozenset(g) for g in groups.values()}


def _pairs(groups: set[frozenset[tuple[str, str]]]) -> set[frozenset[tuple[str, str]]]:
    return {frozenset((a, b)) for g in groups for a in g for b in g if a < b}


def _report_of(record: dict[str, Any]) -> tuple[str, str]:
    extensions = record["event"]["extensions"] or {}
    record_id = orjson.loads(extensions["src:recordId"])
    return str(record["trace"]["reporting_department"]), str(record_id)


def _concerns(movement: Movement, name: str) -> bool:
    """Whether the subscriber ``name`` must receive this movement's observation (written from the world)."""
    departments = {r.platform for r in movement.reports if "trace_code" not in r.missing}
    regions = {b.region_code for b in (movement.location, movement.source, movement.destination) if b is not None}
    return {
        "mofcom-hook": "MOFCOM" in departments,
        "nmpa-hook": "NMPA" in departments,
        "mara-hook": "MARA" in departments,
        "hangzhou-hook": any(r.startswith("3301") for r in regions),
        "panan-hook": "330727" in regions,
    }[name]


async def test_seven_platforms_flow_merge_and_reach_their_subscribers(broker: EmbeddedBroker, tmp_path: Path) -> None:
    world = build_world()
    reports = _valid_reports(world)
    connectors_dir = tmp_path / "connectors"
    connectors_dir.mkdir()
    table = f"e2e_archive_{uuid.uuid4().hex[:8]}"
    configs: list[dict[str, Any]] = []
    for platform in PLATFORMS:
        drop = tmp_path / "drop" / platform.lower()
        drop.mkdir(parents=True)
        configs.append(
            {
                "name": f"{platform.lower()}-platform",
                "connector.class": f"{platform.lower()}-platform",
                "file.path": str(drop),
                "poll.interval.ms": 200,
            }
        )
    configs.append(
        {
            "name": "archive-postgres",
            "connector.class": "postgres-sink",
            "topics": ["deliver.archive"],
            "connection.url": PG,
            "table.name": table,
        }
    )
    (connectors_dir / "e2e.yaml").write_text(yaml.safe_dump({"connectors": configs}, allow_unicode=True))
    receiver = WebhookReceiver({name: name.encode() for name in HOOKS})
    async with receiver:
        subscriptions = [Subscription(name="archive", department="OTHER")] + [
            Subscription(
                name=name,
                department=department,
                filter=criteria,
                webhook=WebhookTarget(url=f"{receiver.url}/hooks/{name}", signature_token=name),
            )
            for name, (department, criteria) in HOOKS.items()
        ]
        settings = bus_settings(broker.bootstrap_servers, connectors_dir=connectors_dir)
        async with running_bus(settings, subscriptions) as bus:
            assert bus.worker is not None
            assert not bus.worker.refused, bus.worker.refused
            worker = bus.worker
            # master data first (region filters look at the 来源/去向 businesses' regions), then the platforms' files
            await load_sample_master_data(settings)
            stall = world.businesses["stall-li"].uscc
            await wait_until(
                lambda: bus.reference is not None and bus.reference.business(stall) is not None,
                timeout_s=60,
                what="master data loaded",
            )
            for platform in PLATFORMS:
                _drop_all(SAMPLES / platform.lower(), tmp_path / "drop" / platform.lower())
            exported = Counter(p for p, _ in reports)

            def read_all() -> bool:
                return all(
                    worker.status(f"{p.lower()}-platform")["records"] >= exported[p] + (p == "MOFCOM")
                    for p in PLATFORMS
                )

            await wait_until(read_all, timeout_s=120, what="every platform file read")
            observations = {m.id for m in reports.values()}
            expected_out = {n: {m for m in observations if _concerns(_movement(world, m), n)} for n in HOOKS}
            await wait_until(
                lambda: all(len(set(receiver.accepted_ids(n))) >= len(expected_out[n]) for n in HOOKS),
                timeout_s=120,
                what="webhook deliveries",
            )
            await wait_until(lambda: _rows(table) >= len(observations), timeout_s=60, what="archive rows")
            kafka = settings.effective_kafka()
            assert bus.registry is not None
            deserializer = Deserializer(bus.registry)
            canonical = [
                await deserializer.decode_any(m.value)
                for m in await read_topic(kafka, settings.topic("events.canonical"))
            ]
            provenance = [
                await deserializer.decode_any(m.value)
                for m in await read_topic(kafka, settings.topic("events.provenance"))
            ]
            letters = [read_context(m.headers) for m in await read_topic(kafka, settings.topic("deadletter"))]
            day = sorted({m.time.date() for m in reports.values()})[4]
            reconciliation = {r.source: r for r in await source_report(settings, kafka, bus.registry, day)}
            metric = {
                p: REGISTRY.get_sample_value(
                    "tracebus_source_records_total", {"connector": f"{p.lower()}-platform", "outcome": "published"}
                )
                for p in PLATFORMS
            }

    # counts per platform in
    got_in = Counter(_report_of(r)[0] for r in canonical)
    print("\nper platform in (events):", dict(sorted(got_in.items())), "exported:", dict(sorted(exported.items())))
    assert got_in == exported
    assert {p: int(metric[p] or 0) for p in PLATFORMS} == {p: exported[p] for p in PLATFORMS}

    # merges found vs expected (pairs of reports in one observation)
    first_report = {r["event_id"]: _report_of(r) for r in canonical}
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for record in provenance:
        found[record["observation_id"]].update({first_report[record["observation_id"]], _report_of(record)})
    found_pairs, expected_pairs = _pairs({frozenset(g) for g in found.values()}), _pairs(_expected_groups())
    true_positive = len(found_pairs & expected_pairs)
    precision = true_positive / len(found_pairs) if found_pairs else 1.0
    recall = true_positive / len(expected_pairs) if expected_pairs else 1.0
    print(
        f"merges: {len(found)} observations merged, {len(found_pairs)} pairs found, {len(expected_pairs)} "
        f"expected; precision {precision:.2f}, recall {recall:.2f}"
    )
    missed = sorted(sorted(pair) for pair in expected_pairs - found_pairs)
    wrong = sorted(sorted(pair) for pair in found_pairs - expected_pairs)
    assert (precision, recall) == (1.0, 1.0), f"missed {missed}, wrongly merged {wrong}"
    for movement in world.movements:
        if movement.near_miss_of:
            for group in found.values():
                ids = {reports[k].id for k in group if k in reports}
                assert not {movement.id, movement.near_miss_of} <= ids, f"near miss {movement.id} merged"

    # per subscriber out: each observation once, to exactly those it concerns
    for name in HOOKS:
        delivered = receiver.accepted_ids(name)
        movements = {_observation_movement(canonical, reports, i) for i in delivered}
        print(f"{name}: {len(set(delivered))} observations delivered, {len(expected_out[name])} expected")
        assert len(delivered) == len(set(delivered)), f"{name} received an observation twice"
        assert movements == expected_out[name], name
    archived = _rows(table)
    print(f"archive (PostgreSQL): {archived} rows for {len(observations)} observations")
    assert archived == len(observations)

    # dead letters with reasons: the record broken on purpose, nothing else
    reasons = Counter((c["stage"], c["reason"]) for c in letters)
    print("dead letters:", dict(reasons))
    assert reasons == Counter({("source:mofcom-platform", "missing-field"): 1})

    # personal data: in full only to the department that reported it, masked for every other subscriber
    persons = {b.person_id_number for b in world.businesses.values() if b.person_id_number}
    full, masked = 0, 0
    for delivery in receiver.deliveries:
        department = HOOKS[delivery.subscription][0]
        for event in delivery.events:
            if "pii:idNumber" not in event:
                continue
            owner = event["tb:reportingDepartment"] == department
            assert (event["pii:idNumber"] in persons) == owner, (delivery.subscription, event["src:recordId"])
            full, masked = full + owner, masked + (not owner)
            if not owner:
                assert "*" in event["pii:idNumber"]
                assert "*" in event["pii:phone"]
    print(f"personal data: {full} events in full to their own department, {masked} masked for others")
    assert full > 0
    assert masked > 0

    # reconciliation of one business day, against the world
    for platform in PLATFORMS:
        day_reports = [
            k for k, m in reports.items() if k[0] == platform and m.reported_time(_report(m, k)).date() == day
        ]
        row = reconciliation.get(f"{platform.lower()}-platform")
        events = row.events if row else 0
        print(f"对账 {day} {platform}: {events} events, {len(day_reports)} reports in the world")
        assert events == len(day_reports)
        assert (row.repeats if row else 0) == 0

    # the same figures from the operator's command
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "TRACEBUS_NAMESPACE": settings.namespace}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("tracebus")),
        "report",
        "sources",
        "--date",
        day.isoformat(),
        "-o",
        "json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    from_cli = {row["source"]: row for row in orjson.loads(out)}
    assert {k: v["events"] for k, v in from_cli.items()} == {k: v.events for k, v in reconciliation.items()}
    assert {k: v["merged"] for k, v in from_cli.items()} == {k: v.merged for k, v in reconciliation.items()}


def _drop_all(source: Path, target: Path) -> None:
    """Copy a platform's export into its drop directory the way a platform delivers: hidden, then renamed."""
    for path in sorted(source.iterdir()):
        staging = target / f".{path.name}.part"
        shutil.copyfile(path, staging)
        staging.rename(target / path.name)


def _movement(world: World, movement_id: str) -> Movement:
    return next(m for m in world.movements if m.id == movement_id)


def _report(movement: Movement, key: tuple[str, str]) -> Any:
    return next(r for r in movement.reports if (r.platform, r.record_id) == key)


def _observation_movement(canonical: list[dict[str, Any]], reports: dict[tuple[str, str], Movement], i: str) -> str:
    record = next(r for r in canonical if r["event_id"] == i)
    return reports[_report_of(record)].id


def _rows(table: str) -> int:
    try:
        with psycopg.connect(PG, user="postgres") as connection:
            return int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]
    except psycopg.errors.UndefinedTable:
        return 0
