"""``postgres-source``: polls a table (or a query) for new rows, like Kafka Connect's JDBC source.

Each poll reads the rows after the last one read, in the order of an
incrementing column (``mode: incrementing``), or of a timestamp column then
the incrementing column (``mode: timestamp+incrementing``, which also picks up
rows whose timestamp moved forward — an updated row is read again)::

    name: mara-movements
    connector.class: postgres-source
    connection.url: postgresql://db.mara.local:5432/trace
    connection.user: tracebus
    connection.password: ${file:/run/secrets/mara-db}
    table: movements                   # or query: SELECT ... (no ORDER BY / LIMIT)
    mode: timestamp+incrementing
    incrementing.column.name: id
    timestamp.column.name: updated_at
    mapper: flat-movement

Each row becomes a dict of column → JSON-friendly value
(:func:`~connectors.postgres.common.jsonable`) and goes through the mapper.
The source partition is the table name (``query`` in query mode); its offset
is ``{"id": <last incrementing value>}`` plus ``"ts"`` in the combined mode.
A row's identity is ``<table>:<incrementing value>``, the same on every read.

Known limit (shared with Kafka Connect): a row whose transaction commits
*after* a row with a larger id was already read is never read. Use
``timestamp+incrementing`` with ``timestamp.delay.interval.ms`` longer than the
platform's longest write transaction when that can happen.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, Final, Literal

import psycopg
from psycopg import sql
from pydantic import Field, field_validator, model_validator

from connectors.base import Source, SourceRecord
from connectors.config import SourceConfig
from connectors.errors import ConnectorConfigError, SourceUnavailableError
from connectors.mapping import RecordMapper, mapper_for
from connectors.mapping.base import map_to_record
from connectors.postgres.common import (
    COLUMN_NAME,
    TABLE_NAME,
    PostgresConnectionKeys,
    close_quietly,
    connect,
    row_bytes,
    row_dict,
    table_identifier,
    valid_timezone,
)
from connectors.registry import ConnectorContext, register

logger = logging.getLogger(__name__)

QUERY_PARTITION: Final = "query"
LAG_COUNT_CAP: Final = 100_000
LAG_COUNT_EVERY_S: Final = 10.0
_TOP_LEVEL_FORBIDDEN: Final = re.compile(r"\b(order\s+by|limit|offset|fetch\s+(first|next))\b|;", re.IGNORECASE)


def _top_level(query: str) -> str:
    """The query's text outside parentheses and string literals (where a final ORDER BY/LIMIT would sit)."""
    depth, quoted, kept = 0, False, []
    for char in query:
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(char)
    return "".join(kept)


class PostgresSourceConfig(SourceConfig, PostgresConnectionKeys):
    table: str | None = Field(
        default=None, pattern=TABLE_NAME, description="table (or schema.table) to poll; or give query"
    )
    query: str | None = Field(
        default=None, description="a SELECT to poll instead of a table, without ORDER BY / LIMIT (the source adds them)"
    )
    mode: Literal["incrementing", "timestamp+incrementing"] = Field(
        description="incrementing: new rows by a strictly increasing column; "
        "timestamp+incrementing: new or updated rows by (timestamp, incrementing) column"
    )
    incrementing_column_name: str = Field(
        alias="incrementing.column.name", pattern=COLUMN_NAME, description="strictly increasing, unique column"
    )
    timestamp_column_name: str | None = Field(
        default=None,
        alias="timestamp.column.name",
        pattern=COLUMN_NAME,
        description="last-modified column (timestamp+incrementing mode)",
    )
    timestamp_delay_interval_ms: int = Field(
        default=0,
        ge=0,
        alias="timestamp.delay.interval.ms",
        description="read only rows whose timestamp is at least this old, so slow transactions are not skipped",
    )
    batch_max_rows: int | None = Field(
        default=None, ge=1, le=100_000, alias="batch.max.rows", description="rows per poll (default batch.max.records)"
    )
    db_timezone: str = Field(
        default="Asia/Shanghai",
        alias="db.timezone",
        description="session time zone: the offset timestamptz values are written with",
    )

    @field_validator("db_timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        return valid_timezone(name)

    @field_validator("query")
    @classmethod
    def _plain_select(cls, query: str | None) -> str | None:
        if query is None:
            return None
        query = query.strip().rstrip(";").strip()
        if not re.match(r"^(select|with)\b", query, re.IGNORECASE):
            raise ValueError("must be a SELECT (or WITH ... SELECT) statement")
        found = _TOP_LEVEL_FORBIDDEN.search(_top_level(query))
        if found:
            raise ValueError(f"must not contain {found.group(0).upper()!r}: the source orders and limits the rows")
        return query

    @model_validator(mode="after")
    def _consistent(self) -> PostgresSourceConfig:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table and query")
        if self.mode == "timestamp+incrementing" and self.timestamp_column_name is None:
            raise ValueError("timestamp.column.name is required in mode timestamp+incrementing")
        return self

    @property
    def partition(self) -> str:
        return self.table or QUERY_PARTITION

    @property
    def rows_per_poll(self) -> int:
        return self.batch_max_rows or self.batch_max_records


@register(
    name="postgres-source",
    kind="source",
    transport="postgres",
    config=PostgresSourceConfig,
    conformance="connectors.postgres.conformance:PostgresSourceKit",
)
class PostgresSource(Source):
    """New rows of a PostgreSQL table or query, polled by an incrementing (and timestamp) column.

    Lifecycle: ``start(positions)`` keeps the saved cursor (no connection yet);
    each ``poll()`` connects if needed and reads at most ``batch.max.rows`` rows
    after the cursor; ``stop()`` closes the connection. The source never
    writes to the database.

    Guarantees: rows come in cursor order and each poll moves the in-memory
    cursor past the rows it returned (the runner persists it after
    publishing). An unreachable server, or any database error, is a
    :class:`SourceUnavailableError`; the broken connection is dropped and the
    next poll reconnects. A row the mapper refuses is a record with ``error``
    set and ``raw`` = the row as JSON.
    """

    def __init__(self, config: PostgresSourceConfig, mapper: RecordMapper) -> None:
        self.name = config.name
        self._config = config
        self._mapper = mapper
        self._partition = config.partition
        self._cursor: dict[str, Any] | None = None
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._next_query_at = 0.0
        self._lag: int | None = None
        self._lag_counted_at = 0.0

    @classmethod
    def create(cls, config: PostgresSourceConfig, context: ConnectorContext) -> PostgresSource:
        return cls(config, mapper_for(config.mapper))

    def __repr__(self) -> str:
        return f"PostgresSource(name={self.name!r}, partition={self._partition!r})"

    async def start(self, positions: dict[str, Any]) -> None:
        saved = positions.get(self._partition)
        if saved is None:
            self._cursor = None
            return
        needed = {"id", "ts"} if self._config.mode == "timestamp+incrementing" else {"id"}
        if not isinstance(saved, dict) or not needed <= saved.keys():
            # switching mode (or table) under a saved position would silently skip or repeat rows
            raise ConnectorConfigError(
                f"{self.name}: saved position {saved!r} of {self._partition!r} does not fit mode "
                f"{self._config.mode!r}; reset the connector's positions to read from the start",
                problems=(("mode", "does not fit the saved position"),),
            )
        self._cursor = {key: saved[key] for key in sorted(needed)}

    async def stop(self) -> None:
        connection, self._connection = self._connection, None
        await close_quietly(connection)

    def lag(self) -> int | None:
        return self._lag

    async def poll(self) -> Sequence[SourceRecord]:
        loop = asyncio.get_running_loop()
        pause = self._next_query_at - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
        limit = self._config.rows_per_poll
        try:
            connection = await self._connect()
            columns, rows = await self._fetch(connection, limit)
        except psycopg.Error as exc:
            await self._drop_connection()
            raise SourceUnavailableError(f"{self.name}: cannot read {self._partition!r}: {exc}") from exc
        except asyncio.CancelledError:
            # cancelled mid-query (the runner is stopping): the connection's state is unknown
            await self._drop_connection()
            raise
        records = self._records(columns, rows)
        if records:
            # moved only once every row is turned into a record: a failure above leaves the cursor where it was
            self._cursor = dict(records[-1].offset)
        full = len(rows) >= limit
        await self._update_lag(full, len(rows))
        # a full batch means more rows are waiting: the next poll reads at once
        self._next_query_at = loop.time() + (0 if full else self._config.poll_interval_ms / 1000)
        return records

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = await connect(
                self._config, application_name=f"tracebus:{self.name}", timezone=self._config.db_timezone
            )
        return self._connection

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        await close_quietly(connection)

    def _relation(self) -> sql.Composable:
        if self._config.table is not None:
            return table_identifier(self._config.table)
        # the query is the operator's own SQL; "%" is doubled so psycopg does not read it as a placeholder
        query = (self._config.query or "").replace("%", "%%")
        return sql.SQL("({}) AS {}").format(sql.SQL(query), sql.Identifier("tracebus_source"))

    def _condition(self, cursor: dict[str, Any] | None) -> tuple[sql.Composable, list[Any]]:
        """WHERE (after the cursor) and ORDER BY of the next read, with its parameters."""
        inc = sql.Identifier(self._config.incrementing_column_name)
        if self._config.timestamp_column_name is None:
            order: sql.Composable = inc
            where: list[sql.Composable] = [sql.SQL("{} IS NOT NULL").format(inc)]
            params: list[Any] = []
            if cursor is not None:
                where.append(sql.SQL("{} > %s").format(inc))
                params.append(cursor["id"])
        else:
            ts = sql.Identifier(self._config.timestamp_column_name)
            order = sql.SQL("{}, {}").format(ts, inc)
            where = [sql.SQL("{} IS NOT NULL AND {} IS NOT NULL").format(ts, inc)]
            params = []
            if cursor is not None:
                where.append(sql.SQL("({}, {}) > (%s, %s)").format(ts, inc))
                params.extend([cursor["ts"], cursor["id"]])
            if self._config.timestamp_delay_interval_ms > 0:
                where.append(sql.SQL("{} < CURRENT_TIMESTAMP - %s * INTERVAL '1 millisecond'").format(ts))
                params.append(self._config.timestamp_delay_interval_ms)
        return sql.SQL("WHERE {} ORDER BY {}").format(sql.SQL(" AND ").join(where), order), params

    async def _fetch(
        self, connection: psycopg.AsyncConnection[Any], limit: int
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        condition, params = self._condition(self._cursor)
        statement = sql.SQL("SELECT * FROM {} {} LIMIT %s").format(self._relation(), condition)
        async with connection.cursor() as cursor:
            await cursor.execute(statement, [*params, limit])
            columns = [column.name for column in cursor.description or ()]
            rows = await cursor.fetchall()
        return columns, rows

    def _records(self, columns: list[str], rows: list[tuple[Any, ...]]) -> list[SourceRecord]:
        records = []
        for values in rows:
            row = row_dict(columns, values)
            position = {"id": row[self._config.incrementing_column_name]}
            if self._config.timestamp_column_name is not None:
                position["ts"] = row[self._config.timestamp_column_name]
            identity = f"{self._partition}:{position['id']}"
            raw = row_bytes(row)
            records.append(
                map_to_record(self._mapper, row, partition=self._partition, offset=position, identity=identity, raw=raw)
            )
        return records

    async def _update_lag(self, full: bool, read: int) -> None:
        """Rows known to be waiting: 0 after a short batch, else a capped count taken at most every few seconds.

        Best effort: a failed count leaves the lag unknown, never fails the poll (its rows are already read).
        """
        if not full:
            self._lag = 0
            return
        now = time.monotonic()
        if self._lag is not None and self._lag > 0 and now - self._lag_counted_at < LAG_COUNT_EVERY_S:
            self._lag = max(0, self._lag - read)
            return
        condition, params = self._condition(self._cursor)
        statement = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} {} LIMIT %s) AS waiting").format(
            self._relation(), condition
        )
        try:
            cursor = await (await self._connect()).execute(statement, [*params, LAG_COUNT_CAP])
            found = await cursor.fetchone()
        except psycopg.Error as exc:
            logger.warning("%s: cannot count waiting rows: %s", self.name, exc)
            await self._drop_connection()
            self._lag = None
            return
        self._lag = int(found[0]) if found else None
        self._lag_counted_at = now
