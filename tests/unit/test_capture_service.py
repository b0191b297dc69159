"""streams.capture.service with a RecordingProducer, and the capture-job documents of streams.capture.jobs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaError
from prometheus_client import REGISTRY

from schemas.codec import Deserializer, TopicSerializer
from schemas.epcis.convert import from_record_event
from schemas.epcis.hash import event_hash
from schemas.epcis.trace_extension import TRACE_NAMESPACE
from schemas.errors import DocumentError
from schemas.registry.embedded import EmbeddedRegistry
from streams.capture.jobs import CaptureJob, CaptureJobs, EventRejection
from streams.capture.service import Capturer, TooManyEventsError
from streams.errors import PublishError
from streams.steps.route import RouteView
from streams.steps.validate import STALE_EVENT_ID
from streams.testing import RecordingProducer

AVRO = Path(__file__).resolve().parents[2] / "schemas" / "avro"
RAW_TOPIC = "tb.capture.raw"
CANONICAL_TOPIC = "tb.events.canonical"
CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"demo": "https://demo.invalid/ns/", "tb": TRACE_NAMESPACE},
]


def object_event(serial: int, **changes: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{serial:012d}",
        "eventTime": "2024-05-01T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [f"urn:epc:id:sgtin:6901234.012345.{serial}"],
        "action": "OBSERVE",
        "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
        "demo:note": "冷链运输",
        **changes,
    }


def document(*events: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": {"eventList": list(events)}}
    )


class Bus:
    """A Capturer wired to a RecordingProducer and serializers bound to an embedded registry."""

    def __init__(self, capturer: Capturer, producer: RecordingProducer, registry: EmbeddedRegistry) -> None:
        self.capturer = capturer
        self.producer = producer
        self.registry = registry

    async def decode(self, value: bytes | None) -> dict[str, Any]:
        assert value is not None
        return await Deserializer(self.registry).decode_any(value)


async def make_bus(*, max_events: int = 10, publish_timeout_s: float = 5.0) -> Bus:
    registry = EmbeddedRegistry()
    raw = TopicSerializer(registry, RAW_TOPIC, (AVRO / "raw_submission" / "v1.avsc").read_text(encoding="utf-8"))
    canonical = TopicSerializer(registry, CANONICAL_TOPIC, (AVRO / "trace_event" / "v1.avsc").read_text("utf-8"))
    await raw.bind()
    await canonical.bind()
    producer = RecordingProducer()
    await producer.start()
    capturer = Capturer(
        producer=producer,  # a stand-in for AIOKafkaProducer
        raw=raw,
        canonical=canonical,
        jobs=CaptureJobs(capacity=100),
        max_events=max_events,
        publish_timeout_s=publish_timeout_s,
        future_skew=timedelta(minutes=5),
    )
    return Bus(capturer, producer, registry)


INVALID_BODY = document(object_event(1), object_event(2, action="UPDATE"), object_event(3))


async def test_rollback_with_an_invalid_event_publishes_only_the_raw_submission() -> None:
    bus = await make_bus()
    job = await bus.capturer.capture(
        INVALID_BODY, content_type="application/ld+json", source="samr", behaviour="rollback"
    )
    assert [r.topic for r in bus.producer.sent] == [RAW_TOPIC]
    assert bus.producer.on_topic(CANONICAL_TOPIC) == []
    assert [(r.event_index, r.reason) for r in job.rejected] == [(1, "bad-action")]
    assert "action 'UPDATE'" in job.rejected[0].message
    assert (job.accepted, job.published, job.success, job.behaviour) == (2, 0, False, "rollback")
    assert bus.capturer.jobs.get(job.capture_id) is job


async def test_proceed_publishes_the_valid_events() -> None:
    bus = await make_bus()
    job = await bus.capturer.capture(
        INVALID_BODY, content_type="application/ld+json", source="samr", behaviour="proceed"
    )
    canonical = bus.producer.on_topic(CANONICAL_TOPIC)
    assert [r.key for r in canonical] == [
        b"item:https://id.gs1.org/01/06901234123456/21/1",
        b"item:https://id.gs1.org/01/06901234123456/21/3",
    ]
    assert (job.accepted, job.published, job.success) == (2, 2, False)
    assert [(r.event_index, r.reason) for r in job.rejected] == [(1, "bad-action")]


async def test_all_valid_publishes_raw_then_each_event_keyed_by_trace_key() -> None:
    bus = await make_bus()
    events = [object_event(1), object_event(2, epcList=[], parentID="urn:epc:id:sscc:6901234.0000000019")]
    job = await bus.capturer.capture(document(*events), content_type=None, source="mofcom", behaviour="rollback")
    assert [r.topic for r in bus.producer.sent] == [RAW_TOPIC, CANONICAL_TOPIC, CANONICAL_TOPIC]
    assert (job.accepted, job.published, job.success) == (2, 2, True)
    first, second = bus.producer.on_topic(CANONICAL_TOPIC)
    # trace keys (streams/steps/trace_key.py): instances in canonical Digital Link form
    assert first.key == b"item:https://id.gs1.org/01/06901234123456/21/1"
    assert second.key is not None
    assert second.key.startswith(b"item:https://id.gs1.org/00/")
    identity = event_hash(events[0], CONTEXT)
    assert identity.startswith("ni:///sha-256;")
    assert first.headers == [
        ("tracebus-event-id", identity.encode()),
        ("tracebus-capture-id", job.capture_id.encode()),
    ]
    decoded = await bus.decode(first.value)
    assert decoded["event_id"] == identity
    assert decoded["event"]["event_id"] == "urn:uuid:00000000-0000-4000-8000-000000000001"  # kept as submitted
    assert decoded["event"]["biz_step"] == "urn:epcglobal:cbv:bizstep:shipping"
    assert RouteView.of(decoded).biz_step == "shipping"
    assert (decoded["reporter"], decoded["capture_id"]) == ("mofcom", job.capture_id)
    assert (decoded["flags"], decoded["trace"]) == ([], None)
    assert from_record_event(decoded["event"], decoded["trace"]) == events[0]
    assert orjson.loads(decoded["context_json"]) == CONTEXT
    assert (await bus.decode(second.value))["event_id"] == event_hash(events[1], CONTEXT)


async def test_raw_record_decodes_back_to_the_exact_body() -> None:
    bus = await make_bus()
    body = b"\xef\xbb\xbf  " + document(object_event(1))  # BOM and spaces are kept too
    before_ms = int(time.time() * 1000)
    job = await bus.capturer.capture(
        body, content_type="application/ld+json", source="mara", behaviour="rollback", remote_address="10.0.0.7"
    )
    after_ms = int(time.time() * 1000)
    (raw,) = bus.producer.on_topic(RAW_TOPIC)
    assert raw.key == job.capture_id.encode()
    decoded = await bus.decode(raw.value)
    assert decoded["body"] == body
    assert (decoded["capture_id"], decoded["source"], decoded["content_type"]) == (
        job.capture_id,
        "mara",
        "application/ld+json",
    )
    assert decoded["remote_address"] == "10.0.0.7"
    assert before_ms - 1 <= decoded["received_at_ms"] <= after_ms


async def test_kafka_failure_raises_publish_error_and_records_no_job() -> None:
    bus = await make_bus()
    bus.producer.fail_with = KafkaError("broker gone")
    with pytest.raises(PublishError, match=r"Kafka did not acknowledge capture [0-9a-f]{32}: KafkaError"):
        await bus.capturer.capture(document(object_event(1)), content_type=None, source="s", behaviour="rollback")
    assert bus.producer.sent == []
    assert len(bus.producer.attempts) == 2
    assert bus.capturer.jobs.recent(10) == []


async def test_kafka_hang_times_out_as_publish_error_and_records_no_job() -> None:
    bus = await make_bus(publish_timeout_s=0.05)
    bus.producer.hang = True
    with pytest.raises(PublishError, match="TimeoutError"):
        await bus.capturer.capture(document(object_event(1)), content_type=None, source="s", behaviour="rollback")
    assert bus.capturer.jobs.recent(10) == []
    await bus.producer.stop()


async def test_too_many_events_are_refused_before_publishing() -> None:
    bus = await make_bus(max_events=2)
    body = document(object_event(1), object_event(2), object_event(3))
    with pytest.raises(TooManyEventsError, match="document holds 3 events; one capture accepts at most 2"):
        await bus.capturer.capture(body, content_type=None, source="s", behaviour="proceed")
    assert bus.producer.attempts == []


async def test_unparseable_body_raises_document_error_and_publishes_nothing() -> None:
    bus = await make_bus()
    with pytest.raises(DocumentError):
        await bus.capturer.capture(b"not a document", content_type="text/plain", source="s", behaviour="proceed")
    assert bus.producer.attempts == []


XML_BODY = """<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:demo="https://demo.invalid/ns/"
    schemaVersion="2.0" creationDate="2024-05-01T18:00:00+08:00">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2024-05-01T07:40:00+08:00</eventTime>
      <eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
      <epcList><epc>urn:epc:id:sgtin:6905555.000871.77</epc></epcList>
      <action>ADD</action>
      <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
      <demo:plot>萧山区 3 号基地</demo:plot>
    </ObjectEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>
""".encode()


async def test_xml_body_is_captured() -> None:
    bus = await make_bus()
    job = await bus.capturer.capture(XML_BODY, content_type="application/xml", source="mara", behaviour="rollback")
    assert (job.accepted, job.published, job.success) == (1, 1, True)
    raw, canonical = bus.producer.sent
    assert (await bus.decode(raw.value))["body"] == XML_BODY
    assert canonical.key == b"item:https://id.gs1.org/01/06905555008713/21/77"
    decoded = await bus.decode(canonical.value)
    assert decoded["event"]["biz_step"] == "urn:epcglobal:cbv:bizstep:commissioning"
    assert RouteView.of(decoded).biz_step == "commissioning"
    assert decoded["event"]["event_time_ms"] == 1_714_520_400_000  # 2024-04-30T23:40:00Z
    assert decoded["event"]["extensions"] == {"demo:plot": '"萧山区 3 号基地"'}
    assert from_record_event(decoded["event"], decoded["trace"])["demo:plot"] == "萧山区 3 号基地"
    assert orjson.loads(decoded["context_json"]) == [{"demo": "https://demo.invalid/ns/"}]


async def test_traceability_extension_and_flags_travel_in_the_canonical_record() -> None:
    bus = await make_bus()
    traced = object_event(
        1,
        eventID="ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0",  # not this event's hash: stale
        **{
            "tb:reportingDepartment": "MOFCOM",
            "tb:businessUSCC": "91350200776049653A",
            "tb:traceCode": "33010920261119000187",
            "tb:certificates": [{"tb:type": "meat-quality", "tb:number": "MQ-17", "tb:issuer": "萧山区市场监管局"}],
            "tb:destinationBusiness": {"tb:uscc": "92330109MA2B00043H", "tb:name": "杭州某农贸市场"},
        },
    )
    job = await bus.capturer.capture(document(traced), content_type=None, source="mofcom", behaviour="rollback")
    assert (job.accepted, job.published, job.success) == (1, 1, True)
    (canonical,) = bus.producer.on_topic(CANONICAL_TOPIC)
    decoded = await bus.decode(canonical.value)
    assert decoded["event_id"] == event_hash(traced, CONTEXT)
    assert decoded["flags"] == [STALE_EVENT_ID]
    assert decoded["trace"]["reporting_department"] == "MOFCOM"
    assert decoded["trace"]["certificates"] == [
        {"type": "MEAT_QUALITY", "number": "MQ-17", "issuer": "萧山区市场监管局"}
    ]
    assert from_record_event(decoded["event"], decoded["trace"]) == traced


async def test_bad_shape_is_rejected_at_capture() -> None:
    bus = await make_bus()
    bad = object_event(2, **{"tb:colour": "red"})
    job = await bus.capturer.capture(document(object_event(1), bad), content_type=None, source="s", behaviour="proceed")
    assert [(r.event_index, r.reason) for r in job.rejected] == [(1, "bad-shape")]
    assert "tb:colour" in job.rejected[0].message
    assert (job.accepted, job.published) == (1, 1)


async def test_rejections_are_counted_by_reason() -> None:
    bus = await make_bus()
    labels = {"reason": "bad-quantity"}
    before = REGISTRY.get_sample_value("tracebus_capture_rejected_events_total", labels) or 0.0
    bad = object_event(1, quantityList=[{"epcClass": "urn:epc:class:lgtin:6901234.012345.L", "quantity": -1}])
    await bus.capturer.capture(document(bad), content_type=None, source="s", behaviour="proceed")
    assert REGISTRY.get_sample_value("tracebus_capture_rejected_events_total", labels) == before + 1


# --- capture jobs -------------------------------------------------------------------------------


def job(capture_id: str, rejected: list[EventRejection] | None = None) -> CaptureJob:
    return CaptureJob(
        capture_id=capture_id,
        source="samr",
        created_at=datetime(2024, 5, 1, 0, 0, 0, 123456, tzinfo=UTC),
        finished_at=datetime(2024, 5, 1, 0, 0, 1, tzinfo=UTC),
        behaviour="proceed",
        accepted=2,
        rejected=rejected or [],
        published=2,
    )


def test_job_document_keys_and_types() -> None:
    rejection = EventRejection(event_index=3, reason="bad-action", message="action 'UPDATE' is not one of ADD")
    document_ = job("c1", [rejection]).document()
    assert document_ == {
        "captureID": "c1",
        "createdAt": "2024-05-01T00:00:00.123Z",
        "finishedAt": "2024-05-01T00:00:01.000Z",
        "running": False,
        "success": False,
        "captureErrorBehaviour": "proceed",
        "errors": [
            {
                "type": "epcisException:ValidationException",
                "title": "bad-action",
                "status": 400,
                "detail": "event 3: action 'UPDATE' is not one of ADD",
                "eventIndex": 3,
            }
        ],
        "acceptedEvents": 2,
        "rejectedEvents": 1,
        "publishedEvents": 2,
        "source": "samr",
    }
    assert job("c2").document()["success"] is True
    assert job("c2").document()["errors"] == []


def test_jobs_keep_the_newest_within_capacity() -> None:
    jobs = CaptureJobs(capacity=2)
    for capture_id in ("c1", "c2", "c3"):
        jobs.add(job(capture_id))
    assert jobs.get("c1") is None
    assert [j.capture_id for j in jobs.recent(10)] == ["c3", "c2"]
    assert [j.capture_id for j in jobs.recent(1)] == ["c3"]
    assert jobs.get("c3") is not None
