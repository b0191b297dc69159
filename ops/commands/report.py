"""``tracebus report sources --date D``: reconciliation (对账) figures per source connector and day."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import click

from streams.bus import make_registry
from streams.kafka.clients import make_producer
from streams.report import SourceDay, source_report
from streams.settings import Settings


@click.group("report")
def report() -> None:
    """Reports read from the topics (any process, any shell)."""


async def _collect(settings: Settings, day: date) -> list[SourceDay]:
    kafka = settings.effective_kafka()
    producer = make_producer(kafka)
    await producer.start()
    registry = make_registry(settings, kafka, producer)
    await registry.start()
    try:
        return await source_report(settings, kafka, registry, day)
    finally:
        await registry.close()
        await producer.stop()


def _reasons(counts: dict[str, Any]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items())) or "-"


@report.command("sources")
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Business date (China time).")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def sources(day: Any, output: str) -> None:
    """Per source: native records, events, repeats, accepted, rejected and unmappable by reason, merged."""
    settings = Settings()
    if settings.bootstrap_servers is None:
        raise click.ClickException("set KAFKA_BOOTSTRAP_SERVERS to the cluster to report on")
    rows = asyncio.run(_collect(settings, day.date()))
    if output == "json":
        click.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return
    click.echo(f"reconciliation (对账) for {day.date().isoformat()} (business date, China time)")
    click.echo(
        f"{'source':<22}{'records':>8}{'events':>8}{'repeats':>8}{'accepted':>9}{'merged':>8}  rejected / unmappable"
    )
    for row in rows:
        click.echo(
            f"{row.source:<22}{row.records:>8}{row.events:>8}{row.repeats:>8}{row.accepted:>9}{row.merged:>8}  "
            f"{_reasons(dict(row.rejected))} / {_reasons(dict(row.unmappable))}"
        )
