"""schemas.registry.embedded: derived ids, the shared log, compatibility, shipped schemas.

Expected ids are computed here with hashlib over Parsing Canonical Forms written by hand
(or produced by the Apache ``avro`` library, an implementation independent of fastavro).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import avro.schema
import pytest

from schemas.errors import IncompatibleSchemaError, SchemaError, SchemaNotFoundError
from schemas.registry.embedded import EmbeddedRegistry, MemorySchemaLog, SchemaLogEntry, derived_schema_id

AVRO = Path(__file__).resolve().parents[2] / "schemas" / "avro"
SUBJECT = "tracebus.tiny-value"

TINY = json.dumps(
    {
        "type": "record",
        "name": "Tiny",
        "namespace": "ns",
        "doc": "a tiny record",
        "fields": [{"name": "a", "type": "long", "doc": "a number"}],
    }
)
# Parsing Canonical Form by hand: attributes in the order name, type, fields; namespace folded
# into the full name; doc stripped; no whitespace.
TINY_PCF = '{"name":"ns.Tiny","type":"record","fields":[{"name":"a","type":"long"}]}'
# the same schema: other key order, whitespace, no doc, full name instead of namespace
TINY_VARIANTS = [
    '{ "fields" : [ { "type" : "long", "name" : "a" } ],\n  "name" : "Tiny", "namespace" : "ns", "type" : "record" }',
    '{"type":"record","name":"ns.Tiny","fields":[{"name":"a","type":"long"}]}',
    TINY_PCF,
]
TINY_V2_OPTIONAL = json.dumps(
    {
        "type": "record",
        "name": "Tiny",
        "namespace": "ns",
        "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": ["null", "string"], "default": None}],
    }
)
TINY_V2_BREAKING = json.dumps(
    {
        "type": "record",
        "name": "Tiny",
        "namespace": "ns",
        "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string"}],
    }
)
# the shipped raw_submission v1, canonical form by hand; its SHA-256 is locked in released.json
RAW_V1_PCF = (
    '{"name":"cn.tracebus.v1.RawSubmission","type":"record","fields":['
    '{"name":"capture_id","type":"string"},{"name":"source","type":"string"},'
    '{"name":"content_type","type":"string"},{"name":"received_at_ms","type":"long"},'
    '{"name":"remote_address","type":["null","string"]},{"name":"body","type":"bytes"}]}'
)
RAW_V1_SHA256 = "6b4946e91bde677b7e421c61415549e79646a150d81ffbb585d294c3b45228ef"
# the shipped trace_event v1 (too long to write by hand): SHA-256 of the canonical form the Apache
# avro library computes, pinned here; released.json locks the same value
TRACE_V1_SHA256 = "3aca549a66d53a72737496fae4a04cf01e46c1ec3e0eb8fe36d4ef3be6a486e0"


def expected_id(pcf: str) -> int:
    return int.from_bytes(hashlib.sha256(pcf.encode()).digest()[:4], "big") & 0x7FFFFFFF


def test_derived_id_is_31_bits_of_sha256_of_canonical_form() -> None:
    schema_id = derived_schema_id(TINY)
    assert schema_id == expected_id(TINY_PCF)
    assert 0 < schema_id <= 0x7FFFFFFF


@pytest.mark.parametrize("variant", TINY_VARIANTS)
def test_derived_id_ignores_key_order_whitespace_and_doc(variant: str) -> None:
    assert derived_schema_id(variant) == derived_schema_id(TINY)


def test_primitive_in_object_form_has_the_id_of_its_name() -> None:
    assert derived_schema_id('{"type": "long"}') == derived_schema_id('"long"') == expected_id('"long"')


def test_different_schemas_derive_different_ids() -> None:
    other = TINY.replace('"name": "a"', '"name": "b"')
    assert derived_schema_id(other) != derived_schema_id(TINY)
    assert derived_schema_id(TINY_V2_OPTIONAL) != derived_schema_id(TINY)


def test_invalid_schema_text_raises_schema_error() -> None:
    with pytest.raises(SchemaError, match="not a valid Avro schema"):
        derived_schema_id("{not json")


async def test_register_returns_the_derived_id_in_every_instance() -> None:
    first = await EmbeddedRegistry().register(SUBJECT, TINY)
    second = await EmbeddedRegistry().register(SUBJECT, TINY_VARIANTS[0])
    assert first == second == expected_id(TINY_PCF)


async def test_register_is_idempotent() -> None:
    log = MemorySchemaLog()
    registry = EmbeddedRegistry(log)
    first = await registry.register(SUBJECT, TINY)
    assert await registry.register(SUBJECT, TINY) == first
    assert await registry.register(SUBJECT, TINY_VARIANTS[1]) == first
    assert len(log.entries) == 1
    assert (await registry.latest(SUBJECT)).version == 1


async def test_registration_appends_to_the_log() -> None:
    log = MemorySchemaLog()
    schema_id = await EmbeddedRegistry(log).register(SUBJECT, TINY)
    assert log.entries == [SchemaLogEntry(subject=SUBJECT, schema_id=schema_id, schema=TINY)]


async def test_registries_sharing_a_log_see_each_others_registrations() -> None:
    log = MemorySchemaLog()
    writer, reader = EmbeddedRegistry(log), EmbeddedRegistry(log)
    await reader.start()  # started before the registration: must still find it later
    schema_id = await writer.register(SUBJECT, TINY)
    assert await reader.schema_by_id(schema_id) == TINY
    latest = await reader.latest(SUBJECT)
    assert (latest.subject, latest.version, latest.schema_id, latest.schema) == (SUBJECT, 1, schema_id, TINY)


async def test_compatibility_is_checked_against_versions_registered_elsewhere() -> None:
    log = MemorySchemaLog()
    await EmbeddedRegistry(log).register(SUBJECT, TINY)
    other = EmbeddedRegistry(log)
    with pytest.raises(IncompatibleSchemaError, match=f"^{SUBJECT}: "):
        await other.register(SUBJECT, TINY_V2_BREAKING)


async def test_incompatible_v2_is_refused_naming_the_subject() -> None:
    log = MemorySchemaLog()
    registry = EmbeddedRegistry(log)
    await registry.register(SUBJECT, TINY)
    assert not await registry.is_compatible(SUBJECT, TINY_V2_BREAKING)
    with pytest.raises(IncompatibleSchemaError) as caught:
        await registry.register(SUBJECT, TINY_V2_BREAKING)
    message = str(caught.value)
    assert message.startswith(f"{SUBJECT}: version 1, backward")
    assert "/fields/b: reader field has no default and is missing from writer" in message
    assert len(log.entries) == 1
    assert (await registry.latest(SUBJECT)).version == 1


async def test_compatible_v2_is_registered_as_version_2() -> None:
    registry = EmbeddedRegistry()
    await registry.register(SUBJECT, TINY)
    assert await registry.is_compatible(SUBJECT, TINY_V2_OPTIONAL)
    v2_id = await registry.register(SUBJECT, TINY_V2_OPTIONAL)
    latest = await registry.latest(SUBJECT)
    assert (latest.version, latest.schema_id, latest.schema) == (2, v2_id, TINY_V2_OPTIONAL)


async def test_set_compatibility_none_allows_a_breaking_change() -> None:
    registry = EmbeddedRegistry()
    await registry.register(SUBJECT, TINY)
    await registry.set_compatibility(SUBJECT, "NONE")
    assert await registry.is_compatible(SUBJECT, TINY_V2_BREAKING)
    v2_id = await registry.register(SUBJECT, TINY_V2_BREAKING)
    assert (await registry.latest(SUBJECT)).version == 2
    assert await registry.schema_by_id(v2_id) == TINY_V2_BREAKING


async def test_compatibility_level_is_per_subject() -> None:
    registry = EmbeddedRegistry()
    await registry.register(SUBJECT, TINY)
    await registry.register("other-value", TINY)
    await registry.set_compatibility("other-value", "NONE")
    with pytest.raises(IncompatibleSchemaError, match=f"^{SUBJECT}: "):
        await registry.register(SUBJECT, TINY_V2_BREAKING)


async def test_default_level_applies_to_new_subjects() -> None:
    registry = EmbeddedRegistry(default_level="NONE")
    await registry.register(SUBJECT, TINY)
    await registry.register(SUBJECT, TINY_V2_BREAKING)
    assert (await registry.latest(SUBJECT)).version == 2


async def test_latest_counts_versions() -> None:
    registry = EmbeddedRegistry()
    await registry.register(SUBJECT, TINY)
    assert (await registry.latest(SUBJECT)).version == 1
    await registry.register(SUBJECT, TINY_V2_OPTIONAL)
    await registry.register(SUBJECT, TINY)  # an existing version: no new one
    latest = await registry.latest(SUBJECT)
    assert (latest.version, latest.schema) == (2, TINY_V2_OPTIONAL)


def test_hand_written_canonical_form_of_raw_submission_is_the_released_one() -> None:
    assert hashlib.sha256(RAW_V1_PCF.encode()).hexdigest() == RAW_V1_SHA256


async def test_shipped_raw_submission_is_resolvable_without_registration() -> None:
    text = (AVRO / "raw_submission" / "v1.avsc").read_text(encoding="utf-8")
    assert await EmbeddedRegistry().schema_by_id(expected_id(RAW_V1_PCF)) == text


def test_canonical_form_of_trace_event_v1_by_the_avro_library_is_the_released_one() -> None:
    text = (AVRO / "trace_event" / "v1.avsc").read_text(encoding="utf-8")
    pcf = avro.schema.parse(text).canonical_form
    assert hashlib.sha256(pcf.encode()).hexdigest() == TRACE_V1_SHA256


async def test_shipped_trace_event_is_resolvable_without_registration() -> None:
    text = (AVRO / "trace_event" / "v1.avsc").read_text(encoding="utf-8")
    pcf = avro.schema.parse(text).canonical_form
    assert await EmbeddedRegistry().schema_by_id(expected_id(pcf)) == text
    assert derived_schema_id(text) == expected_id(pcf)


def test_the_provisional_trace_event_v0_is_no_longer_shipped() -> None:
    assert not (AVRO / "trace_event" / "v0.avsc").exists()


async def test_shipped_schemas_can_be_restricted(tmp_path: Path) -> None:
    path = tmp_path / "v1.avsc"
    path.write_text(TINY, encoding="utf-8")
    registry = EmbeddedRegistry(shipped=[path])
    assert await registry.schema_by_id(expected_id(TINY_PCF)) == TINY
    with pytest.raises(SchemaNotFoundError):
        await registry.schema_by_id(expected_id(RAW_V1_PCF))


async def test_unknown_id_raises_schema_not_found() -> None:
    with pytest.raises(SchemaNotFoundError, match="schema id 7 is neither shipped nor registered"):
        await EmbeddedRegistry().schema_by_id(7)


async def test_unknown_subject_raises_schema_not_found() -> None:
    with pytest.raises(SchemaNotFoundError, match="subject 'nobody-value' not found"):
        await EmbeddedRegistry().latest("nobody-value")


async def test_log_entry_cannot_alias_a_shipped_id() -> None:
    log = MemorySchemaLog()
    log.entries.append(SchemaLogEntry(subject=SUBJECT, schema_id=expected_id(RAW_V1_PCF), schema=TINY))
    # the entry claims the shipped id but carries another schema: the registry derives the id itself
    registry = EmbeddedRegistry(log)
    await registry.start()
    text = (AVRO / "raw_submission" / "v1.avsc").read_text(encoding="utf-8")
    assert await registry.schema_by_id(expected_id(RAW_V1_PCF)) == text
    assert await registry.schema_by_id(expected_id(TINY_PCF)) == TINY


async def test_a_log_entry_whose_id_is_not_derived_is_ignored() -> None:
    schema = '{"type": "record", "name": "Forged", "fields": [{"name": "a", "type": "string"}]}'
    log = MemorySchemaLog()
    log.entries.append(SchemaLogEntry(subject="forged-value", schema_id=42, schema=schema))
    registry = EmbeddedRegistry(log, shipped=[])
    await registry.start()
    with pytest.raises(SchemaNotFoundError):
        await registry.latest("forged-value")
    assert await registry.schema_by_id(derived_schema_id(schema)) == schema
