"""Conformance kits of the PostgreSQL connectors, on the machine's real server (``test`` database).

Each kit instance works in a table of its own (``conf_src_<random>`` /
``conf_sink_<random>``) and drops it in ``teardown``. Only test code imports
this module.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql

from connectors.postgres.common import (
    DEFAULT_URL,
    PostgresConnectionKeys,
    close_quietly,
    connect,
    row_bytes,
    row_dict,
)
from connectors.testing.kit import SinkKit, SourceKit

SLAUGHTERHOUSE: Final = "91350200776049653A"
MARKET: Final = "91440101MA5CJQ4N59"
KIT_TIMEZONE: Final = "Asia/Shanghai"
_KEYS: Final = PostgresConnectionKeys.model_validate({"connection.url": DEFAULT_URL, "connection.user": "postgres"})

SOURCE_TABLE_DDL: Final = """
CREATE TABLE {table} (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_time       timestamptz NOT NULL,
    biz_step         text NOT NULL,
    business_uscc    text NOT NULL,
    batch            text NOT NULL,
    quantity         numeric NOT NULL,
    uom              text,
    source_uscc      text,
    destination_uscc text,
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""


async def _execute(statement: sql.SQL | sql.Composed, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    connection = await connect(_KEYS, application_name="tracebus-conformance", timezone=KIT_TIMEZONE)
    try:
        cursor = await connection.execute(statement, params)
        return await cursor.fetchall() if cursor.description else []
    finally:
        await close_quietly(connection)


async def _drop(table: str) -> None:
    # teardown must not raise; a leftover conf_* table is harmless
    with contextlib.suppress(psycopg.Error):
        await _execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def _base_config(name: str, connector_class: str) -> dict[str, Any]:
    return {
        "name": name,
        "connector.class": connector_class,
        "connection.url": DEFAULT_URL,
        "connection.user": "postgres",
    }


class PostgresSourceKit(SourceKit):
    """Movement rows (the ``flat-movement`` mapper's columns) inserted into a fresh table."""

    connector_class = "postgres-source"

    def __init__(self) -> None:
        self.table = f"conf_src_{uuid.uuid4().hex[:12]}"

    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        await _execute(sql.SQL(SOURCE_TABLE_DDL).format(table=sql.Identifier(self.table)))

    async def teardown(self) -> None:
        await _drop(self.table)

    def config(self, name: str) -> dict[str, Any]:
        return {
            **_base_config(name, self.connector_class),
            "table": self.table,
            "mode": "incrementing",
            "incrementing.column.name": "id",
            "mapper": "flat-movement",
            "poll.interval.ms": 100,
        }

    def bad_config(self, name: str) -> tuple[dict[str, Any], str]:
        return {**self.config(name), "mode": "bulk"}, "mode"

    async def _insert(self, rows: list[tuple[Any, ...]]) -> list[tuple[list[str], tuple[Any, ...]]]:
        """Insert ``rows`` in order; each inserted row as the source reads it (columns, values)."""
        statement = sql.SQL(
            "INSERT INTO {} (event_time, biz_step, business_uscc, batch, quantity, uom, source_uscc, destination_uscc) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *"
        ).format(sql.Identifier(self.table))
        connection = await connect(_KEYS, application_name="tracebus-conformance", timezone=KIT_TIMEZONE)
        inserted = []
        try:
            async with connection.transaction():
                for row in rows:
                    cursor = await connection.execute(statement, list(row))
                    columns = [column.name for column in cursor.description or ()]
                    found = await cursor.fetchone()
                    assert found is not None
                    inserted.append((columns, found))
        finally:
            await close_quietly(connection)
        return inserted

    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        rows = [
            (
                f"2026-11-20 06:{(start + i) % 60:02d}:00+08",
                "shipping",
                SLAUGHTERHOUSE,
                f"L{start + i}",
                f"{100 + start + i}.5",
                "KGM",
                SLAUGHTERHOUSE,
                MARKET,
            )
            for i in range(count)
        ]
        return [f"{self.table}:{values[0]}" for _, values in await self._insert(rows)]

    async def put_bad(self) -> bytes:
        # an empty biz_step: the mapper counts it as missing (a required column)
        rows = [("2026-11-20 07:00:00+08", "", SLAUGHTERHOUSE, "LBAD", "1", "KGM", SLAUGHTERHOUSE, MARKET)]
        ((columns, values),) = await self._insert(rows)
        return row_bytes(row_dict(columns, values))


class PostgresSinkKit(SinkKit):
    """Reads back the rows of a fresh sink table; ``write_count`` gives the repeats."""

    connector_class = "postgres-sink"

    def __init__(self) -> None:
        self.table = f"conf_sink_{uuid.uuid4().hex[:12]}"

    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        await _drop(self.table)  # the sink creates it (auto.create)

    async def teardown(self) -> None:
        await _drop(self.table)

    def config(self, name: str, topic: str = "") -> dict[str, Any]:
        return {
            **_base_config(name, self.connector_class),
            "topics": [topic or "deliver.conformance"],
            "table.name": self.table,
            "auto.create": True,
        }

    def bad_config(self, name: str, topic: str = "") -> tuple[dict[str, Any], str]:
        return {**self.config(name, topic), "table.name": "events; DROP TABLE x"}, "table.name"

    async def delivered(self) -> list[str]:
        exists = await _execute(sql.SQL("SELECT to_regclass(%s)"), [self.table])
        if not exists or exists[0][0] is None:
            return []
        rows = await _execute(
            sql.SQL(
                "SELECT event_id, write_count FROM {} "
                "ORDER BY first_written_at, source_topic, source_partition, source_offset"
            ).format(sql.Identifier(self.table))
        )
        return [event_id for event_id, count in rows for _ in range(count)]
