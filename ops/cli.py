"""``tracebus``: the operator CLI.

Exit codes: 0 success, 1 failure, 2 usage error (click's default).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import click

from ops.demo import (
    DemoReceiverService,
    drop_sample_files,
    feed_samples,
    load_sample_master_data,
    print_connectors,
    print_ready,
    summarize_sources,
)
from streams.errors import BusError
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.topics import apply_topics, concrete_topics, load_topics, plan_topics
from streams.settings import OPS_DIR, Settings
from streams.subscriptions import load_subscriptions


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """tracebus: exchange of product-traceability events (追溯事件) between departmental platforms."""


@main.command()
@click.option("--host", default=None, help="API listen address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="API port (default 8080; 0 picks a free one).")
@click.option(
    "--feed",
    "feed_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Capture every EPCIS document in this folder once the bus is ready.",
)
@click.option("--samples", is_flag=True, help=f"Feed the shipped sample documents ({OPS_DIR / 'samples'}).")
@click.option("--demo-receiver/--no-demo-receiver", default=False, help="Serve the demo webhook receiver.")
@click.option("--demo-receiver-port", type=int, default=8091, show_default=True)
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(["api", "router", "sinks", "connectors"]),
    help="Run only these parts (repeatable); default all. E.g. capture front ends with --role api.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def up(
    host: str | None,
    port: int | None,
    feed_dir: Path | None,
    samples: bool,
    demo_receiver: bool,
    demo_receiver_port: int,
    roles: tuple[str, ...],
    verbose: int,
) -> None:
    """Start the bus: broker (or KAFKA_BOOTSTRAP_SERVERS), topics, router, sinks and HTTP API.

    Runs until interrupted (Ctrl-C), then stops everything it started.
    """
    import faust

    from streams.app import create_app

    level = ("WARNING", "INFO", "DEBUG")[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api_overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    base = Settings()
    updates: dict[str, Any] = {"api": base.api.model_copy(update=api_overrides)}
    if roles:
        updates["roles"] = frozenset(roles)
    settings = base.model_copy(update=updates)
    try:  # refuse bad configuration before starting anything
        subscriptions = load_subscriptions(settings.subscriptions_file)
        load_topics(settings.topics_file)
    except BusError as exc:
        raise click.ClickException(str(exc)) from exc
    broker: EmbeddedBroker | None = None
    bootstrap = settings.bootstrap_servers
    if bootstrap is None:
        broker = EmbeddedBroker()
        try:
            bootstrap = asyncio.run(broker.start())
        except BusError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"embedded broker (Tansu, memory only) at {bootstrap}")
    else:
        click.echo(f"using Kafka cluster at {bootstrap}")
    folder = OPS_DIR / "samples" if samples else feed_dir

    async def after_ready(bus: Any) -> None:
        print_ready(bus)
        print_connectors(bus)
        if samples:
            await load_sample_master_data(settings.model_copy(update={"bootstrap_servers": bootstrap}))
        if folder is not None and bus.api is not None and bus.api.url:
            await feed_samples(bus.api.url, folder)
        if samples:
            drop_sample_files(bus)
            await summarize_sources(bus)

    extra = (DemoReceiverService.for_port(subscriptions, demo_receiver_port),) if demo_receiver else ()
    app = create_app(
        settings, subscriptions, bootstrap_servers=bootstrap, after_ready=after_ready, extra_services=extra
    )
    worker = faust.Worker(app, loglevel=level, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        if broker is not None:
            broker.stop()
            click.echo("embedded broker stopped")


@main.group()
def topics() -> None:
    """Topics as code, from ops/topics.yaml."""


def _topic_plan(apply: bool) -> None:
    settings = Settings()
    if settings.bootstrap_servers is None:
        raise click.ClickException("set KAFKA_BOOTSTRAP_SERVERS to the cluster to plan against")
    spec = load_topics(settings.topics_file)
    wanted = concrete_topics(settings, spec, [s.name for s in load_subscriptions(settings.subscriptions_file)])
    kafka = settings.effective_kafka()
    result = asyncio.run(apply_topics(kafka, wanted) if apply else plan_topics(kafka, wanted))
    for topic in result.create:
        click.echo(f"{'created' if apply else 'create'} {topic.name} partitions={topic.partitions} {topic.configs}")
    for name in result.unchanged:
        click.echo(f"ok      {name}")
    for conflict in result.conflicts:
        click.echo(f"CONFLICT {conflict}", err=True)
    if result.conflicts:
        sys.exit(1)


@topics.command("plan")
def topics_plan() -> None:
    """Show what `topics apply` would create."""
    _topic_plan(apply=False)


@topics.command("apply")
def topics_apply() -> None:
    """Create missing topics (never deletes, never repartitions)."""
    _topic_plan(apply=True)


@main.group()
def schemas() -> None:
    """Versioned Avro contracts in schemas/avro (FULL_TRANSITIVE between released versions)."""


@schemas.command("check")
def schemas_check() -> None:
    """Check every released contract version: compatibility and the release lock."""
    from schemas.contracts import contract_problems, lock_problems

    problems = contract_problems() + lock_problems()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo("ok")


@schemas.command("release")
def schemas_release() -> None:
    """Lock the fingerprint of released versions not yet in released.json (never rewrites one)."""
    from schemas.contracts import contract_problems, write_lock

    problems = contract_problems()
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise click.ClickException("fix the contracts before releasing them")
    write_lock()
    click.echo("released.json is up to date")


def _register_command_groups() -> None:
    from ops.commands.bench import bench
    from ops.commands.connectors import connectors, subscriptions
    from ops.commands.epcis import epcis
    from ops.commands.epcis_convert import convert
    from ops.commands.identifiers import identifiers
    from ops.commands.masterdata import masterdata
    from ops.commands.replay import replay
    from ops.commands.report import report
    from ops.commands.samples import samples

    epcis.add_command(convert)
    main.add_command(bench)
    main.add_command(connectors)
    main.add_command(subscriptions)
    main.add_command(replay)
    main.add_command(samples)
    main.add_command(report)
    main.add_command(masterdata)
    main.add_command(identifiers)
    main.add_command(epcis)


_register_command_groups()

if __name__ == "__main__":
    main()
