"""``postgres-sink``: trace events upserted into a PostgreSQL table, one row per event identity.

::

    name: samr-warehouse
    connector.class: postgres-sink
    topics: [deliver.samr-all]
    connection.url: postgresql://warehouse.samr.local:5432/trace
    connection.user: tracebus
    connection.password: ${env:SAMR_DB_PASSWORD}
    table.name: trace_events             # default; schema.table accepted
    auto.create: true                    # create the table (and its trace_key index) if missing

The table (:data:`TABLE_DDL`) is keyed by ``event_id``, the CBV 2.0 event hash.
A write is one transaction of ``INSERT … ON CONFLICT (event_id) DO UPDATE``:
a redelivered event rewrites its own row (idempotent) and bumps
``write_count``, which tells an operator how often the bus delivered it.
``event`` holds the event in EPCIS 2.0 JSON-LD with its own ``@context``, as
the webhook sink would send it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
import psycopg
from psycopg import errors, sql
from pydantic import Field

from connectors.base import Sink, SinkRecord
from connectors.config import SinkConfig
from connectors.errors import ConnectorConfigError, RetriableSinkError, SinkRejectedError
from connectors.postgres.common import (
    TABLE_NAME,
    PostgresConnectionKeys,
    close_quietly,
    connect,
    table_identifier,
)
from connectors.registry import ConnectorContext, register
from schemas.epcis.jsonld import render_events

logger = logging.getLogger(__name__)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

TABLE_DDL: Final = """
CREATE TABLE IF NOT EXISTS {table} (
    event_id         text PRIMARY KEY,               -- CBV 2.0 event hash: the bus's identity
    observation_id   text,                           -- shared by every report of one movement
    event_type       text NOT NULL,
    event_time       timestamptz NOT NULL,
    biz_step         text,
    trace_key        text NOT NULL,
    reporter         text NOT NULL,
    department       text,                           -- reporting department
    event            jsonb NOT NULL,                 -- EPCIS 2.0 JSON-LD, with @context
    source_topic     text NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint NOT NULL,
    first_written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    written_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    write_count      integer NOT NULL DEFAULT 1      -- deliveries of this event (redeliveries counted)
)
"""

# columns written from a record, in statement order
COLUMNS: Final = (
    "event_id",
    "observation_id",
    "event_type",
    "event_time",
    "biz_step",
    "trace_key",
    "reporter",
    "department",
    "event",
    "source_topic",
    "source_partition",
    "source_offset",
)


class PostgresSinkConfig(SinkConfig, PostgresConnectionKeys):
    table_name: str = Field(
        default="trace_events",
        alias="table.name",
        pattern=TABLE_NAME,
        description="target table (or schema.table), quoted as written",
    )
    auto_create: bool = Field(
        default=True, alias="auto.create", description="create the table and its index when missing"
    )


def upsert_statement(table: str) -> sql.Composed:
    """The idempotent write of one row: insert, or rewrite the row of the same ``event_id`` and count it."""
    names = [sql.Identifier(column) for column in COLUMNS]
    values = [sql.SQL("%s::jsonb") if column == "event" else sql.Placeholder() for column in COLUMNS]
    updates = [sql.SQL("{0} = EXCLUDED.{0}").format(name) for name in names[1:]]
    return sql.SQL(
        "INSERT INTO {table} AS t ({names}) VALUES ({values}) ON CONFLICT (event_id) DO UPDATE SET "
        "{updates}, written_at = clock_timestamp(), write_count = t.write_count + 1"
    ).format(
        table=table_identifier(table),
        names=sql.SQL(", ").join(names),
        values=sql.SQL(", ").join(values),
        updates=sql.SQL(", ").join(updates),
    )


def event_row(record: SinkRecord) -> tuple[Any, ...]:
    """The column values of ``record`` (order of :data:`COLUMNS`); raises on a malformed record."""
    value: Mapping[str, Any] = record.record
    event = value["event"]
    contexts, events = render_events([value])
    document = {"@context": contexts, **events[0]}
    trace = value.get("trace") or {}
    return (
        record.event_id,
        value.get("observation_id"),
        event["type"],
        _EPOCH + timedelta(milliseconds=int(event["event_time_ms"])),
        event.get("biz_step"),
        value["trace_key"],
        value["reporter"],
        trace.get("reporting_department"),
        orjson.dumps(document).decode(),
        record.topic,
        record.partition,
        record.offset,
    )


@register(
    name="postgres-sink",
    kind="sink",
    transport="postgres",
    config=PostgresSinkConfig,
    conformance="connectors.postgres.conformance:PostgresSinkKit",
)
class PostgresSink(Sink):
    """Trace events upserted into a PostgreSQL table keyed by event identity (one transaction per batch).

    Lifecycle: ``start()`` connects and creates the table when ``auto.create``
    (an unreachable server is left to ``write``, which retries); ``write``
    reconnects as needed; ``stop()`` closes.

    Guarantees: ``write`` returns after the batch's transaction committed
    (``synchronous_commit`` is never left off for this session). A server that
    cannot be reached or fails transiently is a :class:`RetriableSinkError`;
    data the database can never accept (``\\u0000`` in JSON, a value violating a
    constraint) is a :class:`SinkRejectedError` and nothing of the batch is kept.
    """

    def __init__(self, config: PostgresSinkConfig) -> None:
        self.name = config.name
        self._config = config
        self._table = config.table_name
        self._statement = upsert_statement(config.table_name)
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._table_ready = False

    @classmethod
    def create(cls, config: PostgresSinkConfig, context: ConnectorContext) -> PostgresSink:
        return cls(config)

    def __repr__(self) -> str:  # never show the password
        return f"PostgresSink(name={self.name!r}, table={self._table!r})"

    async def start(self) -> None:
        try:
            await self._connect()
        except psycopg.OperationalError as exc:
            logger.warning("%s: database not reachable at start, writes will retry: %s", self.name, exc)

    async def stop(self) -> None:
        connection, self._connection = self._connection, None
        await close_quietly(connection)

    async def write(self, records: Sequence[SinkRecord]) -> None:
        if not records:
            return
        try:
            rows = [event_row(record) for record in records]
        except (KeyError, TypeError, ValueError) as exc:
            raise SinkRejectedError(f"{self.name}: a record cannot be written: {exc!r}", reason="bad-record") from exc
        try:
            connection = await self._connect()
            async with connection.transaction(), connection.cursor() as cursor:
                await cursor.executemany(self._statement, rows)
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            reason = "invalid-data" if isinstance(exc, psycopg.DataError) else "constraint-violation"
            raise SinkRejectedError(
                f"{self.name}: {self._table!r} refused the batch ({exc.sqlstate or 'client'}): {exc}", reason=reason
            ) from exc
        except psycopg.Error as exc:
            await self._after_failure(exc)
            raise RetriableSinkError(f"{self.name}: writing to {self._table!r} failed: {exc}") from exc

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is None or self._connection.closed:
            await close_quietly(self._connection)
            self._connection = None
            connection = await connect(self._config, application_name=f"tracebus:{self.name}")
            try:
                await self._prepare(connection)
            except BaseException:
                await close_quietly(connection)
                raise
            self._connection = connection
        if not self._table_ready:
            await self._ensure_table(self._connection)
        return self._connection

    async def _prepare(self, connection: psycopg.AsyncConnection[Any]) -> None:
        cursor = await connection.execute("SHOW synchronous_commit")
        setting = await cursor.fetchone()
        if setting is not None and setting[0] == "off":
            # a commit must be on disk before write() returns; "off" would acknowledge it earlier
            await connection.execute("SET synchronous_commit = on")

    async def _ensure_table(self, connection: psycopg.AsyncConnection[Any]) -> None:
        cursor = await connection.execute(
            "SELECT to_regclass(%s)", [table_identifier(self._table).as_string(connection)]
        )
        exists = (await cursor.fetchone() or (None,))[0] is not None
        if not exists:
            if not self._config.auto_create:
                raise ConnectorConfigError(
                    f"{self.name}: table {self._table!r} does not exist and auto.create is false",
                    problems=(("table.name", "table does not exist"),),
                )
            table = table_identifier(self._table)
            index = sql.Identifier(f"{self._table.split('.')[-1]}_trace_key_idx"[:63])
            try:
                async with connection.transaction():
                    await connection.execute(sql.SQL(TABLE_DDL).format(table=table))
                    await connection.execute(
                        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (trace_key)").format(index, table)
                    )
            except (errors.UniqueViolation, errors.DuplicateTable):
                pass  # another sink created it at the same moment
            logger.info("%s: created table %s", self.name, self._table)
        self._table_ready = True

    async def _after_failure(self, exc: psycopg.Error) -> None:
        if isinstance(exc, errors.UndefinedTable):
            self._table_ready = False  # dropped under us: check (and recreate) before the next attempt
        if self._connection is not None and (self._connection.broken or self._connection.closed):
            connection, self._connection = self._connection, None
            await close_quietly(connection)
