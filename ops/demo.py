"""What ``tracebus up --samples --demo-receiver`` adds for a first look: a sample feed and a local receiver."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import click
from mode import Service

from connectors.webhook.receiver import ReceivedDelivery, WebhookReceiver
from streams.settings import Settings
from streams.subscriptions import Subscription

MASTER_DATA = Path(__file__).resolve().parent / "masterdata"
SAMPLE_DROPS = Path(__file__).resolve().parent / "samples" / "drop"
PLATFORM_SAMPLES = Path(__file__).resolve().parent / "samples" / "platforms"
SAMPLE_SUFFIXES = {".jsonld": "application/ld+json", ".json": "application/json", ".xml": "application/xml"}


async def load_sample_master_data(settings: Settings) -> None:
    """Publish ``ops/masterdata`` (the sample world's businesses, products, catalogue) to the reference topics."""
    from ops.commands.masterdata import publish_rows
    from ops.commands.masterdata_rows import read_files

    files = sorted(MASTER_DATA.glob("*.csv"))
    parsed = read_files(files, None, on=date.today())
    for problem in parsed.problems:
        click.echo(f"master data: {problem}")
    published = await publish_rows(settings, parsed.rows)
    click.echo("master data (主数据) loaded: " + ", ".join(f"{n} {kind}" for kind, n in sorted(published.items())))


def print_ready(bus: Any) -> None:
    if bus.api is None or not bus.api.url:
        click.echo(f"tracebus worker is ready (roles: {', '.join(sorted(bus.settings.roles))}; no API here)")
        click.echo("press Ctrl-C to stop")
        return
    url = bus.api.url
    click.echo(f"tracebus is ready: API {url}  (POST {url}/capture)")
    click.echo(f"metrics {url}/metrics   health {url}/livez {url}/readyz")
    click.echo("press Ctrl-C to stop")


def drop_sample_files(bus: Any) -> None:
    """Copy ``ops/samples/drop/<connector>/*`` into that file-drop connector's directory, as a platform would.

    A file already processed (same content, by digest) is recognised and set aside, not read again: a second
    ``make run`` shows that, and feeds nothing twice.
    """
    import shutil

    from connectors.file.source import FileSourceConfig

    worker = bus.worker
    if worker is None:
        return
    folders = [(p, p.name) for p in sorted(SAMPLE_DROPS.iterdir()) if p.is_dir()]
    folders += [(p, f"{p.name}-platform") for p in sorted(PLATFORM_SAMPLES.iterdir()) if p.is_dir()]
    for folder, connector in folders:
        instance = worker.connectors.get(connector)
        if instance is None or not isinstance(instance.config, FileSourceConfig):
            continue
        target = Path(instance.config.file_path)
        target.mkdir(parents=True, exist_ok=True)
        for sample in sorted(folder.iterdir()):
            staging = target / f".{sample.name}.part"  # hidden while copying: never read half-written
            shutil.copyfile(sample, staging)
            staging.rename(target / sample.name)
        click.echo(f"dropped {len(list(folder.iterdir()))} sample file(s) into {target} for connector {connector}")


async def summarize_sources(bus: Any, *, settle_s: float = 3.0, limit_s: float = 90.0) -> None:
    """Once the sources have read what was dropped (their counts stop moving), print what each one did."""
    import asyncio
    import time

    worker = bus.worker
    if worker is None:
        return
    started, last, steady_since = time.monotonic(), None, time.monotonic()
    while time.monotonic() - started < limit_s:
        counts = [(s["name"], s.get("records"), s.get("events")) for s in worker.statuses() if s["kind"] == "source"]
        if counts != last:
            last, steady_since = counts, time.monotonic()
        elif time.monotonic() - steady_since >= settle_s:
            break
        await asyncio.sleep(0.5)
    for status in worker.statuses():
        if status["kind"] == "source" and status.get("records"):
            click.echo(
                f"source {status['name']:<18} {status['records']:>4} native records → {status['events']:>4} events, "
                f"{status['dead_letters']} dead-lettered"
            )
    click.echo(
        "reconciliation (对账) per day: tracebus report sources --date 2026-11-06 (KAFKA_BOOTSTRAP_SERVERS="
        f"{bus.kafka.bootstrap_servers})"
    )


def print_connectors(bus: Any) -> None:
    worker = bus.worker
    if worker is None:
        return
    for refusal in worker.refused:
        click.echo(f"connector refused: {refusal}")
    for status in worker.statuses():
        click.echo(f"connector {status['name']:<22} {status.get('connector.class', ''):<14} {status['state']}")


async def feed_samples(api_url: str, folder: Path) -> None:
    """Capture every document in ``folder``; the file name's first word is the reporting department."""
    files = sorted(p for p in folder.iterdir() if p.suffix in SAMPLE_SUFFIXES)  # noqa: ASYNC240 - a few local files
    async with aiohttp.ClientSession() as session:
        for path in files:
            source = path.name.split("-", 1)[0].upper()
            headers = {"Content-Type": SAMPLE_SUFFIXES[path.suffix], "Tracebus-Source": source}
            async with session.post(
                f"{api_url}/capture",
                data=path.read_bytes(),
                headers=headers,
            ) as response:
                job = await response.json(content_type=None)
            if response.status != 202:
                click.echo(f"feed {path.name}: HTTP {response.status} {job.get('detail', '')}")
                continue
            line = f"feed {path.name} [{source}]: {job['publishedEvents']} events published"
            if job["errors"]:
                reasons = "; ".join(e["detail"] for e in job["errors"])
                line += f", document refused ({job['captureErrorBehaviour']}): {reasons}"
            click.echo(line)


class DemoReceiverService(Service):
    """Serves the shipped :class:`WebhookReceiver` for the demo subscriptions and prints each delivery."""

    subscriptions: ClassVar[list[Subscription]] = []
    port: ClassVar[int] = 8091

    @classmethod
    def for_port(cls, subscriptions: list[Subscription], port: int) -> type[DemoReceiverService]:
        return type("BoundDemoReceiver", (cls,), {"subscriptions": subscriptions, "port": port})

    async def on_start(self) -> None:
        tokens = {s.name: s.webhook.token() for s in self.subscriptions if s.webhook is not None}
        self._receiver = WebhookReceiver(tokens, port=self.port, on_delivery=self._print)
        await self._receiver.start()

    async def on_stop(self) -> None:
        await self._receiver.stop()

    @staticmethod
    def _print(delivery: ReceivedDelivery) -> None:
        verdict = "signature ok" if delivery.signature_ok else "BAD SIGNATURE"
        steps = sorted({str(e.get("bizStep", "-")) for e in delivery.events})
        click.echo(
            f"webhook {delivery.subscription}: {len(delivery.event_ids)} events ({verdict}; bizStep {', '.join(steps)})"
        )
