"""An in-process stand-in for a Confluent Schema Registry, served over real HTTP.

:class:`FakeSchemaRegistry` answers the subset of Confluent's REST API v1 that
:class:`~schemas.registry.http.ConfluentRegistryClient` uses, plus the read-only
endpoints a test needs to look behind the client's back, with Confluent's
status codes and ``{"error_code": ..., "message": ...}`` error bodies::

    async with FakeSchemaRegistry() as fake:
        client = ConfluentRegistryClient(fake.url)
        ...
        assert ("GET", "/schemas/ids/1") in fake.requests

Like Confluent, ids are global: the same schema (compared in a normalised
JSON form) gets the same id under every subject, and registering a subject's
existing schema again adds no version. Compatibility follows Confluent too:
registration checks the subject's level (transitive levels against every
version, the others against the latest only; see :mod:`schemas.compatibility`), while
``POST /compatibility/subjects/{subject}/versions/{version}`` checks against
the one version named. The default level is ``FULL_TRANSITIVE``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Final

import fastavro
from aiohttp import web

from schemas.compatibility import compatibility_problems
from schemas.registry.base import COMPATIBILITY_LEVELS, DEFAULT_COMPATIBILITY, CompatibilityLevel

__all__ = ["FakeSchemaRegistry"]

CONTENT_TYPE: Final = "application/vnd.schemaregistry.v1+json"
_PRIMITIVES: Final = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_MAX_VERSION: Final = 2**31 - 1
_ONE_VERSION: Final[dict[CompatibilityLevel, CompatibilityLevel]] = {
    "BACKWARD_TRANSITIVE": "BACKWARD",
    "FORWARD_TRANSITIVE": "FORWARD",
    "FULL_TRANSITIVE": "FULL",
}

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _ApiError(Exception):
    """An error answered the Confluent way: HTTP status plus a JSON error body."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def _json(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, content_type=CONTENT_TYPE)


def _normalise(node: Any) -> Any:
    """Drop what does not change an Avro schema: ``{"type": "string"}`` is ``"string"``."""
    if isinstance(node, dict):
        if set(node) == {"type"} and node["type"] in _PRIMITIVES:
            return node["type"]
        return {key: _normalise(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_normalise(item) for item in node]
    return node


def _canonical(schema: str) -> str:
    """The form two registrations are compared in (key order and spacing ignored)."""
    return json.dumps(_normalise(json.loads(schema)), sort_keys=True, separators=(",", ":"))


class FakeSchemaRegistry:
    """A Confluent-compatible registry in memory; ``async with`` serves it on loopback."""

    def __init__(self, *, compatibility: CompatibilityLevel = DEFAULT_COMPATIBILITY) -> None:
        self.global_level: CompatibilityLevel = compatibility
        self.subject_levels: dict[str, CompatibilityLevel] = {}
        #: Every request answered, as (method, raw percent-encoded path without query).
        self.requests: list[tuple[str, str]] = []
        self._schemas: dict[int, str] = {}  # id -> schema text as first registered
        self._ids: dict[str, int] = {}  # canonical form -> id
        self._subjects: dict[str, list[int]] = {}  # subject -> ids, version n at index n-1
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.app = web.Application(middlewares=[self._middleware])
        self.app.add_routes(
            [
                web.get("/subjects", self._list_subjects),
                web.get("/subjects/{subject}/versions", self._list_versions),
                web.post("/subjects/{subject}/versions", self._register),
                web.get("/subjects/{subject}/versions/{version}", self._get_version),
                web.get("/schemas/ids/{id}", self._get_schema),
                web.post("/compatibility/subjects/{subject}/versions/{version}", self._check),
                web.get("/config", self._get_global_config),
                web.put("/config", self._put_global_config),
                web.get("/config/{subject}", self._get_subject_config),
                web.put("/config/{subject}", self._put_subject_config),
            ]
        )

    # -- serving ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:40123``."""
        if self._url is None:
            raise RuntimeError("FakeSchemaRegistry is not serving; use `async with`")
        return self._url

    async def __aenter__(self) -> FakeSchemaRegistry:
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._url = None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.rel_url.raw_path))
        try:
            return await handler(request)
        except _ApiError as err:
            return _json({"error_code": err.error_code, "message": err.message}, err.status)
        except web.HTTPException as err:  # unknown route, wrong method: Confluent answers JSON too
            return _json({"error_code": err.status, "message": f"HTTP {err.status} {err.reason}"}, err.status)

    # -- state helpers ----------------------------------------------------------------------

    def level_for(self, subject: str) -> CompatibilityLevel:
        return self.subject_levels.get(subject, self.global_level)

    def _versions(self, subject: str) -> list[int]:
        ids = self._subjects.get(subject)
        if not ids:
            raise _ApiError(404, 40401, f"Subject '{subject}' not found.")
        return ids

    def _version_index(self, subject: str, raw: str) -> int:
        """Index into the subject's versions for ``latest``/``-1`` or a version number."""
        ids = self._versions(subject)
        if raw in ("latest", "-1"):
            return len(ids) - 1
        try:
            version = int(raw)
        except ValueError:
            version = 0
        if not 1 <= version <= _MAX_VERSION:
            raise _ApiError(
                422,
                42202,
                f"The specified version '{raw}' is not a valid version id. "
                f'Allowed values are between [1, 2^31-1] and the string "latest"',
            )
        if version > len(ids):
            raise _ApiError(404, 40402, f"Version {version} not found.")
        return version - 1

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.text())
        except ValueError as exc:
            raise _ApiError(400, 400, f"Unrecognized request body: {exc}") from None
        if not isinstance(body, dict):
            raise _ApiError(400, 400, "Request body must be a JSON object")
        return body

    async def _schema_from(self, request: web.Request) -> tuple[str, str]:
        """The request's Avro schema text and its canonical form; 42201 if it is not valid Avro."""
        body = await self._body(request)
        schema = body.get("schema")
        schema_type = body.get("schemaType", "AVRO")
        if schema_type != "AVRO":
            raise _ApiError(422, 42201, f"Invalid schema type {schema_type!r}: this registry knows AVRO only")
        if not isinstance(schema, str):
            raise _ApiError(422, 42201, "Invalid schema: the request needs a 'schema' string")
        try:
            fastavro.parse_schema(json.loads(schema))
            canonical = _canonical(schema)
        except Exception as exc:  # fastavro raises ValueError, TypeError, KeyError, ... on bad input
            raise _ApiError(422, 42201, f"Invalid schema {schema}, details: {exc}") from None
        return schema, canonical

    # -- subjects and schemas ---------------------------------------------------------------

    async def _list_subjects(self, request: web.Request) -> web.Response:
        return _json(sorted(self._subjects))

    async def _list_versions(self, request: web.Request) -> web.Response:
        ids = self._versions(request.match_info["subject"])
        return _json(list(range(1, len(ids) + 1)))

    async def _register(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        schema, canonical = await self._schema_from(request)
        ids = self._subjects.get(subject, [])
        known = self._ids.get(canonical)
        if known is not None and known in ids:
            return _json({"id": known})
        problems = compatibility_problems(schema, [self._schemas[i] for i in ids], self.level_for(subject))
        if problems:
            raise _ApiError(
                409,
                409,
                f'Schema being registered is incompatible with an earlier schema for subject "{subject}", '
                f"details: {problems}",
            )
        if known is None:
            known = len(self._schemas) + 1
            self._schemas[known] = schema
            self._ids[canonical] = known
        self._subjects.setdefault(subject, []).append(known)
        return _json({"id": known})

    async def _get_version(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        index = self._version_index(subject, request.match_info["version"])
        schema_id = self._subjects[subject][index]
        return _json({"subject": subject, "id": schema_id, "version": index + 1, "schema": self._schemas[schema_id]})

    async def _get_schema(self, request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        schema = self._schemas.get(int(raw)) if raw.isdigit() else None
        if schema is None:
            raise _ApiError(404, 40403, f"Schema {raw} not found")
        return _json({"schema": schema})

    async def _check(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        index = self._version_index(subject, request.match_info["version"])
        schema, _ = await self._schema_from(request)
        # Against the one version named: history up to it, judged at the non-transitive level.
        history = [self._schemas[i] for i in self._subjects[subject][: index + 1]]
        level = self.level_for(subject)
        problems = compatibility_problems(schema, history, _ONE_VERSION.get(level, level))
        answer: dict[str, object] = {"is_compatible": not problems}
        if request.query.get("verbose", "").lower() == "true":
            answer["messages"] = problems
        return _json(answer)

    # -- configuration ----------------------------------------------------------------------

    @staticmethod
    async def _level_from(request: web.Request) -> CompatibilityLevel:
        body = await FakeSchemaRegistry._body(request)
        wanted = body.get("compatibility")
        for level in COMPATIBILITY_LEVELS:
            if isinstance(wanted, str) and wanted.upper() == level:
                return level
        raise _ApiError(
            422,
            42203,
            "Invalid compatibility level. Valid values are none, backward, forward, full, "
            "backward_transitive, forward_transitive, and full_transitive",
        )

    async def _get_global_config(self, request: web.Request) -> web.Response:
        return _json({"compatibilityLevel": self.global_level})

    async def _put_global_config(self, request: web.Request) -> web.Response:
        self.global_level = await self._level_from(request)
        return _json({"compatibility": self.global_level})

    async def _get_subject_config(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        level = self.subject_levels.get(subject)
        if level is None and request.query.get("defaultToGlobal", "").lower() == "true":
            level = self.global_level
        if level is None:
            raise _ApiError(404, 40401, f"Subject '{subject}' not found.")
        return _json({"compatibilityLevel": level})

    async def _put_subject_config(self, request: web.Request) -> web.Response:
        level = await self._level_from(request)
        self.subject_levels[request.match_info["subject"]] = level
        return _json({"compatibility": level})
