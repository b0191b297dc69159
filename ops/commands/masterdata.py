"""``tracebus masterdata load PATH...``: check master-data files and publish them to the reference topics.

Every row of every file is checked first (file formats and columns:
:mod:`ops.commands.masterdata_rows`). Each bad row is reported on stderr as
``FILE:LINE: reason``; if there is any, nothing is published and the exit code
is 1, unless ``--skip-invalid`` is given, which publishes the good rows
(exit 0, the bad ones still reported).

Publishing needs ``KAFKA_BOOTSTRAP_SERVERS`` (and the other settings of the
bus: namespace, client security, ``SCHEMA_REGISTRY_URL``). The reference
topics (and the embedded registry's ``schemas`` topic) are created from
``ops/topics.yaml`` if missing. Keys are UTF-8 (USCC, product code, category
code); values are Confluent-framed Avro (``schemas/avro/<kind>/v1.avsc``) in
the registry the bus uses; a deletion is a null value (tombstone). The command
returns once Kafka acknowledged every record (acks=all).

Exit codes: 0 published (or checked, with ``--dry-run``), 1 bad rows or Kafka
failure, 2 usage error (e.g. a file whose kind cannot be inferred).
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import click

from ops.commands.masterdata_rows import Parsed, Row, read_files
from schemas.codec import TopicSerializer
from streams.errors import BusError, ConfigurationError, PublishError
from streams.kafka.clients import make_producer
from streams.kafka.topics import TopicsFile, apply_topics, concrete_topics, load_topics
from streams.reference import KINDS, SCHEMAS, TOPICS, Kind
from streams.settings import Settings

PUBLISH_TIMEOUT_S = 60.0


async def provision_reference_topics(settings: Settings) -> None:
    """Create the reference topics (and ``schemas`` for the embedded registry) if missing."""
    declared = load_topics(settings.topics_file)
    names = list(TOPICS.values()) + ([] if settings.schema_registry_url else ["schemas"])
    wanted = TopicsFile(topics=[declared.spec(name) for name in names])
    await apply_topics(settings.effective_kafka(), concrete_topics(settings, wanted, []))


async def publish_rows(
    settings: Settings, rows: Sequence[Row], *, timeout_s: float = PUBLISH_TIMEOUT_S
) -> Counter[Kind]:
    """Publish rows to their reference topics; return how many of each kind Kafka acknowledged.

    Raises ``ConfigurationError`` without bootstrap servers, ``PublishError``
    when Kafka did not acknowledge everything within ``timeout_s``.
    """
    bootstrap = settings.bootstrap_servers
    if bootstrap is None:
        raise ConfigurationError("set KAFKA_BOOTSTRAP_SERVERS to the cluster to publish master data to")
    from streams.bus import make_registry  # imported here: the rest of the CLI does not need the whole bus

    await provision_reference_topics(settings)
    kafka = settings.effective_kafka()
    producer = make_producer(kafka)
    await producer.start()
    try:
        registry = make_registry(settings, kafka, producer)
        await registry.start()
        try:
            serializers: dict[Kind, TopicSerializer] = {}
            for kind in KINDS:
                if any(row.kind == kind for row in rows):
                    serializers[kind] = TopicSerializer(registry, settings.topic(TOPICS[kind]), SCHEMAS[kind])
                    await serializers[kind].bind()
            pending = []
            for row in rows:
                serializer = serializers[row.kind]
                value = None if row.value is None else serializer.serialize(row.value)
                pending.append(await producer.send(serializer.topic, value=value, key=row.key.encode("utf-8")))
            try:
                await asyncio.wait_for(asyncio.gather(*pending), timeout_s)
            except Exception as exc:
                raise PublishError(f"Kafka did not acknowledge the master data: {type(exc).__name__}: {exc}") from exc
        finally:
            await registry.close()
    finally:
        await producer.stop()
    return Counter(row.kind for row in rows)


@click.group("masterdata")
def masterdata() -> None:
    """Reference master data (主数据): businesses, products, the product catalogue."""


@masterdata.command("load")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    help="What the files hold (default: from each file name: business…, product…, catalog…).",
)
@click.option("--skip-invalid", is_flag=True, help="Publish the good rows even if some are bad (they are reported).")
@click.option(
    "--on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="Check region codes against the GB/T 2260 snapshot in force on this date (default today).",
)
@click.option("--dry-run", is_flag=True, help="Check the files only; publish nothing (no Kafka needed).")
def load(paths: tuple[Path, ...], kind: Kind | None, skip_invalid: bool, on: datetime | None, dry_run: bool) -> None:
    """Check master-data files (CSV, JSON, JSON Lines; UTF-8, GBK or GB18030) and publish them.

    Each bad row is reported as FILE:LINE: reason. Any bad row means nothing is
    published (exit 1), unless --skip-invalid is given.
    """
    settings = Settings()
    if not dry_run and settings.bootstrap_servers is None:
        raise click.ClickException("set KAFKA_BOOTSTRAP_SERVERS to the cluster to publish to (or use --dry-run)")
    try:
        parsed = read_files(list(paths), kind, on=on.date() if on is not None else date.today())
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _report(parsed)
    if parsed.problems and not skip_invalid:
        click.echo(f"{len(parsed.problems)} bad row(s): nothing published", err=True)
        sys.exit(1)
    if dry_run:
        click.echo("dry run: nothing published")
        return
    try:
        published = asyncio.run(publish_rows(settings, parsed.rows))
    except BusError as exc:
        raise click.ClickException(str(exc)) from exc
    for published_kind in KINDS:
        if published[published_kind]:
            topic = settings.topic(TOPICS[published_kind])
            click.echo(f"published {published[published_kind]} {published_kind} record(s) to {topic}")
    if parsed.problems:
        click.echo(f"skipped {len(parsed.problems)} bad row(s)", err=True)


def _report(parsed: Parsed) -> None:
    for problem in parsed.problems:
        click.echo(str(problem), err=True)
    rows = Counter((row.file, row.value is None) for row in parsed.rows)
    for name, file_kind, encoding in parsed.files:
        deletions = rows[(name, True)]
        extra = f", {deletions} deletion(s)" if deletions else ""
        click.echo(f"{name}: {file_kind}, {encoding}, {rows[(name, False)]} good row(s){extra}")
