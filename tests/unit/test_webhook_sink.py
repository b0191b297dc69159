"""connectors.webhook: signing, identity headers, the query document, and the sink over loopback HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import SinkRecord
from connectors.errors import RetriableSinkError, SinkRejectedError
from connectors.webhook.receiver import WebhookReceiver
from connectors.webhook.signing import (
    event_ids_header,
    idempotency_key,
    parse_event_ids_header,
    sign_body,
    verify_signature,
)
from connectors.webhook.sink import WebhookSink, query_document
from schemas.epcis.trace_extension import TRACE_NAMESPACE
from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event

EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
TB_CONTEXT = {"tb": TRACE_NAMESPACE}
DEMO = {"demo": "https://demo.tracebus.invalid/ns/"}
TOKEN = b"demo-token"
NOW = datetime(2026, 11, 19, 12, 0, 0, tzinfo=UTC)


def event(serial: int = 1, **changes: Any) -> dict[str, Any]:
    """An EPCIS 2.0 JSON event as a platform submits it; a change to None drops the field."""
    submitted = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-19T07:40:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [f"urn:epc:id:sgtin:6901234.012345.{serial}"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        **changes,
    }
    return {k: v for k, v in submitted.items() if v is not None}


def sink_record(
    submitted: dict[str, Any], context: list[Any] | None = None, *, offset: int = 0, event_id: str | None = None
) -> SinkRecord:
    """The record a subscription topic holds for ``submitted``: built by validate, as capture does."""
    capture = CaptureContext.of(
        reporter="mofcom-platform",
        capture_id="cap-1",
        received_at_ms=1_763_553_600_000,
        context=[EPCIS_CONTEXT_URL] if context is None else context,
    )
    result = validate_event(submitted, capture, now=NOW, future_skew=timedelta(0))
    assert isinstance(result, Emit), result
    record = result.value
    if event_id is not None:
        record["event_id"] = event_id
    return SinkRecord(
        topic="tracebus.deliver.sub", partition=0, offset=offset, key=b"k", value=b"v", headers=(), record=record
    )


def by_value(value: Any) -> Any:
    """Numbers compared by value (``600`` == ``600.0``): JSON does not tell them apart."""
    if isinstance(value, dict):
        return {k: by_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [by_value(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def event_list(body: bytes) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(body)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return events


# --- signing and headers ------------------------------------------------------------------------


def test_sign_body_is_prefixed_hex_hmac_sha256() -> None:
    body = '{"type":"EPCISQueryDocument","x":"中"}'.encode()
    assert sign_body(body, TOKEN) == "sha256=" + hmac.new(TOKEN, body, hashlib.sha256).hexdigest()


def test_sign_body_matches_rfc_4231_test_case_2() -> None:
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign_body(b"what do ya want for nothing?", b"Jefe") == "sha256=" + expected


def test_verify_signature() -> None:
    body = b'{"a":1}'
    good = "sha256=" + hmac.new(TOKEN, body, hashlib.sha256).hexdigest()
    assert verify_signature(body, TOKEN, good) is True
    assert verify_signature(body + b" ", TOKEN, good) is False
    assert verify_signature(body, b"other-token", good) is False
    assert verify_signature(body, TOKEN, good.removeprefix("sha256=")) is False
    assert verify_signature(body, TOKEN, None) is False


def test_event_ids_header_escapes_commas_and_round_trips() -> None:
    ids = ["urn:uuid:1", "a,b", "ni:///sha-256;x?ver=CBV2.0", "100%", "tracebus:digest:sha256:ab"]
    header = event_ids_header(ids)
    assert header == "urn:uuid:1,a%2Cb,ni:///sha-256;x?ver=CBV2.0,100%25,tracebus:digest:sha256:ab"
    assert parse_event_ids_header(header) == ids
    assert parse_event_ids_header("") == []


def test_idempotency_key_is_stable_and_order_sensitive() -> None:
    expected = hashlib.sha256(b'["urn:uuid:1","urn:uuid:2"]').hexdigest()
    assert idempotency_key(["urn:uuid:1", "urn:uuid:2"]) == expected
    assert idempotency_key(("urn:uuid:1", "urn:uuid:2")) == expected
    assert idempotency_key(["urn:uuid:2", "urn:uuid:1"]) != expected
    assert idempotency_key(["urn:uuid:1"]) != expected
    assert idempotency_key(["a\nb"]) != idempotency_key(["a", "b"])


# --- the query document -------------------------------------------------------------------------


def test_query_document_shape_with_epcis_context_first() -> None:
    submitted = event()
    document = json.loads(query_document("mofcom", [sink_record(submitted)]))
    assert document["@context"] == [EPCIS_CONTEXT_URL]
    assert document["type"] == "EPCISQueryDocument"
    assert document["schemaVersion"] == "2.0"
    created = document["creationDate"]
    assert created.endswith("Z")
    assert datetime.fromisoformat(created).utcoffset() is not None
    results = document["epcisBody"]["queryResults"]
    assert results["queryName"] == "SimpleEventQuery"
    assert results["subscriptionID"] == "mofcom"
    assert results["resultsBody"]["eventList"] == [submitted]


def test_query_document_rebuilds_events_field_for_field() -> None:
    first = event(
        1,
        eventID="urn:uuid:6f0b6a1e-0000-4000-8000-000000000001",
        recordTime="2026-11-19T07:41:00Z",
        epcList=None,
        quantityList=[{"epcClass": "urn:epc:class:lgtin:6901234.012345.L1", "quantity": 1.50, "uom": "KGM"}],
        readPoint={"id": "urn:epc:id:sgln:6901234.00001.0", "demo:gate": "3 号门"},
        **{"demo:plot": "萧山区 3 号基地"},
    )
    second = event(
        2,
        action="ADD",
        bizStep="urn:epcglobal:cbv:bizstep:commissioning",
        errorDeclaration={"declarationTime": "2026-11-19T08:00:00Z", "reason": "incorrect_data"},
        ilmd={"demo:bestBefore": "2027-05-19", "demo:weight": 600.0},
        sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 4, "uom": "CEL"}]}],
        **{"demo:z": 1, "demo:a": {"b": [1e2, True]}},
    )
    body = query_document("s", [sink_record(first, [EPCIS_CONTEXT_URL, DEMO]), sink_record(second, offset=1)])
    assert "萧山区 3 号基地".encode() in body  # UTF-8 as submitted, not \u escapes
    assert by_value(event_list(body)) == by_value([first, second])
    assert event_list(body)[1]["demo:a"] == {"b": [100.0, True]}


def test_query_document_merges_contexts_without_duplicates() -> None:
    records = [
        sink_record(event(1), [EPCIS_CONTEXT_URL, DEMO]),
        sink_record(event(2), [{"gs1cn": "https://gs1cn.example/", "b": "x"}, DEMO]),
        sink_record(event(3), [{"b": "x", "gs1cn": "https://gs1cn.example/"}]),  # same, keys reordered
        sink_record(event(4), []),
    ]
    records.append(sink_record(event(5)))
    records[-1].record["context_json"] = ""  # no context written at all
    document = json.loads(query_document("s", records))
    assert document["@context"] == [EPCIS_CONTEXT_URL, DEMO, {"gs1cn": "https://gs1cn.example/", "b": "x"}]


TRACED = event(
    7,
    **{
        "tb:reportingDepartment": "MOFCOM",
        "tb:traceCode": "33010920261119000187",
        "tb:certificates": [
            {"tb:type": "animal-quarantine", "tb:number": "3301-2026-000187", "tb:issuer": "萧山区动物卫生监督所"}
        ],
        "tb:sourceBusiness": {"tb:uscc": "92330109MA2B00043H", "tb:name": "萧山区某生猪养殖场"},
    },
)


def test_tb_context_entry_comes_with_a_traceability_extension() -> None:
    plain = sink_record(event(1), [EPCIS_CONTEXT_URL, DEMO])
    traced = sink_record(TRACED, [EPCIS_CONTEXT_URL, TB_CONTEXT, DEMO], offset=1)
    assert traced.record["trace"] is not None
    body = query_document("s", [plain, traced])
    context = json.loads(body)["@context"]
    assert context[0] == EPCIS_CONTEXT_URL
    assert sorted(map(json.dumps, context[1:])) == sorted(map(json.dumps, [DEMO, TB_CONTEXT]))  # tb once
    assert event_list(body) == [event(1), TRACED]


def test_the_submitters_own_prefix_for_the_extension_is_kept() -> None:
    other = {"trace": TRACE_NAMESPACE}
    submitted = json.loads(json.dumps(TRACED).replace('"tb:', '"trace:'))
    body = query_document("s", [sink_record(submitted, [EPCIS_CONTEXT_URL, other])])
    context = json.loads(body)["@context"]
    assert context == [EPCIS_CONTEXT_URL, other]  # no second binding of the same namespace
    assert event_list(body) == [submitted]  # written back under the submitter's prefix


def test_no_tb_context_entry_without_a_traceability_extension() -> None:
    records = [sink_record(event(1)), sink_record(event(2, **{"demo:plot": "x"}), [EPCIS_CONTEXT_URL, DEMO])]
    assert all(r.record["trace"] is None for r in records)
    context = json.loads(query_document("s", records))["@context"]
    assert context == [EPCIS_CONTEXT_URL, DEMO]
    assert not any(isinstance(entry, dict) and "tb" in entry for entry in context)


# --- the sink against a loopback receiver -------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver({"sub": TOKEN}) as running:
        yield running


async def started_sink(url: str, token: bytes = TOKEN) -> WebhookSink:
    sink = WebhookSink("sub", url, token, timeout_s=5.0)
    await sink.start()
    return sink


SUBMITTED = [
    event(1, eventID="urn:uuid:1", **{"demo:note": "冷链运输"}),
    event(2, **{"demo:note": "含逗号的标识"}),
]
EVENTS = [
    sink_record(SUBMITTED[0], [EPCIS_CONTEXT_URL, {"demo": "https://d/"}]),
    sink_record(SUBMITTED[1], [EPCIS_CONTEXT_URL, {"demo": "https://d/"}], offset=1, event_id="a,b"),  # header escapes
]
EVENT_IDS = [EVENTS[0].event_id, "a,b"]


async def test_sink_delivers_a_signed_batch(receiver: WebhookReceiver) -> None:
    sink = await started_sink(f"{receiver.url}/hooks/sub")
    try:
        await sink.write(EVENTS)
    finally:
        await sink.stop()
    assert len(receiver.deliveries) == 1
    delivery = receiver.deliveries[0]
    assert delivery.signature_ok
    assert delivery.status == 200
    assert EVENT_IDS[0].startswith("ni:///sha-256;")
    assert delivery.event_ids == EVENT_IDS
    assert delivery.idempotency_key == hashlib.sha256(json.dumps(EVENT_IDS, separators=(",", ":")).encode()).hexdigest()
    assert delivery.events == SUBMITTED
    assert receiver.accepted_ids("sub") == EVENT_IDS


async def test_empty_batch_sends_nothing(receiver: WebhookReceiver) -> None:
    sink = await started_sink(f"{receiver.url}/hooks/sub")
    try:
        await sink.write([])
    finally:
        await sink.stop()
    assert receiver.deliveries == []


async def test_write_before_start_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="before start"):
        await WebhookSink("sub", "http://127.0.0.1:1/hooks/sub", TOKEN).write(EVENTS)


@pytest.mark.parametrize("status", [503, 500, 429, 408])
async def test_retriable_statuses(receiver: WebhookReceiver, status: int) -> None:
    receiver.fail_next["sub"] = 1
    receiver.fail_status = status
    sink = await started_sink(f"{receiver.url}/hooks/sub")
    try:
        with pytest.raises(RetriableSinkError, match=f"answered {status}"):
            await sink.write(EVENTS)
        await sink.write(EVENTS)  # the receiver recovered: the same batch goes through
    finally:
        await sink.stop()
    assert [d.status for d in receiver.deliveries] == [status, 200]
    assert receiver.deliveries[0].idempotency_key == receiver.deliveries[1].idempotency_key


async def test_bad_request_is_rejected_for_good(receiver: WebhookReceiver) -> None:
    receiver.fail_next["sub"] = 1
    receiver.fail_status = 400
    sink = await started_sink(f"{receiver.url}/hooks/sub")
    try:
        with pytest.raises(SinkRejectedError, match="answered 400") as caught:
            await sink.write(EVENTS)
    finally:
        await sink.stop()
    assert caught.value.reason == "http-400"
    assert not isinstance(caught.value, RetriableSinkError)


async def test_wrong_token_is_rejected_with_401(receiver: WebhookReceiver) -> None:
    sink = await started_sink(f"{receiver.url}/hooks/sub", token=b"not-the-token")
    try:
        with pytest.raises(SinkRejectedError) as caught:
            await sink.write(EVENTS)
    finally:
        await sink.stop()
    assert caught.value.reason == "http-401"
    assert [(d.signature_ok, d.status) for d in receiver.deliveries] == [(False, 401)]


async def test_connection_refused_is_retriable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = await started_sink(f"http://127.0.0.1:{port}/hooks/sub")
    try:
        with pytest.raises(RetriableSinkError, match=f"POST http://127.0.0.1:{port}/hooks/sub failed"):
            await sink.write(EVENTS)
    finally:
        await sink.stop()


def test_repr_never_shows_the_token() -> None:
    sink = WebhookSink("sub", "http://127.0.0.1:1/hooks/sub", b"s3cr3t-token-value")
    shown = repr(sink)
    assert "s3cr3t" not in shown
    assert shown == "WebhookSink(name='sub', url='http://127.0.0.1:1/hooks/sub')"
