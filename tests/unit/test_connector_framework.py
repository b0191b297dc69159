"""The connector framework's core: config refusal, secrets, the registry, positions, mappers, the source runner."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from connectors.base import Sink, Source, SourceRecord, SourceRecordError
from connectors.config import MASK, SourceConfig, parse_config, public_config, resolve_secret
from connectors.errors import ConnectorConfigError
from connectors.mapping import mapper_for
from connectors.positions import SourcePositions
from connectors.registry import parse_any, register, specs
from connectors.runtime.source_runner import SourceFailedError, SourceRunner
from connectors.transforms import RecordFilter
from ops.cli import main
from schemas.codec import Deserializer, TopicSerializer
from schemas.registry.embedded import EmbeddedRegistry
from streams.deadletter import DeadLetterPublisher, read_context
from streams.ingest_service import INCOMING_SCHEMA
from streams.subscriptions import SubscriptionFilter
from streams.testing import MARKET, SLAUGHTERHOUSE, RecordingProducer, movement_record

WEBHOOK = {
    "name": "samr-hook",
    "connector.class": "webhook",
    "topics": ["deliver.samr-all"],
    "url": "https://samr.example/hooks",
    "signature.token": "s3cret-token",
}
EXPECTED = {
    "webhook": ("sink", "webhook"),
    "postgres-sink": ("sink", "postgres"),
    "jsonl-sink": ("sink", "jsonl"),
    "csv-sink": ("sink", "csv"),
    "epcis-export": ("sink", "epcis"),
    "kafka-sink": ("sink", "kafka"),
    "file-source": ("source", "file"),
    "http-source": ("source", "http"),
    "postgres-source": ("source", "postgres"),
    "kafka-bridge": ("source", "bridge"),
}
PLATFORMS = ("MARA", "MIIT", "SAMR", "NATCM", "NMPA", "GACC", "MOFCOM")
EXPECTED.update({f"{p.lower()}-platform": ("source", "file") for p in PLATFORMS})


# --- config ---------------------------------------------------------------------------------------


def test_unknown_key_is_refused_with_the_closest_known_key() -> None:
    with pytest.raises(ConnectorConfigError) as refused:
        parse_any({**WEBHOOK, "topix": ["x"]})
    assert ("topix", refused.value.problems[0][1]) == refused.value.problems[0]
    assert "did you mean 'topics'?" in str(refused.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConnectorConfigError) as refused:
        parse_any({**WEBHOOK, "tasks.max": 0, "url": "nope", "errors.tolerance": "some"})
    keys = sorted(key for key, _ in refused.value.problems)
    assert keys == ["errors.tolerance", "tasks.max", "url"]
    assert "3 problem(s)" in str(refused.value)


def test_an_unknown_class_names_the_key() -> None:
    with pytest.raises(ConnectorConfigError) as refused:
        parse_any({**WEBHOOK, "connector.class": "carrier-pigeon"})
    assert refused.value.problems[0][0] == "connector.class"
    assert "webhook" in str(refused.value)  # lists what is registered


def test_secrets_are_masked_and_never_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _, config = parse_any(WEBHOOK)
    shown = public_config(config)
    assert shown["signature.token"] == MASK
    assert "s3cret-token" not in json.dumps(shown)
    assert "s3cret-token" not in repr(config)
    with pytest.raises(ConnectorConfigError) as refused:
        parse_any({**WEBHOOK, "url": "s3cret-token-as-url"})
    assert "s3cret-token-as-url" not in str(refused.value), "input values are hidden in errors"


def test_secret_providers_env_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "from-env")
    _, config = parse_any({**WEBHOOK, "signature.token": "${env:HOOK_TOKEN}"})
    assert config.signature_token.get_secret_value() == "from-env"  # type: ignore[attr-defined]
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n")
    assert resolve_secret(f"${{file:{secret_file}}}") == "from-file"
    monkeypatch.delenv("HOOK_TOKEN")
    with pytest.raises(ConnectorConfigError, match="HOOK_TOKEN is not set"):
        parse_any({**WEBHOOK, "signature.token": "${env:HOOK_TOKEN}"})


def test_a_map_of_secrets_keeps_its_keys_and_masks_its_values() -> None:
    _, config = parse_any(
        {"name": "pushes", "connector.class": "http-source", "tokens": {"mara-platform": "t0k3n"}, "mapper": "epcis"}
    )
    assert public_config(config)["tokens"] == {"mara-platform": MASK}


# --- registry and CLI -----------------------------------------------------------------------------


def test_the_registry_holds_every_shipped_connector() -> None:
    found = {s.name: (s.kind, s.transport) for s in specs()}
    assert found == EXPECTED


def test_registering_a_sink_as_a_source_is_refused() -> None:
    class NotASource(Sink):
        async def write(self, records: Sequence[Any]) -> None:
            return None

    with pytest.raises(TypeError, match="registered as a source"):
        register(name="wrong-kind", kind="source", transport="x", config=SourceConfig)(NotASource)


def test_connectors_list_json_describes_every_class() -> None:
    result = CliRunner().invoke(main, ["connectors", "list", "-o", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {item["name"] for item in listed} == set(EXPECTED)
    for item in listed:
        assert set(item) >= {"name", "kind", "transport", "platform", "config_fields"}
        assert (item["kind"], item["transport"]) == EXPECTED[item["name"]]
        if item["name"].endswith("-platform"):
            assert item["platform"] == item["name"].removesuffix("-platform").upper(), "each platform's source"
        else:
            assert item["platform"] is None
        keys = {f["name"] for f in item["config_fields"]}
        assert {"name", "connector.class", "errors.tolerance", "errors.deadletterqueue.topic.name"} <= keys
        for field in item["config_fields"]:
            if field["secret"]:
                assert field["default"] in (None, MASK)
    webhook = next(i for i in listed if i["name"] == "webhook")
    token = next(f for f in webhook["config_fields"] if f["name"] == "signature.token")
    assert token["secret"] is True
    assert token["required"] is True


def test_connectors_validate_reports_problems_and_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(json.dumps(WEBHOOK))
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps([WEBHOOK, {**WEBHOOK, "name": "Bad Name", "retries": 3}]))
    ok = CliRunner().invoke(main, ["connectors", "validate", str(good)])
    assert ok.exit_code == 0
    assert "ok samr-hook (webhook, sink, webhook)" in ok.output
    refused = CliRunner().invoke(main, ["connectors", "validate", str(bad)])
    assert refused.exit_code == 1
    assert "retries: unknown key" in refused.output
    assert "name:" in refused.output
    assert "s3cret-token" not in refused.output
    shown = CliRunner().invoke(main, ["connectors", "show", str(good)])
    assert MASK in shown.output
    assert "s3cret-token" not in shown.output


# --- positions, mappers, transforms ---------------------------------------------------------------


def test_positions_and_marks_survive_reopening(tmp_path: Path) -> None:
    positions = SourcePositions.in_dir(tmp_path)
    positions.save({"a.csv": {"line": 3}, "b.csv": {"line": 1}})
    positions.save({"a.csv": {"line": 7}})
    positions.mark("file", "digest-1", {"name": "a.csv"})
    positions.close()
    reopened = SourcePositions.in_dir(tmp_path)
    assert reopened.load() == {"a.csv": {"line": 7}, "b.csv": {"line": 1}}
    assert reopened.marked("file", "digest-1") == {"name": "a.csv"}
    assert reopened.marked("file", "digest-2") is None
    assert reopened.reset(["b.csv"]) == 1
    assert reopened.load() == {"a.csv": {"line": 7}}


def test_flat_movement_reads_local_time_as_china_time() -> None:
    mapped = mapper_for("flat-movement").map(
        {
            "event_time": "2026-11-20 06:30",
            "biz_step": "shipping",
            "business_uscc": SLAUGHTERHOUSE,
            "batch": "TZ-01",
            "quantity": "1,200.5",
            "uom": "KGM",
            "destination_uscc": MARKET,
            "destination_name": "杭州某农副产品批发市场",
        }
    )
    (event,) = mapped.events
    assert event["eventTime"] == "2026-11-20T06:30:00+08:00"
    assert event["quantityList"][0] == {
        "epcClass": f"urn:tracebus:class:batch:{SLAUGHTERHOUSE}:TZ-01",
        "quantity": 1200.5,
        "uom": "KGM",
    }
    assert event["tb:destinationBusiness"] == {"tb:uscc": MARKET, "tb:name": "杭州某农副产品批发市场"}
    with pytest.raises(SourceRecordError) as missing:
        mapper_for("flat-movement").map({"event_time": "2026-11-20 06:30"})
    assert missing.value.reason == "missing-field"
    with pytest.raises(SourceRecordError) as bad_time:
        mapper_for("flat-movement").map({"event_time": "20/11/2026", "biz_step": "x", "business_uscc": "y"})
    assert bad_time.value.reason == "bad-time"


def test_epcis_mapper_takes_events_and_documents() -> None:
    epcis = mapper_for("epcis")
    event = {"type": "ObjectEvent", "eventTime": "2026-11-20T06:30:00+08:00", "action": "OBSERVE"}
    assert epcis.map(event).events == (event,)
    document = {"@context": ["x"], "type": "EPCISDocument", "epcisBody": {"eventList": [event, event]}}
    mapped = epcis.map(document)
    assert len(mapped.events) == 2
    assert mapped.context == ("x",)
    with pytest.raises(SourceRecordError, match="neither"):
        epcis.map({"type": "Invoice"})
    with pytest.raises(ConnectorConfigError, match="not registered"):
        mapper_for("no-such-mapper")


def test_filter_transform_uses_subscription_rules() -> None:
    record = movement_record(event_time="2026-11-20T06:30:00+08:00", trace_code="T1", reporter="r")
    assert RecordFilter([]).accepts(record)
    from connectors.config import Transform

    shipping = RecordFilter([Transform(type="filter", filter=SubscriptionFilter(biz_steps=["shipping"]))])
    receiving = RecordFilter([Transform(type="filter", filter=SubscriptionFilter(biz_steps=["receiving"]))])
    assert shipping.accepts(record)
    assert not receiving.accepts(record)


# --- the source runner's order of work ------------------------------------------------------------


class ListSource(Source):
    """A source over a fixed list, for the runner's ordering guarantees."""

    def __init__(self, records: list[SourceRecord]) -> None:
        self.name = "list"
        self.records = records
        self.committed_batches: list[list[str]] = []

    async def start(self, positions: dict[str, Any]) -> None:
        return None

    async def poll(self) -> Sequence[SourceRecord]:
        return []

    async def committed(self, records: Sequence[SourceRecord]) -> None:
        self.committed_batches.append([r.identity for r in records])


def _record(n: int, *, error: bool = False) -> SourceRecord:
    if error:
        return SourceRecord(
            partition="f", offset=n, identity=f"f:{n}", raw=b"bad,row", error=SourceRecordError("bad-time", "no")
        )
    event = {"type": "ObjectEvent", "eventTime": "2026-11-20T06:30:00+08:00", "n": n}
    return SourceRecord(partition="f", offset=n, identity=f"f:{n}", raw=b"row", events=(event,))


async def _runner(tmp_path: Path, records: list[SourceRecord], **config: Any) -> tuple[SourceRunner, Any, Any]:
    registry = EmbeddedRegistry()
    incoming = TopicSerializer(registry, "ns.events.incoming", INCOMING_SCHEMA.read_text())
    await incoming.bind()
    producer = RecordingProducer()
    source = ListSource(records)
    cfg = parse_config(SourceConfig, {"name": "list-source", "connector.class": "x", **config})
    runner = SourceRunner(
        source=source,
        config=cfg,
        producer=producer,
        incoming=incoming,
        dead_letters=DeadLetterPublisher(producer, "ns.deadletter"),
        positions=SourcePositions.in_dir(tmp_path),
    )
    return runner, producer, Deserializer(registry)


async def test_publish_sends_events_and_dead_letters_then_saves_positions(tmp_path: Path) -> None:
    records = [_record(1), _record(2, error=True), _record(3)]
    runner, producer, deserializer = await _runner(tmp_path, records)
    await runner.publish(records)
    events = [r for r in producer.sent if r.topic == "ns.events.incoming"]
    letters = [r for r in producer.sent if r.topic == "ns.deadletter"]
    assert [r.key for r in events] == [b"f:1", b"f:3"]
    envelope = await deserializer.decode_any(events[0].value)
    assert envelope["source"] == "list-source"
    assert envelope["source_record"] == "f:1"
    assert orjson.loads(envelope["event_json"])["n"] == 1
    assert len(letters) == 1
    assert letters[0].value == b"bad,row"
    context = read_context(letters[0].headers or [])
    assert context["stage"] == "source:list-source"
    assert context["reason"] == "bad-time"
    assert runner.positions.load() == {"f": 3}
    assert runner.source.committed_batches == [["f:1", "f:2", "f:3"]]  # type: ignore[attr-defined]
    assert (runner.stats.records, runner.stats.events, runner.stats.dead_letters) == (3, 2, 1)


async def test_nothing_is_saved_when_kafka_does_not_acknowledge(tmp_path: Path) -> None:
    records = [_record(1)]
    runner, producer, _ = await _runner(tmp_path, records)
    producer.fail_with = RuntimeError("broker gone")
    with pytest.raises(RuntimeError):
        await runner.publish(records)
    assert runner.positions.load() == {}
    assert runner.source.committed_batches == []  # type: ignore[attr-defined]


async def test_tolerance_none_fails_at_the_bad_record_after_publishing_those_before(tmp_path: Path) -> None:
    records = [_record(1), _record(2, error=True), _record(3)]
    runner, producer, _ = await _runner(tmp_path, records, **{"errors.tolerance": "none"})
    with pytest.raises(SourceFailedError, match="f:2"):
        await runner.publish(records)
    assert [r.key for r in producer.sent] == [b"f:1"]
    assert runner.positions.load() == {"f": 1}


def test_the_shipped_connector_files_are_valid() -> None:
    from connectors.config import load_config_file
    from streams.settings import OPS_DIR

    files = sorted((OPS_DIR / "connectors").glob("*.yaml"))
    assert files
    names = []
    for path in files:
        for raw in load_config_file(path):
            _, config = parse_any(raw, origin=str(path))
            names.append(config.name)
    assert len(names) == len(set(names)), "connector names are unique"
    drops = {p.name for p in (OPS_DIR / "samples" / "drop").iterdir() if p.is_dir()}
    assert drops <= set(names), "every sample drop folder feeds a shipped connector"


def test_a_sink_connector_reads_every_topic_it_names(tmp_path: Path) -> None:
    from connectors.runtime.worker import ConnectorWorker
    from streams.settings import Settings
    from streams.sinks import SinkRunner

    settings = Settings(namespace="ns", connectors_dir=None, connector_state_dir=tmp_path)
    worker = ConnectorWorker(
        settings=settings,
        kafka=settings.kafka,
        producer=RecordingProducer(),
        registry=EmbeddedRegistry(),
        state_root=tmp_path,
    )
    spec, config = parse_any(
        {
            "name": "two-topics",
            "connector.class": "jsonl-sink",
            "topics": ["deliver.a", "deliver.b"],
            "file.path": str(tmp_path / "out"),
        }
    )
    runner = worker._runner(spec, config)
    assert isinstance(runner, SinkRunner)
    assert runner.topics == ["ns.deliver.a", "ns.deliver.b"]
    assert runner.group_id == "ns-connector-two-topics"


async def test_a_record_whose_events_cannot_be_encoded_is_dead_lettered_not_stalled(tmp_path: Path) -> None:
    from decimal import Decimal

    event = {"type": "ObjectEvent", "eventTime": "2026-11-20T06:30:00+08:00", "quantity": Decimal("1.5")}
    broken = SourceRecord(partition="f", offset=2, identity="f:2", raw=b"native row", events=(event,))
    records = [_record(1), broken, _record(3)]
    runner, producer, _ = await _runner(tmp_path, records)
    await runner.publish(records)
    assert [r.key for r in producer.sent if r.topic == "ns.events.incoming"] == [b"f:1", b"f:3"]
    (letter,) = [r for r in producer.sent if r.topic == "ns.deadletter"]
    assert letter.value == b"native row"
    assert read_context(letter.headers or [])["reason"] == "unencodable"
    assert runner.positions.load() == {"f": 3}


def test_a_mapper_bug_becomes_an_error_record_for_every_source() -> None:
    from connectors.mapping.base import Mapped, RecordMapper, map_to_record

    class Buggy(RecordMapper):
        name = "buggy"

        def map(self, record: Mapping[str, Any]) -> Mapped:
            return Mapped(({"n": record["missing"]},))

    found = map_to_record(Buggy(), {"a": 1}, partition="t", offset={"id": 7}, identity="t:7", raw=b'{"a": 1}')
    assert found.error is not None
    assert found.error.reason == "mapper-failed"
    assert (found.raw, found.offset, found.events) == (b'{"a": 1}', {"id": 7}, ())
    refused = map_to_record(mapper_for("epcis"), {"type": "Invoice"}, partition="t", offset=1, identity="t:1", raw=b"x")
    assert refused.error is not None
    assert refused.error.reason == "not-epcis"
