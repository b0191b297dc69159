"""connectors.http: the push source over loopback HTTP, with the runner's poll/committed played by the test."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from connectors.config import parse_config
from connectors.errors import ConnectorConfigError
from connectors.http.conformance import movement
from connectors.http.source import HttpSource, HttpSourceConfig, canonical_json, record_identity

TOKENS = {"mara-county": "token-of-mara", "xiamen-bureau": "token-of-xiamen"}


def config(**extra: Any) -> HttpSourceConfig:
    raw = {
        "name": "county-push",
        "connector.class": "http-source",
        "tokens": TOKENS,
        "mapper": "flat-movement",
        "poll.interval.ms": 10,
        **extra,
    }
    return parse_config(HttpSourceConfig, raw)


@pytest.fixture
async def source() -> AsyncIterator[HttpSource]:
    running = HttpSource(config(**{"max.body.bytes": 4096, "max.records.per.request": 5, "id.field": "record_id"}))
    await running.start({})
    yield running
    await running.stop()


async def post(
    source: HttpSource, body: Any, token: str | None = "token-of-mara", raw: bytes | None = None
) -> tuple[int, dict[str, Any], str]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{source.url}/records", data=raw if raw is not None else orjson.dumps(body), headers=headers
        ) as r,
    ):
        return r.status, orjson.loads(await r.read()), r.headers.get("Content-Type", "")


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_answer_is_202_only_after_committed(source: HttpSource) -> None:
    records = [movement(1, "s"), movement(2, "s")]
    answer = asyncio.create_task(post(source, records))
    polled = await source.poll()
    assert [r.error for r in polled] == [None, None]
    assert polled[0].events[0]["tb:destinationBusiness"]["tb:name"] == "广州农贸市场"
    await asyncio.sleep(0.1)
    assert not answer.done(), "no answer before the runner committed"
    await source.committed(polled)
    status, body, _ = await answer
    expected = [f"mara-county:{hashlib.sha256(canonical_json(r)).hexdigest()[:16]}" for r in records]
    assert status == 202
    assert body == {"accepted": 2, "dead_lettered": 0, "identities": expected}
    assert [r.identity for r in polled] == expected


async def test_records_object_bad_record_dead_lettered_and_own_id_used(source: HttpSource) -> None:
    bad = {**movement(3, "s"), "quantity": "十二"}
    answer = asyncio.create_task(post(source, {"records": [{**movement(4, "s"), "record_id": "R-4"}, bad, 7]}))
    polled = await source.poll()
    assert polled[0].identity == "mara-county:R-4"
    assert polled[1].error is not None
    assert polled[1].error.reason == "bad-quantity"
    assert polled[1].raw == canonical_json(bad)
    assert polled[2].error is not None
    assert polled[2].error.reason == "not-an-object"
    await source.committed(polled)
    status, body, _ = await answer
    assert (status, body["accepted"], body["dead_lettered"]) == (202, 1, 2)


async def test_identity_is_canonical_and_per_client() -> None:
    one, two = {"b": 1, "a": "猪肉"}, {"a": "猪肉", "b": 1}
    assert record_identity("x", one, None) == record_identity("x", two, None) != record_identity("y", one, None)
    assert record_identity("x", {"id": 5}, "id") == "x:5"
    assert record_identity("x", {"id": ""}, "id").startswith("x:")
    assert len(record_identity("x", {}, "id")) == 18


async def test_records_of_one_request_split_across_polls(source: HttpSource) -> None:
    source.config = config(**{"batch.max.records": 2})
    answer = asyncio.create_task(post(source, [movement(n, "p") for n in range(3)]))
    first = await source.poll()
    assert len(first) == 2
    assert source.lag() == 1
    await source.committed(first)
    await asyncio.sleep(0.05)
    assert not answer.done()
    second = await source.poll()
    await source.committed(second)
    assert (await answer)[0] == 202


async def test_uncommitted_poll_is_handed_out_again(source: HttpSource) -> None:
    answer = asyncio.create_task(post(source, [movement(5, "r")]))
    first = await source.poll()
    again = await source.poll()  # the runner failed to publish `first` and polls again
    assert [r.identity for r in again] == [r.identity for r in first]
    await source.committed(again)
    assert (await answer)[0] == 202


@pytest.mark.parametrize(
    ("token", "status"), [(None, 401), ("wrong", 401), ("token-of-mara ", 202), ("token-of-xiamen", 202)]
)
async def test_tokens(source: HttpSource, token: str | None, status: int) -> None:
    answer = asyncio.create_task(post(source, [movement(6, "t")], token=token))
    await settle()
    await asyncio.sleep(0.05)
    if status == 202:
        await source.committed(await source.poll())
    got, body, content_type = await answer
    assert got == status
    if status == 401:
        assert content_type == "application/problem+json"
        assert body["status"] == 401
        assert source.lag() == 0
    else:
        client = "xiamen-bureau" if "xiamen" in str(token) else "mara-county"
        assert body["identities"][0].startswith(f"{client}:")


async def test_limits_and_bad_bodies(source: HttpSource) -> None:
    status, body, content_type = await post(source, None, raw=b"[" + b'{"a": 1},' * 600 + b"{}]")
    assert (status, content_type) == (413, "application/problem+json")
    status, body, _ = await post(source, [{"a": n} for n in range(6)])
    assert status == 413
    assert "at most 5" in body["detail"]
    status, body, _ = await post(source, None, raw=b"{not json")
    assert status == 400
    assert body["title"] == "Not JSON"
    status, body, _ = await post(source, {"rows": []})
    assert status == 400
    assert source.lag() == 0
    assert await post(source, []) == (202, {"accepted": 0, "dead_lettered": 0, "identities": []}, "application/json")


async def test_stop_answers_waiting_requests_503() -> None:
    stopping = HttpSource(config())
    await stopping.start({})
    queued = asyncio.create_task(post(stopping, [movement(7, "q")]))
    await asyncio.sleep(0.1)
    polled_answer = asyncio.create_task(post(stopping, [movement(8, "q")]))
    await asyncio.sleep(0.1)
    in_flight = await stopping.poll()
    assert len(in_flight) == 2
    await stopping.stop()
    for answer in (queued, polled_answer):
        status, _body, content_type = await answer
        assert (status, content_type) == (503, "application/problem+json")


async def test_request_timeout_drops_unpolled_records() -> None:
    slow = HttpSource(config(**{"request.timeout.ms": 200}))
    await slow.start({})
    status, _, _ = await post(slow, [movement(9, "w")])
    assert status == 503
    assert slow.lag() == 0
    await slow.stop()


def test_config_refusals() -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        config(**{"listen.port": 70_000})
    assert caught.value.problems[0][0] == "listen.port"
    with pytest.raises(ConnectorConfigError) as caught:
        config(tokens={"bad name": "x"})
    assert caught.value.problems[0][0] == "tokens"
    with pytest.raises(ConnectorConfigError):
        config(tokens={})
    assert "token-of-mara" not in repr(config())
