"""``tracebus connectors`` and ``tracebus subscriptions``: the management operations from the shell.

``list`` and ``validate`` work offline (``validate --online`` also checks the
cluster); ``run`` is a standalone connect worker; every other command calls a
running bus's management REST API (``--url``, default ``TRACEBUS_API_URL`` or
http://127.0.0.1:8080).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from connectors.config import load_config_file, public_config
from connectors.errors import ConnectorError
from connectors.registry import parse_any, specs

DEFAULT_URL = os.environ.get("TRACEBUS_API_URL", "http://127.0.0.1:8080")
url_option = click.option("--url", default=DEFAULT_URL, show_default=True, help="The bus's API (TRACEBUS_API_URL).")


def _call(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode()
        try:
            problem = json.loads(detail)
            message = problem.get("detail", detail)
        except ValueError:
            message = detail
        raise click.ClickException(f"{method} {url}: {exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"{method} {url}: {exc.reason} (is the bus running? see --url)") from None
    return json.loads(text) if text else None


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group("connectors")
def connectors() -> None:
    """Connectors: platform sources in, department sinks out (Kafka Connect-style configs)."""


@connectors.command("list")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_classes(output: str) -> None:
    """Every registered connector class: name, kind, transport, platform, config fields."""
    described = [s.describe() for s in specs()]
    if output == "json":
        click.echo(json.dumps(described, ensure_ascii=False, indent=2))
        return
    for item in described:
        platform = item["platform"] or "-"
        click.echo(f"{item['name']:<22} {item['kind']:<6} {item['transport']:<9} {platform:<7} {item['description']}")


@connectors.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--online", is_flag=True, help="Also check the cluster (KAFKA_BOOTSTRAP_SERVERS): reachable, topics exist."
)
def validate(files: tuple[Path, ...], online: bool) -> None:
    """Validate connector config files; every problem is printed, secrets never are."""
    failed = False
    for path in files:
        try:
            raws = load_config_file(path)
        except ConnectorError as exc:
            click.echo(str(exc), err=True)
            failed = True
            continue
        for raw in raws:
            try:
                found, config = parse_any(raw, origin=str(path))
            except ConnectorError as exc:
                click.echo(str(exc), err=True)
                failed = True
                continue
            problems = asyncio.run(_online_problems(config)) if online else []
            for problem in problems:
                click.echo(f"{path}: connector {config.name!r}: {problem}", err=True)
            failed = failed or bool(problems)
            if not problems:
                click.echo(f"ok {config.name} ({found.name}, {found.kind}, {found.transport})")
    if failed:
        sys.exit(1)


async def _online_problems(config: Any) -> list[str]:
    from aiokafka.errors import KafkaError

    from connectors.config import SinkConfig
    from streams.kafka.clients import make_consumer
    from streams.settings import Settings

    settings = Settings()
    if settings.bootstrap_servers is None:
        return ["--online needs KAFKA_BOOTSTRAP_SERVERS"]
    consumer = make_consumer(settings.effective_kafka(), group_id=None)
    try:
        await consumer.start()
        existing = await consumer.topics()
    except KafkaError as exc:
        return [f"cluster {settings.bootstrap_servers} not reachable: {exc}"]
    finally:
        await consumer.stop()
    wanted = [config.errors_deadletterqueue_topic_name]
    wanted += list(config.topics) if isinstance(config, SinkConfig) else ["events.incoming"]
    return [
        f"topic {settings.topic(short)} does not exist on the cluster (tracebus topics apply)"
        for short in wanted
        if settings.topic(short) not in existing
    ]


@connectors.command("show")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def show(files: tuple[Path, ...]) -> None:
    """Print the validated configs with defaults filled in and secrets masked."""
    for path in files:
        for raw in load_config_file(path):
            try:
                _, config = parse_any(raw, origin=str(path))
            except ConnectorError as exc:
                raise click.ClickException(str(exc)) from None
            _print_json(public_config(config))


@connectors.command("run")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--port", type=int, default=8083, show_default=True, help="Management API port (0: a free one).")
@click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Local connector state."
)
def run(files: tuple[Path, ...], port: int, state_dir: Path | None) -> None:
    """A standalone connect worker: run these connectors on KAFKA_BOOTSTRAP_SERVERS until interrupted."""
    from ops.connect_worker import run_standalone

    for path in files:  # refuse bad configs before connecting to anything
        for raw in load_config_file(path):
            try:
                parse_any(raw, origin=str(path))
            except ConnectorError as exc:
                raise click.ClickException(str(exc)) from None
    run_standalone(list(files), port=port, state_dir=state_dir)


def _base(url: str, subscription: bool) -> str:
    return f"{url.rstrip('/')}/{'subscriptions' if subscription else 'connectors'}"


def _scoped_commands(group: click.Group, *, subscription: bool) -> None:
    @group.command("status")
    @click.argument("name")
    @url_option
    def status(name: str, url: str) -> None:
        """State, counts, lag and last error."""
        _print_json(_call("GET", f"{_base(url, subscription)}/{name}/status"))

    for verb, method, doc in (
        ("pause", "PUT", "Pause (keeps its place; other connectors and subscribers go on)."),
        ("resume", "PUT", "Resume after a pause."),
        ("restart", "POST", "Start a fresh runner from the same config (also after FAILED)."),
        ("stop", "PUT", "Stop, keeping the config (needed before an offset reset)."),
    ):

        def command(name: str, url: str, verb: str = verb, method: str = method) -> None:
            _print_json(_call(method, f"{_base(url, subscription)}/{name}/{verb}"))

        command.__doc__ = doc
        group.command(verb)(url_option(click.argument("name")(command)))

    @group.command("offsets")
    @click.argument("name")
    @click.option("--reset", "reset_to", default=None, help="earliest, latest (sinks) or an ISO-8601 time (sinks).")
    @url_option
    def offsets(name: str, reset_to: str | None, url: str) -> None:
        """Show the source positions or sink group offsets; --reset moves them and restarts."""
        target = f"{_base(url, subscription)}/{name}/offsets"
        if reset_to is None:
            _print_json(_call("GET", target))
        else:
            _print_json(_call("DELETE", f"{target}?{urllib.parse.urlencode({'to': reset_to})}"))


@connectors.command("status-all")
@url_option
def status_all(url: str) -> None:
    """Every running connector's status."""
    _print_json(_call("GET", f"{url.rstrip('/')}/connectors?expand=status"))


@connectors.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@url_option
def create(file: Path, url: str) -> None:
    """Create the connectors of a config file on a running bus."""
    for raw in load_config_file(file):
        _print_json(_call("POST", f"{url.rstrip('/')}/connectors", raw))


@connectors.command("delete")
@click.argument("name")
@url_option
def delete(name: str, url: str) -> None:
    """Stop and remove a connector (its local positions are kept)."""
    _call("DELETE", f"{url.rstrip('/')}/connectors/{name}")
    click.echo(f"deleted {name}")


@click.group("subscriptions")
def subscriptions() -> None:
    """Subscriptions' sinks: pause one subscriber alone, inspect it, backfill it."""


@subscriptions.command("list")
@url_option
def list_subscriptions(url: str) -> None:
    """Every subscription sink's status."""
    _print_json(_call("GET", f"{url.rstrip('/')}/subscriptions"))


@subscriptions.command("backfill")
@click.argument("name")
@click.option("--from", "start", required=True, help="ISO-8601 with offset, e.g. 2026-11-01T00:00:00+08:00")
@click.option("--to", "end", default=None, help="ISO-8601 with offset (default now)")
@url_option
def backfill(name: str, start: str, end: str | None, url: str) -> None:
    """Re-route canonical events from a point in time: the subscriber receives what it lacks, once."""
    body = {"from": start, **({"to": end} if end else {})}
    _print_json(_call("POST", f"{url.rstrip('/')}/subscriptions/{name}/backfill", body))


_scoped_commands(connectors, subscription=False)
_scoped_commands(subscriptions, subscription=True)
