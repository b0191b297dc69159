"""PostgreSQL connectors: ``postgres-source`` (polled rows → events) and ``postgres-sink`` (events → upserted rows)."""

from connectors.postgres.sink import PostgresSink, PostgresSinkConfig
from connectors.postgres.source import PostgresSource, PostgresSourceConfig

__all__ = ["PostgresSink", "PostgresSinkConfig", "PostgresSource", "PostgresSourceConfig"]
