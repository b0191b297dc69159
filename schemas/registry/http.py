"""A client for Confluent-compatible Schema Registries (REST API v1) over aiohttp.

Errors map onto :mod:`schemas.errors`: an unknown subject or id is
:class:`SchemaNotFoundError`, a refused evolution :class:`IncompatibleSchemaError`
(carrying the server's message), an unreachable registry or a 5xx answer
:class:`RegistryUnavailableError`; anything else the server refuses is a plain
:class:`SchemaError`. GETs are retried twice with a short backoff before the
registry is declared unavailable; POSTs and PUTs are sent once.

Credentials (``basic_auth`` or ``user:password@`` in the URL) travel only in the
``Authorization`` header: they appear in no error message and no repr.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import Any, Final, NoReturn
from urllib.parse import quote

import aiohttp
from yarl import URL

from schemas.errors import IncompatibleSchemaError, RegistryUnavailableError, SchemaError, SchemaNotFoundError
from schemas.registry.base import CompatibilityLevel, RegisteredSchema, SchemaRegistry

__all__ = ["ConfluentRegistryClient"]

CONTENT_TYPE: Final = "application/vnd.schemaregistry.v1+json"
_ACCEPT: Final = (
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5"
)
_NOT_FOUND_CODES: Final = frozenset({40401, 40402, 40403})


def _canonical(schema: str) -> str:
    """Cache key for a schema text: key order and whitespace do not make a new schema."""
    try:
        return json.dumps(json.loads(schema), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return schema


def _basic_auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _segment(value: str) -> str:
    """Percent-encode one path segment (a subject may contain ``/``, ``?``, ``%`` ...)."""
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: Any  # decoded JSON, or None when the body was not JSON

    @property
    def error_code(self) -> int | None:
        code = self.body.get("error_code") if isinstance(self.body, dict) else None
        return code if isinstance(code, int) else None

    @property
    def message(self) -> str:
        message = self.body.get("message") if isinstance(self.body, dict) else None
        return message if isinstance(message, str) else f"HTTP {self.status}"

    @property
    def snippet(self) -> str:
        """The body for an error message, cut short."""
        text = repr(self.body)
        return text if len(text) <= 200 else text[:200] + "..."


class ConfluentRegistryClient(SchemaRegistry):
    """:class:`SchemaRegistry` backed by a Confluent-compatible registry at ``url``.

    One :class:`aiohttp.ClientSession` lives from :meth:`start` to :meth:`close`.
    Answers that cannot change are cached: id → schema text, and
    (subject, schema) → id once the registry has accepted the schema.
    """

    #: Pauses before the retries of a GET; one retry per entry.
    retry_delays_s: tuple[float, ...] = (0.1, 0.3)

    def __init__(self, url: str, *, basic_auth: tuple[str, str] | None = None, timeout_s: float = 10.0) -> None:
        parsed = URL(url)
        if parsed.user is not None:  # credentials in the URL: move them to the auth header
            if basic_auth is None:
                basic_auth = (parsed.user, parsed.password or "")
            parsed = parsed.with_user(None)
        self._base = str(parsed).rstrip("/")
        self._auth = _basic_auth_header(*basic_auth) if basic_auth is not None else None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._schemas: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._fetching: dict[int, asyncio.Future[str]] = {}

    def __repr__(self) -> str:
        auth = ", basic_auth=<hidden>" if self._auth is not None else ""
        return f"{type(self).__name__}({self._base!r}{auth})"

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is None:
            headers = {"Accept": _ACCEPT}
            if self._auth is not None:
                headers["Authorization"] = self._auth
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=headers)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- SchemaRegistry ---------------------------------------------------------------------

    async def register(self, subject: str, schema: str) -> int:
        key = (subject, _canonical(schema))
        cached = self._ids.get(key)
        if cached is not None:
            return cached
        path = f"/subjects/{_segment(subject)}/versions"
        reply = await self._call("POST", path, {"schema": schema})
        if reply.status != 200:
            self._fail(reply, f"registering a schema under subject {subject!r}")
        schema_id = self._int(reply, "id")
        self._ids[key] = schema_id
        return schema_id

    async def schema_by_id(self, schema_id: int) -> str:
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        pending = self._fetching.get(schema_id)
        if pending is None:  # one request per id, however many callers wait for it
            pending = asyncio.ensure_future(self._fetch_schema(schema_id))
            self._fetching[schema_id] = pending
            pending.add_done_callback(lambda _: self._fetching.pop(schema_id, None))
        return await asyncio.shield(pending)

    async def latest(self, subject: str) -> RegisteredSchema:
        reply = await self._call("GET", f"/subjects/{_segment(subject)}/versions/latest")
        if reply.status != 200:
            self._fail(reply, f"latest version of subject {subject!r}")
        schema_id = self._int(reply, "id")
        schema = self._str(reply, "schema")
        found = RegisteredSchema(
            subject=subject, version=self._int(reply, "version"), schema_id=schema_id, schema=schema
        )
        self._schemas.setdefault(schema_id, schema)
        self._ids.setdefault((subject, _canonical(schema)), schema_id)
        return found

    async def is_compatible(self, subject: str, schema: str) -> bool:
        path = f"/compatibility/subjects/{_segment(subject)}/versions/latest"
        reply = await self._call("POST", path, {"schema": schema})
        if reply.status == 404 and reply.error_code in (40401, 40402):
            return True  # no subject (or no version) yet: nothing to break
        if reply.status != 200:
            self._fail(reply, f"compatibility check against subject {subject!r}")
        verdict = reply.body.get("is_compatible") if isinstance(reply.body, dict) else None
        if not isinstance(verdict, bool):
            raise SchemaError(f"compatibility answer lacks a boolean 'is_compatible': {reply.snippet}")
        return verdict

    async def set_compatibility(self, subject: str, level: CompatibilityLevel) -> None:
        reply = await self._call("PUT", f"/config/{_segment(subject)}", {"compatibility": level})
        if reply.status != 200:
            self._fail(reply, f"setting compatibility {level} on subject {subject!r}")

    # -- internals --------------------------------------------------------------------------

    async def _fetch_schema(self, schema_id: int) -> str:
        reply = await self._call("GET", f"/schemas/ids/{int(schema_id)}")
        if reply.status != 200:
            self._fail(reply, f"schema id {schema_id}")
        schema_type = reply.body.get("schemaType", "AVRO") if isinstance(reply.body, dict) else "AVRO"
        if schema_type != "AVRO":
            raise SchemaError(f"schema id {schema_id} is a {schema_type} schema, not Avro")
        return self._schemas.setdefault(schema_id, self._str(reply, "schema"))

    async def _call(self, method: str, path: str, body: dict[str, str] | None = None) -> _Reply:
        """Send one request (GETs: up to three); 5xx and transport failures raise here."""
        session = self._session
        if session is None:
            raise RuntimeError(f"{self!r} is not started; await start() first")
        url = URL(self._base + path, encoded=True)
        data = None if body is None else json.dumps(body).encode()
        headers = None if body is None else {"Content-Type": CONTENT_TYPE}
        delays = self.retry_delays_s if method == "GET" else ()
        failure = RegistryUnavailableError(f"{method} {path}: no attempt made")
        cause: BaseException | None = None
        for attempt in range(len(delays) + 1):
            if attempt:
                await asyncio.sleep(delays[attempt - 1])
            try:
                async with session.request(method, url, data=data, headers=headers, allow_redirects=False) as response:
                    status, text = response.status, await response.text()
            except (aiohttp.ClientError, TimeoutError) as exc:
                # ClientResponseError drags request headers (Authorization) along: do not chain it.
                cause = None if isinstance(exc, aiohttp.ClientResponseError) else exc
                reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
                failure = RegistryUnavailableError(
                    f"schema registry {self._base} unreachable ({method} {path}): {reason}"
                )
                continue
            reply = _Reply(status, _decode(text))
            if status < 500:
                return reply
            cause = None
            failure = RegistryUnavailableError(
                f"schema registry {self._base} failed ({method} {path}): "
                f"HTTP {status}, error {reply.error_code}: {reply.message}"
            )
        raise failure from cause

    @staticmethod
    def _fail(reply: _Reply, what: str) -> NoReturn:
        """Raise the error that a non-200 answer (below 500) stands for."""
        detail = f"{what}: HTTP {reply.status}, error {reply.error_code}: {reply.message}"
        if reply.status == 404 or reply.error_code in _NOT_FOUND_CODES:
            raise SchemaNotFoundError(detail)
        if reply.status == 409:
            raise IncompatibleSchemaError(detail)
        if reply.error_code == 42201:
            raise SchemaError(f"invalid schema: {detail}")
        raise SchemaError(f"schema registry refused {detail}")

    @staticmethod
    def _int(reply: _Reply, field: str) -> int:
        value = reply.body.get(field) if isinstance(reply.body, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise SchemaError(f"registry answer lacks an integer {field!r}: {reply.snippet}")
        return value

    @staticmethod
    def _str(reply: _Reply, field: str) -> str:
        value = reply.body.get(field) if isinstance(reply.body, dict) else None
        if not isinstance(value, str):
            raise SchemaError(f"registry answer lacks a string {field!r}: {reply.snippet}")
        return value


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
