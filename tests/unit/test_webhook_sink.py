"""connectors.webhook: signing, identity headers, the query document, and the sink over loopback HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from datetime import datetime

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

EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
TOKEN = b"demo-token"


def sink_record(event_id: str, event_json: str, context_json: str = "[]", offset: int = 0) -> SinkRecord:
    return SinkRecord(
        topic="tracebus.deliver.sub",
        partition=0,
        offset=offset,
        key=b"k",
        value=b"v",
        headers=(),
        record={"event_id": event_id, "event_json": event_json, "context_json": context_json},
    )


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
    document = json.loads(query_document("mofcom", [sink_record("urn:uuid:1", '{"type":"ObjectEvent"}')]))
    assert document["@context"] == [EPCIS_CONTEXT_URL]
    assert document["type"] == "EPCISQueryDocument"
    assert document["schemaVersion"] == "2.0"
    created = document["creationDate"]
    assert created.endswith("Z")
    assert datetime.fromisoformat(created).utcoffset() is not None
    results = document["epcisBody"]["queryResults"]
    assert results["queryName"] == "SimpleEventQuery"
    assert results["subscriptionID"] == "mofcom"
    assert results["resultsBody"]["eventList"] == [{"type": "ObjectEvent"}]


def test_query_document_embeds_events_byte_for_byte() -> None:
    first = '{"type": "ObjectEvent",  "quantity": 1.50, "demo:plot": "萧山区 3 号基地"}'
    second = '{"z":1,"a":{"b":[1e2, true]}}'
    body = query_document("s", [sink_record("urn:uuid:1", first), sink_record("urn:uuid:2", second, offset=1)])
    expected_list = b'"eventList":[' + first.encode() + b"," + second.encode() + b"]"
    assert expected_list in body
    assert json.loads(body)["epcisBody"]["queryResults"]["resultsBody"]["eventList"][1] == {
        "z": 1,
        "a": {"b": [100.0, True]},
    }


def test_query_document_merges_contexts_without_duplicates() -> None:
    demo = {"demo": "https://demo.tracebus.invalid/ns/"}
    records = [
        sink_record("e1", "{}", json.dumps([EPCIS_CONTEXT_URL, demo])),
        sink_record("e2", "{}", json.dumps([{"gs1cn": "https://gs1cn.example/", "b": "x"}, demo])),
        sink_record("e3", "{}", json.dumps([{"b": "x", "gs1cn": "https://gs1cn.example/"}])),  # same, keys reordered
        sink_record("e4", "{}", ""),
    ]
    document = json.loads(query_document("s", records))
    assert document["@context"] == [EPCIS_CONTEXT_URL, demo, {"gs1cn": "https://gs1cn.example/", "b": "x"}]


# --- the sink against a loopback receiver -------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver({"sub": TOKEN}) as running:
        yield running


async def started_sink(url: str, token: bytes = TOKEN) -> WebhookSink:
    sink = WebhookSink("sub", url, token, timeout_s=5.0)
    await sink.start()
    return sink


EVENTS = [
    sink_record("urn:uuid:1", '{"type":"ObjectEvent","eventID":"urn:uuid:1"}', json.dumps([{"demo": "https://d/"}])),
    sink_record("a,b", '{"type":"ObjectEvent","note":"含逗号的标识"}', offset=1),
]


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
    assert delivery.event_ids == ["urn:uuid:1", "a,b"]
    assert delivery.idempotency_key == hashlib.sha256(b'["urn:uuid:1","a,b"]').hexdigest()
    assert delivery.events == [
        {"type": "ObjectEvent", "eventID": "urn:uuid:1"},
        {"type": "ObjectEvent", "note": "含逗号的标识"},
    ]
    assert receiver.accepted_ids("sub") == ["urn:uuid:1", "a,b"]


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
