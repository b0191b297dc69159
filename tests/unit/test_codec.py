"""schemas.codec: Confluent framing, the Avro codec, TopicSerializer and Deserializer.

Expected bytes are written out by hand from the Avro specification (zigzag varints,
length-prefixed UTF-8 strings, union branch index before the value).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas import models
from schemas.codec import AvroCodec, Deserializer, TopicSerializer, frame, unframe
from schemas.errors import WireFormatError
from schemas.registry.embedded import EmbeddedRegistry, MemorySchemaLog

AVRO = Path(__file__).resolve().parents[2] / "schemas" / "avro"
RAW_V1 = (AVRO / "raw_submission" / "v1.avsc").read_text(encoding="utf-8")
TRACE_LATEST = (AVRO / "trace_event" / "v3.avsc").read_text(encoding="utf-8")

SMALL = json.dumps(
    {"type": "record", "name": "Small", "fields": [{"name": "a", "type": "long"}, {"name": "s", "type": "string"}]}
)
SMALL_V2 = json.dumps(
    {
        "type": "record",
        "name": "Small",
        "fields": [
            {"name": "a", "type": "long"},
            {"name": "s", "type": "string"},
            {"name": "lot", "type": ["null", "string"], "default": None},
            {"name": "count", "type": "int", "default": 7},
        ],
    }
)


# --- framing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema_id", "header"),
    [
        (0, b"\x00\x00\x00\x00\x00"),
        (1, b"\x00\x00\x00\x00\x01"),
        (258, b"\x00\x00\x00\x01\x02"),
        (0x7FFFFFFF, b"\x00\x7f\xff\xff\xff"),
        (0xFFFFFFFF, b"\x00\xff\xff\xff\xff"),
    ],
)
def test_frame_writes_magic_zero_and_big_endian_id(schema_id: int, header: bytes) -> None:
    assert frame(schema_id, b"body") == header + b"body"


def test_unframe_splits_header_from_body() -> None:
    schema_id, body = unframe(b"\x00\x00\x00\x01\x02\x02\x04hi")
    assert schema_id == 258
    assert bytes(body) == b"\x02\x04hi"


def test_unframe_of_header_only_gives_empty_body() -> None:
    schema_id, body = unframe(b"\x00\x12\x34\x56\x78")
    assert schema_id == 0x12345678
    assert bytes(body) == b""


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x00\x01"])
def test_unframe_refuses_input_shorter_than_header(data: bytes) -> None:
    with pytest.raises(WireFormatError, match=f"record is {len(data)} bytes, shorter than the 5-byte Confluent header"):
        unframe(data)


def test_unframe_refuses_wrong_magic_byte() -> None:
    with pytest.raises(WireFormatError, match=r"magic byte is 1, expected 0 \(not Confluent-framed Avro\)"):
        unframe(b"\x01\x00\x00\x00\x01\x02")


# --- Avro bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"a": 1, "s": "hi"}, b"\x02\x04hi"),
        ({"a": 0, "s": ""}, b"\x00\x00"),
        ({"a": -1, "s": "x"}, b"\x01\x02x"),
        ({"a": 64, "s": "x"}, b"\x80\x01\x02x"),
        ({"a": 0, "s": "中"}, b"\x00\x06\xe4\xb8\xad"),
    ],
)
def test_avro_encoding_matches_hand_computed_bytes(record: dict[str, Any], expected: bytes) -> None:
    codec = AvroCodec(SMALL)
    assert codec.encode(record) == expected
    assert codec.decode(expected) == record


def test_raw_submission_encoding_matches_hand_computed_bytes() -> None:
    record = {
        "capture_id": "c",
        "source": "s",
        "content_type": "",
        "received_at_ms": 1,
        "remote_address": None,
        "body": b"\x00",
    }
    # strings: zigzag length then UTF-8; long 1 -> 0x02; null branch 0 -> 0x00; bytes like strings
    assert AvroCodec(RAW_V1).encode(record) == b"\x02c\x02s\x00\x02\x00\x02\x00"
    with_address = {**record, "remote_address": "ip"}
    assert AvroCodec(RAW_V1).encode(with_address) == b"\x02c\x02s\x00\x02\x02\x04ip\x02\x00"


def test_raw_submission_round_trip_keeps_body_bytes() -> None:
    body = '{"source":"国家市场监督管理总局","x":"\u0000"}'.encode() + b"\xff\xfe"
    record = {
        "capture_id": "0f" * 16,
        "source": "农业农村部",
        "content_type": "application/ld+json; charset=utf-8",
        "received_at_ms": 1_763_509_200_123,
        "remote_address": "127.0.0.1",
        "body": body,
    }
    codec = AvroCodec(RAW_V1)
    assert codec.decode(codec.encode(record)) == record


def _trace_event() -> dict[str, Any]:
    """A v1 record as capture builds it for a slaughterhouse's outbound TransformationEvent.

    Built through the pydantic twin of the contract, so every field of the record is present
    (``model_dump`` writes the defaults too) and no field name is misspelt by hand.
    """
    event = models.EpcisEvent(
        type=models.EventType.TRANSFORMATION,
        event_id="ni:///sha-256;" + "0" * 63 + "1?ver=CBV2.0",
        event_time="2026-11-19T07:40:00.250+08:00",
        event_time_ms=1_763_509_200_250,
        event_time_zone_offset="+08:00",
        record_time="2026-11-19T07:41:02Z",
        certification_info=["https://cert.example.cn/动物检疫/3301-2026-000187"],
        input_quantity_list=[
            models.QuantityElement(
                epc_class="urn:epc:class:lgtin:6905555.000871.HV20261119B3", quantity=1200, uom="KGM"
            )
        ],
        output_epc_list=["urn:epc:id:sscc:6905555.0000000019"],
        output_quantity_list=[models.QuantityElement(epc_class="urn:epc:class:lgtin:6905555.000872.P1", quantity=2.5)],
        transformation_id="urn:epc:id:gdti:6905555.00000.分割-17",
        biz_step="commissioning",
        disposition="active",
        persistent_disposition=models.PersistentDisposition(set=["completeness_verified"]),
        read_point=models.Place(id="urn:epc:id:sgln:6905555.00003.0", extensions={"demo:workshop": '"二号分割车间"'}),
        biz_transaction_list=[models.BizTransaction(type="po", value="urn:epcglobal:cbv:bt:6905555000002:采购-88")],
        source_list=[models.SourceDestination(type="owning_party", id="urn:epc:id:pgln:6905555.00000")],
        destination_list=[models.SourceDestination(type="location", id="urn:epc:id:sgln:6901234.00001.0")],
        sensor_element_list=[
            models.SensorElement(
                metadata=models.SensorMetadata(
                    time="2026-11-19T07:39:00+08:00", device_id="urn:epc:id:giai:6905555.冷库1"
                ),
                reports=[models.SensorReport(type="Temperature", value=-18.5, uom="CEL", string_value="冷冻")],
            )
        ],
        ilmd={"demo:origin": '"浙江省杭州市萧山区"'},
        extensions={"demo:plot": '"萧山区 3 号基地 B 地块"', "demo:measure": '{"z":2.5,"a":[true,null]}'},
    )
    trace = models.TraceExtension(
        reporting_department=models.Department.MOFCOM,
        reporting_platform="浙江省肉菜流通追溯平台",
        product_category="0101",
        business_uscc="91350200776049653A",
        business_role="屠宰企业",
        region_code="330109",
        outbound_batch="HV20261119B3-出-01",
        trace_code="33010920261119000187",
        certificates=[
            models.Certificate(
                type=models.CertificateType.ANIMAL_QUARANTINE, number="3301-2026-000187", issuer="萧山区动物卫生监督所"
            ),
            models.Certificate(type=models.CertificateType.MEAT_QUALITY, number="MQ-17"),
        ],
        source_business=models.BusinessRef(uscc="92330109MA2B00043H", name="萧山区某生猪养殖场"),
        destination_business=models.BusinessRef(name="杭州某农贸市场"),
    )
    record = models.TraceEvent(
        event_id="ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0",
        trace_key="urn:epc:class:lgtin:6905555.000871.HV20261119B3",
        reporter="浙江省农产品质量安全追溯平台",
        capture_id="c1",
        received_at_ms=1_763_509_201_000,
        context_json='[{"demo":"https://demo.tracebus.invalid/ns/"},{"tb":"urn:tracebus:ns:trace:"}]',
        flags=["stale-event-id"],
        event=event,
        trace=trace,
    )
    dumped: dict[str, Any] = record.model_dump(mode="json")
    return dumped


def test_trace_event_round_trip_with_chinese_strings() -> None:
    codec = AvroCodec(TRACE_LATEST)
    record = _trace_event()
    encoded = codec.encode(record)
    for text in ("浙江省农产品质量安全追溯平台", "萧山区 3 号基地 B 地块", "萧山区动物卫生监督所", "冷冻"):
        assert text.encode() in encoded  # strings travel as their UTF-8 bytes
    assert codec.decode(encoded) == record


def test_trace_event_round_trip_without_trace_extension_and_optional_parts() -> None:
    codec = AvroCodec(TRACE_LATEST)
    record = _trace_event()
    record["trace"] = None
    record["flags"] = []
    record["event"] |= {
        "sensor_element_list": None,
        "ilmd": None,
        "certification_info": "urn:cert:单个",
        "extensions": {},
    }
    assert codec.decode(codec.encode(record)) == record


def test_trace_event_encoding_rejects_an_unknown_event_type() -> None:
    record = _trace_event()
    record["event"]["type"] = "EPCISDocument"
    with pytest.raises(WireFormatError, match="EPCISDocument"):
        AvroCodec(TRACE_LATEST).encode(record)


def test_trace_event_encoding_rejects_an_unknown_department() -> None:
    record = _trace_event()
    record["trace"]["reporting_department"] = "商务部"
    with pytest.raises(WireFormatError, match="商务部"):
        AvroCodec(TRACE_LATEST).encode(record)


def test_reader_schema_with_added_default_fields_reads_v1_bytes() -> None:
    writer = AvroCodec(SMALL)
    reader = AvroCodec(SMALL_V2)
    assert reader.decode(b"\x02\x04hi", writer) == {"a": 1, "s": "hi", "lot": None, "count": 7}


def test_decode_with_itself_as_writer_is_plain_decode() -> None:
    codec = AvroCodec(SMALL)
    assert codec.decode(b"\x02\x04hi", codec) == {"a": 1, "s": "hi"}


def test_unresolvable_writer_raises_wire_format_error() -> None:
    writer = AvroCodec(json.dumps({"type": "record", "name": "Small", "fields": [{"name": "a", "type": "string"}]}))
    with pytest.raises(WireFormatError, match="does not decode"):
        AvroCodec(SMALL).decode(b"\x04hi", writer)


@pytest.mark.parametrize(
    "body",
    [
        b"",  # nothing at all
        b"\x02",  # string missing
        b"\x02\x08hi",  # string declares 4 bytes, 2 follow
        b"\x02\x04\xff\xfe",  # not UTF-8
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # varint never ends within a long
    ],
)
def test_corrupted_bodies_raise_wire_format_error(body: bytes) -> None:
    with pytest.raises(WireFormatError, match="Avro body does not decode"):
        AvroCodec(SMALL).decode(body)


def test_out_of_range_enum_and_union_indexes_raise_wire_format_error() -> None:
    schema = json.dumps(
        {
            "type": "record",
            "name": "E",
            "fields": [
                {"name": "e", "type": {"type": "enum", "name": "Sym", "symbols": ["A", "B"]}},
                {"name": "u", "type": ["null", "string"]},
            ],
        }
    )
    codec = AvroCodec(schema)
    assert codec.decode(b"\x02\x02\x02z") == {"e": "B", "u": "z"}
    with pytest.raises(WireFormatError):
        codec.decode(b"\x04\x00")  # enum index 2 of 2 symbols
    with pytest.raises(WireFormatError):
        codec.decode(b"\x00\x06")  # union branch 3 of 2


def test_non_record_schema_decodes_to_wire_format_error() -> None:
    with pytest.raises(WireFormatError, match="non-record"):
        AvroCodec('"long"').decode(b"\x02")


# --- TopicSerializer and Deserializer -----------------------------------------------------------


async def test_topic_serializer_refuses_serialize_before_bind() -> None:
    serializer = TopicSerializer(EmbeddedRegistry(), "tracebus.test", SMALL)
    with pytest.raises(RuntimeError, match=r"serializer for tracebus.test used before bind\(\)"):
        serializer.serialize({"a": 1, "s": "hi"})


async def test_topic_serializer_frames_with_the_bound_id_under_topic_subject() -> None:
    registry = EmbeddedRegistry()
    serializer = TopicSerializer(registry, "tracebus.test", SMALL)
    assert serializer.subject == "tracebus.test-value"
    schema_id = await serializer.bind()
    assert serializer.schema_id == schema_id
    assert (await registry.latest("tracebus.test-value")).schema_id == schema_id
    assert serializer.serialize({"a": 1, "s": "hi"}) == b"\x00" + schema_id.to_bytes(4, "big") + b"\x02\x04hi"


async def test_deserializer_resolves_ids_registered_by_another_process() -> None:
    log = MemorySchemaLog()
    serializer = TopicSerializer(EmbeddedRegistry(log), "tracebus.test", SMALL)
    await serializer.bind()
    data = serializer.serialize({"a": 64, "s": "中"})
    deserializer = Deserializer(EmbeddedRegistry(log))
    assert not deserializer.knows(data)
    assert await deserializer.decode_any(data) == {"a": 64, "s": "中"}
    assert deserializer.knows(data)
    assert deserializer.decode(data) == {"a": 64, "s": "中"}


async def test_deserializer_with_reader_schema_resolves_old_writer() -> None:
    log = MemorySchemaLog()
    serializer = TopicSerializer(EmbeddedRegistry(log), "tracebus.test", SMALL)
    await serializer.bind()
    deserializer = Deserializer(EmbeddedRegistry(log), reader_schema=SMALL_V2)
    decoded = await deserializer.decode_any(serializer.serialize({"a": 1, "s": "hi"}))
    assert decoded == {"a": 1, "s": "hi", "lot": None, "count": 7}


async def test_deserializer_decodes_shipped_schema_without_registration() -> None:
    registry = EmbeddedRegistry()
    serializer = TopicSerializer(registry, "tracebus.capture.raw", RAW_V1)
    await serializer.bind()
    record = {
        "capture_id": "c",
        "source": "s",
        "content_type": "",
        "received_at_ms": 1,
        "remote_address": None,
        "body": b"\x00",
    }
    data = serializer.serialize(record)
    # a fresh registry with an empty log still knows every shipped schema
    assert await Deserializer(EmbeddedRegistry()).decode_any(data) == record


async def test_deserializer_unknown_id_raises_wire_format_error() -> None:
    deserializer = Deserializer(EmbeddedRegistry())
    data = frame(12345, b"\x02\x04hi")
    with pytest.raises(WireFormatError, match="schema id 12345 is unknown to the registry"):
        await deserializer.decode_any(data)
    with pytest.raises(WireFormatError, match=r"schema id 12345 not prepared; call prepare\(\) first"):
        deserializer.decode(data)


async def test_deserializer_refuses_unframed_bytes() -> None:
    with pytest.raises(WireFormatError, match="magic byte"):
        await Deserializer(EmbeddedRegistry()).decode_any(b"\x02\x04hi\x00\x00")
    assert not Deserializer(EmbeddedRegistry()).knows(b"\x00\x00")


async def test_deserializer_corrupted_body_raises_wire_format_error() -> None:
    registry = EmbeddedRegistry()
    serializer = TopicSerializer(registry, "tracebus.test", SMALL)
    await serializer.bind()
    data = serializer.serialize({"a": 1, "s": "hi"})
    with pytest.raises(WireFormatError, match="does not decode"):
        await Deserializer(registry).decode_any(data[:-1])


def test_magic_byte_is_reported_unsigned() -> None:
    with pytest.raises(WireFormatError, match="magic byte is 255"):
        unframe(b"\xff\x00\x00\x00\x01")


def test_trailing_bytes_after_a_record_are_ignored_like_confluent_deserializers_do() -> None:
    codec = AvroCodec('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}')
    assert codec.decode(b"\x02") == {"a": 1}
    assert codec.decode(b"\x02xyz") == {"a": 1}


def test_cavro_and_fastavro_agree_byte_for_byte_on_the_trace_event() -> None:
    import io

    import fastavro

    from schemas.codec import parse_schema

    record = _trace_event()
    ours = AvroCodec(TRACE_LATEST).encode(record)
    reference = io.BytesIO()
    fastavro.schemaless_writer(reference, parse_schema(TRACE_LATEST), record)
    assert ours == reference.getvalue()
    assert fastavro.schemaless_reader(io.BytesIO(ours), parse_schema(TRACE_LATEST), None) == AvroCodec(
        TRACE_LATEST
    ).decode(ours)


async def test_a_v1_record_reads_as_the_latest_contract_with_defaults() -> None:
    v1_text = (AVRO / "trace_event" / "v1.avsc").read_text(encoding="utf-8")
    registry = EmbeddedRegistry(MemorySchemaLog())
    await registry.start()
    writer = TopicSerializer(registry, "old.producer", v1_text)
    await writer.bind()
    record = _trace_event()
    later = {"enrichment", "observation_id", "provenance", "linked_observations"}
    v1_record = {k: v for k, v in record.items() if k not in later}
    reader = Deserializer(registry, reader_schema=TRACE_LATEST)
    decoded = await reader.decode_any(writer.serialize(v1_record))
    assert decoded == {
        **v1_record,
        "enrichment": None,
        "observation_id": None,
        "provenance": [],
        "linked_observations": [],
    }
