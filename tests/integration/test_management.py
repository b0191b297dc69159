"""Management of connectors and subscriptions through the REST API of a running bus.

One bus with a file-drop source from its connectors directory and a webhook
subscriber. Platform rows dropped as a CSV file travel source → ingest →
router → webhook; then the API lists, validates, creates, inspects, pauses,
resumes, rewinds and deletes, and backfills a subscriber added later.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from connectors.webhook.receiver import WebhookReceiver
from streams.kafka.broker import EmbeddedBroker
from streams.subscriptions import Subscription, WebhookTarget
from tests.integration.conftest import bus_settings, running_bus, wait_until

pytestmark = pytest.mark.integration

HEADER = "event_time,biz_step,business_uscc,batch,quantity,uom,destination_uscc\n"
SLAUGHTERHOUSE = "91350200776049653A"
MARKET = "91440101MA5CJQ4N59"


def _rows(first: int, count: int) -> str:
    return "".join(
        f"2026-11-20 07:{n:02d},shipping,{SLAUGHTERHOUSE},MG-{n},{10 + n},KGM,{MARKET}\n"
        for n in range(first, first + count)
    )


def _drop(directory: Path, name: str, text: str) -> None:
    staging = directory / f".{name}.part"
    staging.write_text(text, encoding="gbk")  # a platform export in GBK, as many still are
    staging.rename(directory / name)


async def _api(session: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with session.request(method, url, json=body) as response:
        text = await response.text()
        return response.status, (await response.json(content_type=None)) if text else None


async def test_connectors_and_subscriptions_are_managed_over_rest(broker: EmbeddedBroker, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    connectors_dir = tmp_path / "connectors"
    connectors_dir.mkdir()
    (connectors_dir / "mara.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "mara-drop",
                "connector.class": "file-source",
                "platform": "MARA",
                "mapper": "flat-movement",
                "file.path": str(drop),
                "poll.interval.ms": 200,
            }
        )
    )
    receiver = WebhookReceiver({"market": b"m", "late": b"l"})
    async with receiver:
        market = Subscription(
            name="market",
            department="MOFCOM",
            webhook=WebhookTarget(url=f"{receiver.url}/hooks/market", signature_token="m"),
        )
        settings = bus_settings(broker.bootstrap_servers, connectors_dir=connectors_dir)
        started_ms = int(time.time() * 1000) - 1000
        async with running_bus(settings, [market]) as bus, aiohttp.ClientSession() as session:
            assert bus.api is not None
            api = bus.api.url
            _drop(drop, "day1.csv", HEADER + _rows(0, 3))
            await wait_until(lambda: len(set(receiver.accepted_ids("market"))) == 3, timeout_s=60, what="3 deliveries")

            status, plugins = await _api(session, "GET", f"{api}/connector-plugins")
            assert status == 200
            assert "file-source" in {p["name"] for p in plugins}
            status, listed = await _api(session, "GET", f"{api}/connectors?expand=status")
            assert listed["mara-drop"]["status"]["state"] == "RUNNING"
            assert listed["mara-drop"]["status"]["records"] == 3

            status, checked = await _api(
                session, "PUT", f"{api}/connector-plugins/webhook/config/validate", {"name": "x1", "topics": ["a"]}
            )
            assert status == 200
            assert {p["key"] for p in checked["problems"]} == {"url", "signature.token"}

            out = tmp_path / "out"
            jsonl = {
                "name": "market-files",
                "connector.class": "jsonl-sink",
                "topics": ["deliver.market"],
                "file.path": str(out),
            }
            status, refused = await _api(session, "POST", f"{api}/connectors", {**jsonl, "file.pth": "x"})
            assert status == 400
            assert refused["problems"][0]["key"] == "file.pth"
            status, created = await _api(
                session, "POST", f"{api}/connectors", {"name": "market-files", "config": jsonl}
            )
            assert status == 201
            assert created["config"]["file.path"] == str(out)
            await wait_until(lambda: len(_jsonl_ids(out)) == 3, timeout_s=60, what="jsonl sink catches up")

            # one subscriber paused alone: the file sink reading the same topic goes on
            status, _ = await _api(session, "PUT", f"{api}/subscriptions/market/pause")
            assert status == 202
            _drop(drop, "day2.csv", HEADER + _rows(10, 2))
            await wait_until(lambda: len(_jsonl_ids(out)) == 5, timeout_s=60, what="jsonl sink while hook paused")
            assert len(set(receiver.accepted_ids("market"))) == 3
            status, paused = await _api(session, "GET", f"{api}/subscriptions/market/status")
            assert paused["state"] == "PAUSED"
            await _api(session, "PUT", f"{api}/subscriptions/market/resume")
            await wait_until(lambda: len(set(receiver.accepted_ids("market"))) == 5, timeout_s=60, what="after resume")

            status, offsets = await _api(session, "GET", f"{api}/connectors/market-files/offsets")
            assert offsets["kind"] == "sink"
            assert sum(p["committed"] or 0 for p in offsets["partitions"]) == 5
            status, rewound = await _api(session, "DELETE", f"{api}/connectors/market-files/offsets")
            assert status == 200
            assert {p["offset"] for p in rewound["partitions"]} == {0}
            status, positions = await _api(session, "GET", f"{api}/connectors/mara-drop/offsets")
            assert positions["kind"] == "source"
            assert len(positions["positions"]) == 2  # one per processed file

            # a subscriber added later is backfilled from a point in time, once; the first gets no repeats
            assert bus.store is not None
            await bus.store.put(
                Subscription(
                    name="late",
                    department="SAMR",
                    webhook=WebhookTarget(url=f"{receiver.url}/hooks/late", signature_token="l"),
                )
            )
            await wait_until(
                lambda: "late" in bus.worker.subscriptions if bus.worker else False, timeout_s=30, what="late"
            )
            status, report = await _api(
                session,
                "POST",
                f"{api}/subscriptions/late/backfill",
                {"from": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(started_ms / 1000))},
            )
            assert status == 202
            assert report["rerouted"] == 5
            await wait_until(lambda: len(set(receiver.accepted_ids("late"))) == 5, timeout_s=60, what="backfill")
            assert sorted(set(receiver.accepted_ids("late"))) == sorted(set(receiver.accepted_ids("market")))
            assert len(set(receiver.accepted_ids("market"))) == 5

            status, _ = await _api(session, "DELETE", f"{api}/connectors/market-files")
            assert status == 204
            status, missing = await _api(session, "GET", f"{api}/connectors/market-files/status")
            assert status == 404
            assert "market-files" in missing["detail"]
            assert len(_jsonl_ids(out)) == 5, "rewinding a file sink repeats nothing in its files"


def _jsonl_ids(directory: Path) -> list[str]:
    import json

    if not directory.exists():
        return []
    return [json.loads(line)["event_id"] for path in sorted(directory.glob("*.jsonl")) for line in path.open()]
