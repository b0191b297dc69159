"""postgres-source and postgres-sink against the machine's PostgreSQL (127.0.0.1:5432, database test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from psycopg import sql

from connectors.base import SinkRecord, SourceRecord
from connectors.errors import ConnectorConfigError, RetriableSinkError, SinkRejectedError, SourceUnavailableError
from connectors.mapping import mapper_for
from connectors.postgres import PostgresSink, PostgresSinkConfig, PostgresSource, PostgresSourceConfig
from connectors.postgres.conformance import MARKET, SLAUGHTERHOUSE, PostgresSinkKit, PostgresSourceKit
from connectors.registry import spec
from streams.testing import movement_record

URL = "postgresql://127.0.0.1:5432/test"


async def _sql(statement: str | sql.Composable, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement on a fresh connection of its own (so reads see only committed data)."""
    async with await psycopg.AsyncConnection.connect(URL, user="postgres", autocommit=True) as connection:
        cursor = await connection.execute(statement, params)  # type: ignore[arg-type]
        return await cursor.fetchall() if cursor.description else []


@pytest.fixture
async def table() -> AsyncIterator[str]:
    name = f"t_pg_{uuid.uuid4().hex[:10]}"
    await _sql(
        sql.SQL(
            "CREATE TABLE {} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_time timestamptz NOT NULL, "
            "biz_step text, business_uscc text, batch text, quantity numeric, uom text, "
            "updated_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        ).format(sql.Identifier(name))
    )
    yield name
    await _sql(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


async def _insert(table: str, *batches: str, biz_step: str = "shipping") -> list[int]:
    ids = []
    for batch in batches:
        rows = await _sql(
            sql.SQL(
                "INSERT INTO {} (event_time, biz_step, business_uscc, batch, quantity, uom) "
                "VALUES ('2026-11-20 06:30:00+08', %s, %s, %s, 12.50, 'KGM') RETURNING id"
            ).format(sql.Identifier(table)),
            [biz_step, SLAUGHTERHOUSE, batch],
        )
        ids.append(int(rows[0][0]))
    return ids


def _source_config(**keys: Any) -> PostgresSourceConfig:
    raw = {
        "name": "pg-src",
        "connector.class": "postgres-source",
        "connection.url": URL,
        "connection.user": "postgres",
        "mode": "incrementing",
        "incrementing.column.name": "id",
        "mapper": "flat-movement",
        "poll.interval.ms": 10,
        **keys,
    }
    config = spec("postgres-source").parse(raw)
    assert isinstance(config, PostgresSourceConfig)
    return config


async def _source(positions: dict[str, Any] | None = None, /, **keys: Any) -> PostgresSource:
    config = _source_config(**keys)
    source = PostgresSource(config, mapper_for(config.mapper))
    await source.start(positions or {})
    return source


def _batches(records: Sequence[SourceRecord]) -> list[str]:
    return [r.events[0]["quantityList"][0]["epcClass"].rsplit(":", 1)[-1] for r in records]


async def test_source_reads_new_rows_in_order_and_picks_up_later_inserts(table: str) -> None:
    ids = await _insert(table, "L1", "L2")
    source = await _source(table=table)
    try:
        first = await source.poll()
        assert _batches(first) == ["L1", "L2"]
        assert [r.identity for r in first] == [f"{table}:{i}" for i in ids]
        assert [r.offset for r in first] == [{"id": i} for i in ids]
        assert {r.partition for r in first} == {table}
        event = first[0].events[0]
        assert event["eventTime"] == "2026-11-20T06:30:00+08:00"  # timestamptz → ISO text in China time
        assert event["quantityList"][0]["quantity"] == 12.5  # numeric → exact text → mapper number
        assert orjson.loads(first[0].raw)["quantity"] == "12.50"
        assert await source.poll() == []
        assert source.lag() == 0
        later = await _insert(table, "L3")
        again = await source.poll()
        assert [r.identity for r in again] == [f"{table}:{later[0]}"]
    finally:
        await source.stop()


async def test_source_resumes_after_saved_position_with_a_new_instance(table: str) -> None:
    ids = await _insert(table, "L1", "L2", "L3")
    first = await _source(table=table, **{"batch.max.rows": 2})
    try:
        records = await first.poll()
        assert _batches(records) == ["L1", "L2"]
        assert first.lag() == 1  # a full batch: the capped count of waiting rows
    finally:
        await first.stop()
    saved = {records[-1].partition: records[-1].offset}
    second = await _source(saved, table=table)
    try:
        resumed = await second.poll()
        assert [r.identity for r in resumed] == [f"{table}:{ids[2]}"]
    finally:
        await second.stop()


async def test_source_timestamp_incrementing_reads_updated_rows_again_and_resumes(table: str) -> None:
    ids = await _insert(table, "L1", "L2")
    keys = {"table": table, "mode": "timestamp+incrementing", "timestamp.column.name": "updated_at"}
    source = await _source(**keys)
    try:
        records = await source.poll()
        assert _batches(records) == ["L1", "L2"]
        assert set(records[0].offset) == {"id", "ts"}
        await _sql(
            sql.SQL("UPDATE {} SET updated_at = clock_timestamp(), batch = 'L1b' WHERE id = %s").format(
                sql.Identifier(table)
            ),
            [ids[0]],
        )
        updated = await source.poll()
        assert _batches(updated) == ["L1b"]
        assert updated[0].identity == f"{table}:{ids[0]}"
    finally:
        await source.stop()
    await _insert(table, "L3")
    resumed = await _source({table: updated[-1].offset}, **keys)
    try:
        assert _batches(await resumed.poll()) == ["L3"]
    finally:
        await resumed.stop()


async def test_source_timestamp_delay_leaves_recent_rows_for_later(table: str) -> None:
    await _insert(table, "L1")
    await _sql(sql.SQL("UPDATE {} SET updated_at = now() - interval '2 hours'").format(sql.Identifier(table)))
    await _insert(table, "L2")  # updated_at: now, younger than the delay
    keys = {"table": table, "mode": "timestamp+incrementing", "timestamp.column.name": "updated_at"}
    source = await _source(**keys, **{"timestamp.delay.interval.ms": 3_600_000})
    try:
        assert _batches(await source.poll()) == ["L1"]
        assert await source.poll() == []
    finally:
        await source.stop()


async def test_source_refuses_a_saved_position_of_another_mode(table: str) -> None:
    source = _source_config(table=table, mode="timestamp+incrementing", **{"timestamp.column.name": "updated_at"})
    with pytest.raises(ConnectorConfigError, match="reset"):
        await PostgresSource(source, mapper_for("flat-movement")).start({table: {"id": 3}})


async def test_source_bad_row_is_an_error_record_with_the_row_as_json(table: str) -> None:
    await _insert(table, "L1")
    (bad,) = await _insert(table, "L2", biz_step="")
    source = await _source(table=table)
    try:
        records = await source.poll()
    finally:
        await source.stop()
    assert records[0].error is None
    error = records[1].error
    assert error is not None
    assert error.reason == "missing-field"
    assert records[1].offset == {"id": bad}  # the position moves past the bad row
    row = orjson.loads(records[1].raw)
    assert list(row) == ["id", "event_time", "biz_step", "business_uscc", "batch", "quantity", "uom", "updated_at"]
    assert (row["id"], row["biz_step"], row["batch"]) == (bad, "", "L2")


async def test_source_query_mode_with_percent_in_the_query(table: str) -> None:
    await _insert(table, "L1", "X1", "L2")
    query = f"SELECT * FROM {table} WHERE batch LIKE 'L%'"
    source = await _source(query=query)
    try:
        records = await source.poll()
    finally:
        await source.stop()
    assert _batches(records) == ["L1", "L2"]
    assert records[0].partition == "query"


def test_source_config_refusals() -> None:
    with pytest.raises(ConnectorConfigError, match="exactly one of table and query"):
        _source_config(table="a", query="SELECT * FROM a")
    with pytest.raises(ConnectorConfigError, match="LIMIT"):
        _source_config(query="SELECT * FROM a WHERE id IN (SELECT id FROM b ORDER BY id) LIMIT 5")
    with pytest.raises(ConnectorConfigError, match=r"timestamp\.column\.name"):
        _source_config(table="a", mode="timestamp+incrementing")
    with pytest.raises(ConnectorConfigError, match="table"):
        _source_config(table='a"; DROP TABLE b; --')
    with pytest.raises(ConnectorConfigError, match=r"connection\.password"):
        _source_config(table="a", **{"connection.url": "postgresql://u:pw@127.0.0.1/test"})
    # ORDER BY inside a subquery is fine: the final one is the source's
    assert _source_config(query="SELECT * FROM a WHERE id IN (SELECT id FROM b ORDER BY id LIMIT 3)").query


async def test_source_unreachable_server_is_unavailable() -> None:
    source = await _source(table="whatever", **{"connection.url": "postgresql://127.0.0.1:1/test"})
    try:
        with pytest.raises(SourceUnavailableError):
            await source.poll()
    finally:
        await source.stop()


async def test_source_reconnects_after_losing_its_connection(table: str) -> None:
    await _insert(table, "L1")
    source = await _source(table=table)
    try:
        assert _batches(await source.poll()) == ["L1"]
        await _sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", ["tracebus:pg-src"]
        )
        with pytest.raises(SourceUnavailableError):
            await source.poll()
        await _insert(table, "L2")
        assert _batches(await source.poll()) == ["L2"]
    finally:
        await source.stop()


# ---- sink ---------------------------------------------------------------------------------------------------


def _sink_records(*trace_codes: str, offset: int = 0) -> list[SinkRecord]:
    records = []
    for i, code in enumerate(trace_codes):
        record = movement_record(event_time="2026-11-20T06:30:00.000+08:00", trace_code=code, reporter="mofcom-a")
        records.append(SinkRecord("t.deliver.x", 0, offset + i, None, b"", (), record))
    return records


def _sink(table: str, **keys: Any) -> PostgresSink:
    raw = {
        "name": "pg-sink",
        "connector.class": "postgres-sink",
        "connection.url": URL,
        "connection.user": "postgres",
        "topics": ["deliver.x"],
        "table.name": table,
        **keys,
    }
    config = spec("postgres-sink").parse(raw)
    assert isinstance(config, PostgresSinkConfig)
    return PostgresSink(config)


@pytest.fixture
async def sink_table() -> AsyncIterator[str]:
    name = f"t_pgsink_{uuid.uuid4().hex[:10]}"
    yield name
    await _sql(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


async def test_sink_upsert_is_idempotent_and_durable_when_write_returns(sink_table: str) -> None:
    sink = _sink(sink_table)
    await sink.start()
    batch = _sink_records("T1", "T2")
    try:
        await sink.write(batch)
        await sink.write(batch)
    finally:
        await sink.stop()
    rows = await _sql(
        sql.SQL(
            "SELECT event_id, write_count, event_type, biz_step, trace_key, reporter, department, event_time, "
            "event, source_topic, source_offset FROM {} ORDER BY source_offset"
        ).format(sql.Identifier(sink_table))
    )
    assert [(r[0], r[1]) for r in rows] == [(batch[0].event_id, 2), (batch[1].event_id, 2)]
    _, _, event_type, biz_step, trace_key, reporter, department, event_time, event, topic, offset = rows[0]
    assert (event_type, biz_step, trace_key, reporter, department) == (
        "ObjectEvent",
        "shipping",
        "trace:T1",
        "mofcom-a",
        "MOFCOM",
    )
    assert event_time.isoformat() == "2026-11-19T22:30:00+00:00"
    assert event["@context"][0].startswith("https://ref.gs1.org/standards/epcis/2.0.0/")
    assert event["tb:destinationBusiness"] == {"tb:uscc": MARKET}
    assert (topic, offset) == ("t.deliver.x", 0)


async def test_sink_rejects_data_the_database_can_never_accept(sink_table: str) -> None:
    sink = _sink(sink_table)
    await sink.start()
    good, bad = _sink_records("T1", "T2")
    bad.record["trace"]["trace_code"] = "T\x002"  # jsonb refuses \u0000
    try:
        with pytest.raises(SinkRejectedError) as caught:
            await sink.write([good, bad])
        assert caught.value.reason == "invalid-data"
        # the batch is one transaction: nothing of it was kept, and the sink still works
        assert await _sql(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(sink_table))) == [(0,)]
        await sink.write([good])
    finally:
        await sink.stop()
    assert await _sql(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(sink_table))) == [(1,)]


async def test_sink_unreachable_server_is_retriable(sink_table: str) -> None:
    sink = _sink(sink_table, **{"connection.url": "postgresql://127.0.0.1:1/test"})
    await sink.start()  # not fatal: writes retry
    try:
        with pytest.raises(RetriableSinkError):
            await sink.write(_sink_records("T1"))
    finally:
        await sink.stop()


async def test_sink_without_auto_create_refuses_a_missing_table(sink_table: str) -> None:
    sink = _sink(sink_table, **{"auto.create": False})
    try:
        with pytest.raises(ConnectorConfigError, match="does not exist"):
            await sink.start()
    finally:
        await sink.stop()


# ---- conformance kits ---------------------------------------------------------------------------------------


async def test_source_kit_bad_record_bytes_match_what_the_source_dead_letters(tmp_path: Path) -> None:
    kit = PostgresSourceKit()
    await kit.setup(tmp_path, bootstrap_servers="unused:9092", namespace="unused")
    try:
        identities = await kit.put_good(2, start=5)
        expected_raw = await kit.put_bad()
        config = spec("postgres-source").parse(kit.config("kit-src"))
        assert isinstance(config, PostgresSourceConfig)
        source = PostgresSource(config, mapper_for(config.mapper))
        await source.start({})
        try:
            records = await source.poll()
        finally:
            await source.stop()
        assert [r.identity for r in records[:2]] == identities
        assert [r.error is None for r in records] == [True, True, False]
        assert records[2].raw == expected_raw
        bad_config, key = kit.bad_config("kit-src")
        with pytest.raises(ConnectorConfigError) as refused:
            spec("postgres-source").parse(bad_config)
        assert key in [problem[0] for problem in refused.value.problems]
    finally:
        await kit.teardown()
    assert await _sql("SELECT to_regclass(%s)::text", [kit.table]) == [(None,)]


async def test_sink_kit_reports_each_write_of_an_event(tmp_path: Path) -> None:
    kit = PostgresSinkKit()
    await kit.setup(tmp_path, bootstrap_servers="unused:9092", namespace="unused")
    try:
        assert await kit.delivered() == []
        config = spec("postgres-sink").parse(kit.config("kit-sink", "deliver.x"))
        assert isinstance(config, PostgresSinkConfig)
        sink = PostgresSink(config)
        await sink.start()
        first, second = _sink_records("T1", "T2")
        try:
            await sink.write([first, second])
            await sink.write([first])
        finally:
            await sink.stop()
        assert await kit.delivered() == [first.event_id, first.event_id, second.event_id]
        bad_config, key = kit.bad_config("kit-sink", "deliver.x")
        with pytest.raises(ConnectorConfigError) as refused:
            spec("postgres-sink").parse(bad_config)
        assert key in [problem[0] for problem in refused.value.problems]
    finally:
        await kit.teardown()
