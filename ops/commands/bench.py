"""``tracebus bench``: measurements (they print figures; they are not tests)."""

from __future__ import annotations

import click


@click.group("bench")
def bench() -> None:
    """Benchmarks on the embedded broker."""


@bench.command("pipeline", context_settings={"ignore_unknown_options": True})
@click.option("--events", type=int, default=100_000, show_default=True, help="Generated events for throughput.")
@click.option("--latency-seconds", type=float, default=10.0, show_default=True, help="Length of each latency run.")
@click.option("--rss-keys", type=int, default=1_000_000, show_default=True, help="Keys for the state RSS figure.")
@click.option("--latency-rounds", type=int, default=2, show_default=True, help="Interleaved latency runs per side.")
def pipeline(events: int, latency_seconds: float, rss_keys: int, latency_rounds: int) -> None:
    """The router's pipeline against a plain aiokafka loop: events/s, latency, state RSS (last line: JSON)."""
    from ops.bench_pipeline import main

    main(
        [
            "--events", str(events),
            "--latency-seconds", str(latency_seconds),
            "--rss-keys", str(rss_keys),
            "--latency-rounds", str(latency_rounds),
        ]
    )  # fmt: skip
