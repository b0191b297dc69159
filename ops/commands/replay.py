"""``tracebus replay``: re-publish dead letters after a fix, or reprocess a time range (no duplicates to subscribers)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import click

from streams.replay import ReplayReport, replay_dead_letters, replay_range
from streams.settings import Settings


def _kafka(settings: Settings) -> Settings:
    if settings.bootstrap_servers is None:
        raise click.ClickException("set KAFKA_BOOTSTRAP_SERVERS to the cluster to replay on")
    return settings


def _print(report: ReplayReport, dry_run: bool) -> None:
    verb = "would re-publish" if dry_run else "re-published"
    for topic, count in sorted(report.republished.items()):
        click.echo(f"{verb} {count} record(s) to {topic}")
    click.echo(f"scanned {report.scanned}, skipped {report.skipped}")


@click.group("replay")
def replay() -> None:
    """Re-publish records; subscribers never receive an observation twice."""


@replay.command("deadletters")
@click.option("--stage", default=None, help="Only dead letters of this stage (decode, enrich, sink:<name>, …).")
@click.option("--reason", default=None, help="Only dead letters with this reason.")
@click.option("--dry-run", is_flag=True, help="Count what would be re-published.")
def deadletters(stage: str | None, reason: str | None, dry_run: bool) -> None:
    """Send dead-lettered records back to the topic they were read from (after fixing the cause)."""
    settings = _kafka(Settings())
    report = asyncio.run(
        replay_dead_letters(
            settings.effective_kafka(), settings.topic("deadletter"), stage=stage, reason=reason, dry_run=dry_run
        )
    )
    _print(report, dry_run)


@replay.command("range")
@click.option("--from", "start", type=click.DateTime(), required=True, help="Start (ISO 8601, local time if no zone).")
@click.option("--to", "end", type=click.DateTime(), required=True, help="End, inclusive.")
@click.option("--dry-run", is_flag=True, help="Count what would be re-published.")
def time_range(start: datetime, end: datetime, dry_run: bool) -> None:
    """Reprocess canonical events received in [FROM, TO]: e.g. to backfill a new subscription."""
    settings = _kafka(Settings())
    report = asyncio.run(
        replay_range(
            settings.effective_kafka(),
            settings.topic("events.canonical"),
            from_ms=int(start.timestamp() * 1000),
            to_ms=int(end.timestamp() * 1000),
            dry_run=dry_run,
        )
    )
    _print(report, dry_run)
