"""Codec benchmark: which Avro library carries our records fastest (encode + decode round trips).

Two records: a compact ~750-byte trace event (the shape ``../shared/reference/performance.md``
measured), and the real ``trace_event`` v1 record the bus carries (~100 field slots, mostly
nullable unions), each through fastavro, cavro (our codec, ``schemas.codec.AvroCodec``) and,
for the compact one, Apache ``avro``.

Run: ``make bench`` (or ``.venv/bin/python bench/codec.py [--seconds N]``). Prints a table and, last,
one JSON line. It is a measurement, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import io
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import fastavro

from schemas.codec import AvroCodec, frame, unframe

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "BenchTraceEvent",
    "namespace": "cn.tracebus.bench",
    "fields": [
        {"name": "event_id", "type": {"type": "string", "logicalType": "uuid"}},
        {
            "name": "event_type",
            "type": {"type": "enum", "name": "Kind", "symbols": ["OBJECT", "AGGREGATION", "TRANSFORMATION"]},
        },
        {"name": "biz_step", "type": {"type": "enum", "name": "Step", "symbols": ["shipping", "receiving", "packing"]}},
        {"name": "gtin", "type": "string"},
        {"name": "batch", "type": "string"},
        {"name": "trace_code", "type": "string"},
        {"name": "quantity", "type": "double"},
        {"name": "unit", "type": "string"},
        {"name": "event_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "business_uscc", "type": "string"},
        {"name": "business_name", "type": "string"},
        {"name": "region_code", "type": "string"},
        {"name": "location_gln", "type": "string"},
        {"name": "source_uscc", "type": ["null", "string"], "default": None},
        {"name": "destination_uscc", "type": ["null", "string"], "default": None},
        {"name": "product_name", "type": "string"},
        {"name": "attributes", "type": {"type": "map", "values": "string"}},
    ],
}


def sample() -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "event_id": str(uuid.UUID(int=0x1234567890ABCDEF1234567890ABCDEF)),
        "event_type": "OBJECT",
        "biz_step": "shipping",
        "gtin": "06901234567892",
        "batch": "SL20261120A",
        "trace_code": "81000000000000012345",
        "quantity": 420.5,
        "unit": "KGM",
        "event_time": datetime(2026, 11, 20, 6, 30, tzinfo=UTC),
        "business_uscc": "91350200776049653A",
        "business_name": "杭州市萧山区某某肉类食品有限公司",
        "region_code": "330109",
        "location_gln": "6901234000014",
        "source_uscc": "91440101MA5CJQ4N59",
        "destination_uscc": "91350200776049653A",
        "product_name": "冷鲜猪肉（白条）",
        "attributes": {
            "quarantine_certificate": "3301202611200042",
            "meat_quality_certificate": "ZJ-HZ-20261120-0042",
            "slaughter_batch": "TZ-20261120-07",
            "origin": "浙江省杭州市萧山区",
            "carrier": "杭州冷链物流有限公司",
            "vehicle": "浙A·D12345",
            "temperature": "0-4°C",
            "voucher": "PF-20261120-000917",
            "market": "杭州农副产品物流中心",
            "stall": "A-108",
            "inspector": "王某某",
            "packaging": "白条",
            "grade": "一级",
            "remark": "出厂检验合格，随车附动物检疫合格证明及肉品品质检验合格证，卡单同行",
        },
    }


def trace_event_v1() -> tuple[dict[str, Any], str]:
    """A realistic v1 record: a shipment with a lot, places, parties, a voucher and the tb: extension."""
    from datetime import timedelta

    from schemas.epcis.trace_extension import TRACE_NAMESPACE
    from streams.bus import CANONICAL_SCHEMA
    from streams.steps.base import Emit
    from streams.steps.validate import CaptureContext, validate_event
    from streams.testing import sample_shipment

    event = sample_shipment(1001)
    from datetime import UTC, datetime

    context = CaptureContext.of(
        reporter="MOFCOM", capture_id="bench", received_at_ms=0, context=[{"tb": TRACE_NAMESPACE}]
    )
    result = validate_event(event, context, now=datetime.now(UTC), future_skew=timedelta(minutes=5))
    assert isinstance(result, Emit)
    return result.value, CANONICAL_SCHEMA.read_text()


def rate(work: Callable[[], object], seconds: float) -> float:
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            work()
        done += 200
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per codec")
    args = parser.parse_args()
    record = sample()
    parsed = fastavro.parse_schema(SCHEMA)

    def fastavro_round_trip() -> object:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed, record)
        buffer.seek(0)
        return fastavro.schemaless_reader(buffer, parsed, None)

    plain = {**record, "event_time": int(record["event_time"].timestamp() * 1000)}
    no_logical = json.loads(
        json.dumps(SCHEMA)
        .replace('"logicalType": "uuid"', '"x": 1')
        .replace('"logicalType": "timestamp-millis"', '"x": 1')
    )
    ours = AvroCodec(json.dumps(no_logical))

    def tracebus_round_trip() -> object:  # what the bus does: no logical-type conversion, framed
        return ours.decode(unframe(frame(7, ours.encode(plain)))[1])

    import avro.io
    import avro.schema

    apache_schema = avro.schema.parse(json.dumps(SCHEMA))
    writer = avro.io.DatumWriter(apache_schema)
    reader = avro.io.DatumReader(apache_schema)

    def apache_round_trip() -> object:
        buffer = io.BytesIO()
        writer.write(record, avro.io.BinaryEncoder(buffer))
        buffer.seek(0)
        return reader.read(avro.io.BinaryDecoder(buffer))

    v1_record, v1_text = trace_event_v1()
    v1_parsed = fastavro.parse_schema(json.loads(v1_text))
    v1_codec = AvroCodec(v1_text)

    def fastavro_v1_round_trip() -> object:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, v1_parsed, v1_record)
        buffer.seek(0)
        return fastavro.schemaless_reader(buffer, v1_parsed, None)

    def tracebus_v1_round_trip() -> object:
        return v1_codec.decode(unframe(frame(7, v1_codec.encode(v1_record)))[1])

    size = len(ours.encode(plain))
    results = {
        "fastavro": rate(fastavro_round_trip, args.seconds),
        "tracebus_codec": rate(tracebus_round_trip, args.seconds),
        "apache_avro": rate(apache_round_trip, args.seconds),
        "fastavro_v1": rate(fastavro_v1_round_trip, args.seconds),
        "tracebus_codec_v1": rate(tracebus_v1_round_trip, args.seconds),
    }
    print(f"compact event: {size} bytes; trace_event v1 record: {len(v1_codec.encode(v1_record))} bytes (Avro body)")
    print(f"{'codec':<48} {'round trips/s':>14} {'vs fastavro':>12}")
    labels = {
        "fastavro": "compact: fastavro schemaless, logical types",
        "tracebus_codec": "compact: tracebus AvroCodec (cavro, framed)",
        "apache_avro": "compact: Apache avro",
        "fastavro_v1": "trace_event v1: fastavro",
        "tracebus_codec_v1": "trace_event v1: tracebus AvroCodec (cavro)",
    }
    for key, value in results.items():
        base = results["fastavro_v1" if key.endswith("_v1") else "fastavro"]
        print(f"{labels[key]:<48} {value:>14,.0f} {value / base:>12.2f}")
    print(json.dumps({"event_bytes": size, **{f"{k}_rps": round(v) for k, v in results.items()}}))


if __name__ == "__main__":
    main()
