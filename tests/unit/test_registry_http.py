"""ConfluentRegistryClient against FakeSchemaRegistry over real loopback HTTP, and the fake's API shapes."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from schemas.errors import IncompatibleSchemaError, RegistryUnavailableError, SchemaError, SchemaNotFoundError
from schemas.registry.base import RegisteredSchema
from schemas.registry.fake import FakeSchemaRegistry
from schemas.registry.http import ConfluentRegistryClient


def _record(*fields: dict[str, Any]) -> str:
    return json.dumps({"type": "record", "name": "Shipment", "namespace": "tracebus", "fields": list(fields)})


V1 = _record({"name": "sku", "type": "string"})
# Adds an optional field with a default: readable both ways, so FULL_TRANSITIVE accepts it.
V2 = _record({"name": "sku", "type": "string"}, {"name": "lot", "type": ["null", "string"], "default": None})
# Changes sku to int: neither version can read the other's data.
BREAKING = _record({"name": "sku", "type": "int"})
SUBJECT = "shipments-value"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSchemaRegistry]:
    async with FakeSchemaRegistry() as registry:
        yield registry


@pytest.fixture
async def client(fake: FakeSchemaRegistry) -> AsyncIterator[ConfluentRegistryClient]:
    registry = ConfluentRegistryClient(fake.url)
    await registry.start()
    yield registry
    await registry.close()


async def _started(url: str, **kwargs: Any) -> ConfluentRegistryClient:
    registry = ConfluentRegistryClient(url, **kwargs)
    registry.retry_delays_s = (0.01, 0.01)
    await registry.start()
    return registry


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- the client -----------------------------------------------------------------------------


async def test_register_returns_ids_in_order(client: ConfluentRegistryClient, fake: FakeSchemaRegistry) -> None:
    assert await client.register(SUBJECT, V1) == 1
    assert await client.register(SUBJECT, V2) == 2
    assert fake.requests == [("POST", f"/subjects/{SUBJECT}/versions")] * 2


async def test_register_is_idempotent(client: ConfluentRegistryClient, fake: FakeSchemaRegistry) -> None:
    first = await client.register(SUBJECT, V1)
    respaced = json.dumps(json.loads(V1), indent=2)
    assert await client.register(SUBJECT, V1) == first
    assert await client.register(SUBJECT, respaced) == first
    assert len(fake.requests) == 1  # answered from the cache

    other = await _started(fake.url)  # another process: no cache, the registry must agree
    try:
        assert await other.register(SUBJECT, respaced) == first
    finally:
        await other.close()
    latest = await client.latest(SUBJECT)
    assert latest.version == 1  # no version was added


async def test_same_schema_under_two_subjects_gets_one_id(client: ConfluentRegistryClient) -> None:
    first = await client.register("a-value", V1)
    assert await client.register("b-value", V1) == first
    assert (await client.latest("b-value")).version == 1


async def test_schema_by_id_and_latest(client: ConfluentRegistryClient) -> None:
    await client.register(SUBJECT, V1)
    schema_id = await client.register(SUBJECT, V2)
    assert await client.schema_by_id(schema_id) == V2
    assert await client.latest(SUBJECT) == RegisteredSchema(SUBJECT, 2, schema_id, V2)


async def test_schema_by_id_is_cached(client: ConfluentRegistryClient, fake: FakeSchemaRegistry) -> None:
    schema_id = await client.register(SUBJECT, V1)
    assert await client.schema_by_id(schema_id) == V1
    sent = len(fake.requests)
    assert await client.schema_by_id(schema_id) == V1
    assert len(fake.requests) == sent


async def test_concurrent_lookups_of_one_id_share_a_request(
    client: ConfluentRegistryClient, fake: FakeSchemaRegistry
) -> None:
    schema_id = await client.register(SUBJECT, V1)
    answers = await asyncio.gather(*(client.schema_by_id(schema_id) for _ in range(5)))
    assert answers == [V1] * 5
    assert fake.requests.count(("GET", f"/schemas/ids/{schema_id}")) == 1


async def test_unknown_id_and_subject_raise_not_found(client: ConfluentRegistryClient) -> None:
    with pytest.raises(SchemaNotFoundError, match="40403"):
        await client.schema_by_id(42)
    with pytest.raises(SchemaNotFoundError, match="40401"):
        await client.latest("nobody-value")


async def test_is_compatible(client: ConfluentRegistryClient) -> None:
    assert await client.is_compatible(SUBJECT, V1)  # unknown subject: nothing to break
    await client.register(SUBJECT, V1)
    assert await client.is_compatible(SUBJECT, V2)
    assert not await client.is_compatible(SUBJECT, BREAKING)


async def test_incompatible_register_carries_server_message(client: ConfluentRegistryClient) -> None:
    await client.register(SUBJECT, V1)
    with pytest.raises(IncompatibleSchemaError) as caught:
        await client.register(SUBJECT, BREAKING)
    message = str(caught.value)
    assert "incompatible with an earlier schema" in message
    assert "/fields/sku" in message  # the details come from the server


async def test_set_compatibility_none_allows_breaking_change(
    client: ConfluentRegistryClient, fake: FakeSchemaRegistry
) -> None:
    await client.register(SUBJECT, V1)
    with pytest.raises(IncompatibleSchemaError):
        await client.register(SUBJECT, BREAKING)
    await client.set_compatibility(SUBJECT, "NONE")
    assert fake.subject_levels == {SUBJECT: "NONE"}
    assert await client.is_compatible(SUBJECT, BREAKING)
    assert await client.register(SUBJECT, BREAKING) == 2
    assert await client.register("other-value", V1) == 1  # other subjects keep their level


async def test_invalid_schema_is_a_schema_error(client: ConfluentRegistryClient) -> None:
    with pytest.raises(SchemaError, match="42201") as caught:
        await client.register(SUBJECT, '{"type": "nonsense"}')
    assert type(caught.value) is SchemaError


async def test_subjects_are_url_encoded(client: ConfluentRegistryClient, fake: FakeSchemaRegistry) -> None:
    subject = "dept/a b?c%"
    schema_id = await client.register(subject, V1)
    assert fake.requests[-1] == ("POST", "/subjects/dept%2Fa%20b%3Fc%25/versions")
    assert (await client.latest(subject)) == RegisteredSchema(subject, 1, schema_id, V1)


async def test_down_server_raises_unavailable() -> None:
    registry = await _started(_closed_port_url())
    try:
        with pytest.raises(RegistryUnavailableError):
            await registry.schema_by_id(1)
        with pytest.raises(RegistryUnavailableError):
            await registry.register(SUBJECT, V1)
    finally:
        await registry.close()


async def test_5xx_raises_unavailable_after_retrying_gets() -> None:
    hits: list[tuple[str, str | None]] = []

    async def broken(request: web.Request) -> web.Response:
        hits.append((request.method, request.headers.get("Authorization")))
        return web.json_response({"error_code": 50001, "message": "Error in the backend datastore"}, status=500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", broken)
    async with TestServer(app, host="127.0.0.1") as server:
        url = str(server.make_url("/"))
        registry = await _started(url, basic_auth=("svc", "s3cret-pw"))
        try:
            with pytest.raises(RegistryUnavailableError, match="50001") as caught:
                await registry.schema_by_id(1)
            assert [method for method, _ in hits] == ["GET"] * 3  # first try and two retries
            assert "s3cret-pw" not in str(caught.value)
            assert hits[0][1] == "Basic " + base64.b64encode(b"svc:s3cret-pw").decode()

            hits.clear()
            with pytest.raises(RegistryUnavailableError):
                await registry.register(SUBJECT, V1)
            assert [method for method, _ in hits] == ["POST"]  # not retried
        finally:
            await registry.close()


async def test_timeout_raises_unavailable() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", slow)
    async with TestServer(app, host="127.0.0.1") as server:
        registry = await _started(str(server.make_url("/")), timeout_s=0.2)
        try:
            with pytest.raises(RegistryUnavailableError, match="timed out"):
                await registry.set_compatibility(SUBJECT, "FULL")
        finally:
            await registry.close()


async def test_credentials_stay_out_of_reprs_and_errors() -> None:
    url = _closed_port_url().replace("http://", "http://user:url-pw@")
    registry = await _started(url)
    other = ConfluentRegistryClient(_closed_port_url(), basic_auth=("svc", "kw-pw"))
    try:
        with pytest.raises(RegistryUnavailableError) as caught:
            await registry.schema_by_id(1)
        for text in (repr(registry), str(caught.value), repr(caught.value), repr(other)):
            assert "url-pw" not in text
            assert "kw-pw" not in text
        assert "hidden" in repr(other)
    finally:
        await registry.close()


async def test_use_before_start_is_refused(fake: FakeSchemaRegistry) -> None:
    registry = ConfluentRegistryClient(fake.url)
    with pytest.raises(RuntimeError, match="start"):
        await registry.schema_by_id(1)


# -- the fake against Confluent's documented API --------------------------------------------


@pytest.fixture
async def http(fake: FakeSchemaRegistry) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
    async with aiohttp.ClientSession(base_url=fake.url, headers=headers) as session:
        yield session


async def _send(http: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body)
    async with http.request(method, path, data=data) as response:
        assert response.content_type == "application/vnd.schemaregistry.v1+json"
        return response.status, await response.json(content_type=None)


STRING = {"schema": '{"type": "string"}'}


async def test_documented_register_and_lookups(http: aiohttp.ClientSession) -> None:
    assert await _send(http, "POST", "/subjects/test/versions", STRING) == (200, {"id": 1})
    assert await _send(http, "POST", "/subjects/test/versions", STRING) == (200, {"id": 1})
    assert await _send(http, "GET", "/schemas/ids/1") == (200, {"schema": '{"type": "string"}'})
    assert await _send(http, "GET", "/subjects") == (200, ["test"])
    assert await _send(http, "GET", "/subjects/test/versions") == (200, [1])
    version = {"subject": "test", "id": 1, "version": 1, "schema": '{"type": "string"}'}
    assert await _send(http, "GET", "/subjects/test/versions/1") == (200, version)
    assert await _send(http, "GET", "/subjects/test/versions/latest") == (200, version)
    # Same canonical form under another subject: same id, own version 1.
    assert await _send(http, "POST", "/subjects/other/versions", {"schema": '"string"'}) == (200, {"id": 1})


async def test_documented_compatibility_and_config(http: aiohttp.ClientSession) -> None:
    path = "/compatibility/subjects/test/versions/latest"
    assert await _send(http, "GET", "/config") == (200, {"compatibilityLevel": "FULL_TRANSITIVE"})
    await _send(http, "POST", "/subjects/test/versions", {"schema": V1})
    assert await _send(http, "POST", path, {"schema": V2}) == (200, {"is_compatible": True})
    status, body = await _send(http, "POST", f"{path}?verbose=true", {"schema": BREAKING})
    assert status == 200
    assert body["is_compatible"] is False
    assert body["messages"]
    status, body = await _send(http, "POST", "/subjects/test/versions", {"schema": BREAKING})
    assert (status, body["error_code"]) == (409, 409)
    assert await _send(http, "PUT", "/config/test", {"compatibility": "NONE"}) == (
        200,
        {"compatibility": "NONE"},
    )
    assert await _send(http, "GET", "/config/test") == (200, {"compatibilityLevel": "NONE"})
    assert await _send(http, "POST", "/subjects/test/versions", {"schema": BREAKING}) == (200, {"id": 2})
    assert await _send(http, "PUT", "/config", {"compatibility": "BACKWARD"}) == (
        200,
        {"compatibility": "BACKWARD"},
    )
    assert await _send(http, "GET", "/config/fresh?defaultToGlobal=true") == (
        200,
        {"compatibilityLevel": "BACKWARD"},
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error_code"),
    [
        ("GET", "/subjects/missing/versions", None, 404, 40401),
        ("GET", "/subjects/missing/versions/latest", None, 404, 40401),
        ("GET", "/subjects/test/versions/2", None, 404, 40402),
        ("GET", "/subjects/test/versions/zero", None, 422, 42202),
        ("GET", "/schemas/ids/99", None, 404, 40403),
        ("GET", "/config/test", None, 404, 40401),
        ("POST", "/compatibility/subjects/missing/versions/latest", STRING, 404, 40401),
        ("POST", "/subjects/test/versions", {"schema": '{"type": "strang"}'}, 422, 42201),
        ("POST", "/subjects/test/versions", {"schema": "not json"}, 422, 42201),
        ("PUT", "/config", {"compatibility": "SIDEWAYS"}, 422, 42203),
        ("PUT", "/config/test", {"compatibility": 3}, 422, 42203),
    ],
)
async def test_documented_errors(
    http: aiohttp.ClientSession, method: str, path: str, body: Any, status: int, error_code: int
) -> None:
    await _send(http, "POST", "/subjects/test/versions", STRING)
    answer_status, answer = await _send(http, method, path, body)
    assert answer_status == status
    assert set(answer) == {"error_code", "message"}
    assert answer["error_code"] == error_code
    assert isinstance(answer["message"], str)
    assert answer["message"]
