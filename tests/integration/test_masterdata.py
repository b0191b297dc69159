"""Master data on the embedded broker: the loader publishes the samples, ReferenceTables reads them to the end,
then applies an update and a deletion live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops.commands.masterdata import masterdata, provision_reference_topics, publish_rows
from ops.commands.masterdata_rows import Row, read_files
from schemas.registry.embedded import EmbeddedRegistry
from streams.errors import TopicProvisioningError
from streams.kafka.broker import EmbeddedBroker
from streams.reference import Kind, ReferenceTables
from streams.settings import OPS_DIR, Settings
from tests.integration.conftest import bus_settings, unique_namespace, wait_until


def _sample_counts() -> dict[str, int]:
    """Rows per kind in the shipped sample master data, counted from the files (the generator rewrites them)."""
    import csv

    folder = Path(__file__).resolve().parents[2] / "ops" / "masterdata"
    kinds = {"businesses.csv": "business", "products.csv": "product", "catalogue.csv": "catalogue"}
    counts = {}
    for name, kind in kinds.items():
        with (folder / name).open(encoding="utf-8") as handle:
            counts[kind] = sum(1 for _ in csv.DictReader(handle))
    return counts


SAMPLE_COUNTS = _sample_counts()
pytestmark = pytest.mark.integration

SAMPLES = sorted((OPS_DIR / "masterdata").glob("*.csv"))
SLAUGHTERHOUSE = "91350200776049653A"
IMPORTER = "91330206MA2B000781"


@asynccontextmanager
async def reading(settings: Settings) -> AsyncIterator[ReferenceTables]:
    # the reference contracts ship with the code, so the embedded registry resolves their ids without its log
    tables = ReferenceTables.for_settings(settings, EmbeddedRegistry(), poll_timeout_ms=100)
    await tables.start()
    try:
        await tables.wait_ready(30)
        yield tables
    finally:
        await tables.stop()


async def test_samples_load_then_updates_and_deletions_apply_live(broker: EmbeddedBroker) -> None:
    settings = bus_settings(broker.bootstrap_servers)
    parsed = read_files(SAMPLES, None, on=date(2026, 11, 20))
    assert parsed.problems == []
    published = await publish_rows(settings, parsed.rows)
    assert published == SAMPLE_COUNTS

    async with reading(settings) as tables:
        assert tables.ready
        assert tables.sizes() == SAMPLE_COUNTS
        slaughterhouse = tables.business(SLAUGHTERHOUSE)
        assert slaughterhouse is not None
        assert slaughterhouse["name"] == "杭州萧山某肉类加工有限公司"
        assert slaughterhouse["region_code"] == "330109"
        product = tables.product("06901234123456")
        assert product is not None
        assert product["category"] == "0101"
        catalogue = tables.catalogue("0101")
        assert catalogue is not None
        assert catalogue["department"] == "MOFCOM"

        regraded = {**(parsed_value(parsed.rows, IMPORTER)), "credit_grade": "C"}
        await publish_rows(settings, [Row("business", IMPORTER, regraded, "update", 1)])
        await wait_until(lambda: grade(tables, IMPORTER) == "C", timeout_s=20, what="update")

        await publish_rows(settings, [Row("business", SLAUGHTERHOUSE, None, "tombstone", 1)])
        await wait_until(lambda: tables.business(SLAUGHTERHOUSE) is None, timeout_s=20, what="deletion")
        assert tables.sizes()["business"] == SAMPLE_COUNTS["business"] - 1
        assert tables.skipped == 0

    async with reading(settings) as later:  # a process started afterwards reads the same state
        assert later.business(SLAUGHTERHOUSE) is None
        importer = later.business(IMPORTER)
        assert importer is not None
        assert importer["credit_grade"] == "C"


def grade(tables: ReferenceTables, uscc: str) -> str | None:
    business = tables.business(uscc)
    return None if business is None else business["credit_grade"]


def parsed_value(rows: list[Row], key: str) -> dict[str, object]:
    value = next(row.value for row in rows if row.key == key)
    assert value is not None
    return value


async def test_empty_reference_topics_are_ready_at_once(broker: EmbeddedBroker) -> None:
    settings = bus_settings(broker.bootstrap_servers)
    await provision_reference_topics(settings)
    async with reading(settings) as tables:
        assert tables.sizes() == {"business": 0, "product": 0, "catalogue": 0}


def test_the_load_command_publishes_with_the_bus_settings(broker: EmbeddedBroker, tmp_path: Path) -> None:
    namespace = unique_namespace("md")
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "TRACEBUS_NAMESPACE": namespace}
    bad = tmp_path / "products.csv"
    bad.write_text("code,name\n06901234123457,bad check digit\n", encoding="gbk")
    refused = CliRunner(env=env).invoke(masterdata, ["load", *map(str, SAMPLES), str(bad)])
    assert refused.exit_code == 1
    assert f"{bad}:2: code 06901234123457" in refused.stderr

    result = CliRunner(env=env).invoke(masterdata, ["load", *map(str, SAMPLES)])
    assert result.exit_code == 0, result.output
    assert (
        f"published {SAMPLE_COUNTS['business']} business record(s) to {namespace}.reference.businesses" in result.stdout
    )

    async def read_back() -> dict[Kind, int]:
        async with reading(bus_settings(broker.bootstrap_servers, namespace=namespace)) as tables:
            return tables.sizes()

    # the refused run published nothing: only the accepted run's records are there
    assert asyncio.run(read_back()) == SAMPLE_COUNTS


async def test_missing_reference_topics_refuse_to_start(broker: EmbeddedBroker) -> None:
    settings = bus_settings(broker.bootstrap_servers)  # a fresh namespace: no topics created
    tables = ReferenceTables.for_settings(settings, EmbeddedRegistry(), metadata_timeout_s=1.0)
    try:
        with pytest.raises(TopicProvisioningError, match=r"reference\.businesses does not exist"):
            await tables.start()
        assert not tables.ready
    finally:
        await tables.stop()
