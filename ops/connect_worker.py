"""A standalone connect worker (``tracebus connectors run``): connectors only, no router, no capture.

Like Kafka Connect's standalone mode: the connectors of the given files run
against ``KAFKA_BOOTSTRAP_SERVERS`` (the topics must exist: ``tracebus topics
apply``), with the management API on ``--port``. SIGINT or SIGTERM stops every
connector cleanly; SIGKILL loses nothing (sources resume from their saved
positions, sinks from their committed offsets).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click
from aiohttp import web

from connectors.runtime.rest import management_routes
from connectors.runtime.worker import ConnectorWorker
from streams.api import ApiServer
from streams.bus import make_registry
from streams.kafka.clients import make_producer
from streams.settings import Settings

logger = logging.getLogger(__name__)


async def _serve(files: list[Path], port: int, state_dir: Path | None) -> None:
    settings = Settings()
    if settings.bootstrap_servers is None:
        raise click.ClickException("set KAFKA_BOOTSTRAP_SERVERS to the cluster the connectors use")
    kafka = settings.effective_kafka()
    producer = make_producer(kafka)
    await producer.start()
    registry = make_registry(settings, kafka, producer)
    await registry.start()
    worker = ConnectorWorker(
        settings=settings,
        kafka=kafka,
        producer=producer,
        registry=registry,
        state_root=state_dir or settings.connector_state_dir,
        config_files=files,
    )
    app = web.Application()
    app.router.add_routes(management_routes(worker))
    api = ApiServer(app, host=settings.api.host, port=port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await worker.start()
        await api.start()
        for refusal in worker.refused:
            click.echo(refusal, err=True)
        click.echo(f"connect worker: {len(worker.connectors)} connector(s); management API at {api.url}", err=True)
        await stopping.wait()
    finally:
        await api.stop()
        await worker.stop()
        await registry.close()
        await producer.stop()


def run_standalone(files: list[Path], *, port: int, state_dir: Path | None) -> None:
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(files, port, state_dir))
