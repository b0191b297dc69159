"""`tracebus up` itself: ready, a capture delivered to a local webhook receiver, SIGINT, nothing left behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from connectors.webhook.receiver import WebhookReceiver
from tests.integration.conftest import wait_until
from tests.integration.test_capture_api import document, shipping

pytestmark = pytest.mark.integration
TRACEBUS = Path(sys.executable).with_name("tracebus")


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


async def _read_until(stream: asyncio.StreamReader, pattern: str, seen: list[str], timeout_s: float) -> re.Match[str]:
    async def scan() -> re.Match[str]:
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError("tracebus up exited early:\n" + "".join(seen))
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    return await asyncio.wait_for(scan(), timeout_s)


async def test_up_serves_delivers_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    receiver = WebhookReceiver({"smoke": b"smoke-token"})
    async with receiver:
        subscriptions = tmp_path / "subscriptions.yaml"
        subscriptions.write_text(
            yaml.safe_dump(
                {
                    "subscriptions": [
                        {
                            "name": "smoke",
                            "department": "MOFCOM",
                            "webhook": {"url": f"{receiver.url}/hooks/smoke", "signature_token": "smoke-token"},
                        }
                    ]
                }
            )
        )
        env = {
            **os.environ,
            "TRACEBUS_SUBSCRIPTIONS_FILE": str(subscriptions),
            "TRACEBUS_NAMESPACE": "smoke",
            "TRACEBUS_CONNECTORS_DIR": str(tmp_path / "no-connectors"),
            "TRACEBUS_CONNECTOR_STATE_DIR": str(tmp_path / "connector-state"),
            "TRACEBUS_KAFKA__SESSION_TIMEOUT_MS": "6000",
            "TRACEBUS_KAFKA__HEARTBEAT_INTERVAL_MS": "300",
            "TRACEBUS_KAFKA__REBALANCE_TIMEOUT_MS": "6000",
        }
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        process = await asyncio.create_subprocess_exec(
            str(TRACEBUS), "up", "--port", "0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
        )  # fmt: skip
        assert process.stdout is not None
        seen: list[str] = []
        try:
            broker = await _read_until(process.stdout, r"embedded broker .* at (127\.0\.0\.1:\d+)", seen, 30)
            broker_address = f"tcp://{broker.group(1)}"
            assert _processes_mentioning(broker_address), "the broker must be running"
            ready = await _read_until(process.stdout, r"API (http://127\.0\.0\.1:\d+)", seen, 60)
            api = ready.group(1)
            metrics = await _read_until(process.stdout, r"metrics (\S+)", seen, 5)
            assert metrics.group(1) == f"{api}/metrics"
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{api}/readyz") as response:
                    assert response.status == 200
                headers = {"Content-Type": "application/ld+json", "Tracebus-Source": "MOFCOM"}
                async with session.post(f"{api}/capture", data=document(shipping(42)), headers=headers) as response:
                    assert response.status == 202
            await wait_until(lambda: len(receiver.accepted_ids("smoke")) == 1, timeout_s=30, what="smoke delivery")
            assert receiver.deliveries[0].signature_ok
            process.send_signal(signal.SIGINT)
            rest = await asyncio.wait_for(process.stdout.read(), 60)
            seen.append(rest.decode())
            code = await asyncio.wait_for(process.wait(), 10)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    output = "".join(seen)
    assert code == 0, output
    assert "embedded broker stopped" in output
    assert not _processes_mentioning(broker_address), "no broker process may outlive tracebus up"
    assert "Traceback" not in output, output
