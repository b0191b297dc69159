"""The HTTP push source (``connector.class: http-source``): platforms POST their records to us.

For a platform that can call out but exposes nothing to read. It serves::

    POST /records          Authorization: Bearer <token>
    [ {...}, {...} ]       or  {"records": [ {...}, ... ]}

Each client has its own token (config ``tokens``: client name → secret);
the client's name is part of every identity it produces. Each record is
mapped at once and queued for the runner's ``poll()``. The answer waits
until the runner has published the request's records *and* saved positions
(``committed()`` covers them), then is::

    202 {"accepted": n, "dead_lettered": m, "identities": ["<client>:…", …]}

so a 202 means the records are on the bus (or in the dead-letter topic). If
the source stops first, or ``request.timeout.ms`` passes, the answer is 503
and the client retries; the same record always gets the same identity
(``<client>:<id.field value>`` or ``<client>:<sha256 of its canonical JSON,
16 hex>``), so the bus drops what a retry repeats. There is no position to
resume: the client is the one that retries.

Errors are RFC 7807 problem documents: 401 missing or wrong token (compared
in constant time), 400 a body that is not JSON or not records, 413 above
``max.body.bytes`` or ``max.records.per.request``, 503 stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiohttp import web
from pydantic import Field, field_validator

from connectors.base import Source, SourceRecord, SourceRecordError
from connectors.config import Secret, SourceConfig
from connectors.mapping import RecordMapper, mapper_for
from connectors.mapping.base import map_to_record
from connectors.registry import ConnectorContext, register
from streams.responses import problem

log = logging.getLogger(__name__)

CLIENT_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class HttpSourceConfig(SourceConfig):
    listen_host: str = Field(default="127.0.0.1", alias="listen.host", description="address to listen on")
    listen_port: int = Field(default=0, ge=0, le=65_535, alias="listen.port", description="0: any free port")
    tokens: dict[str, Secret] = Field(
        min_length=1, description="client name → bearer token (inline, ${env:NAME} or ${file:/path})"
    )
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1, alias="max.body.bytes")
    max_records_per_request: int = Field(default=1_000, ge=1, alias="max.records.per.request")
    id_field: str | None = Field(
        default=None, alias="id.field", description="the record's own id field, used for its identity if present"
    )
    request_timeout_ms: int = Field(
        default=60_000, ge=100, alias="request.timeout.ms", description="longest wait for publishing before 503"
    )

    @field_validator("tokens")
    @classmethod
    def _client_names(cls, tokens: dict[str, Any]) -> dict[str, Any]:
        for client in tokens:
            if not re.fullmatch(CLIENT_PATTERN, client):
                raise ValueError(f"client name {client!r} must be 1-64 letters, digits, '.', '_' or '-'")
        return tokens


def canonical_json(record: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same record gives the same bytes whatever order it came in."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def record_identity(client: str, record: Any, id_field: str | None) -> str:
    own = record.get(id_field) if id_field is not None and isinstance(record, dict) else None
    if isinstance(own, str | int) and not isinstance(own, bool) and str(own).strip():
        return f"{client}:{str(own).strip()}"
    return f"{client}:{hashlib.sha256(canonical_json(record)).hexdigest()[:16]}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(eq=False)
class _Request:
    """One POST's records, waiting to be polled and then committed."""

    records: list[SourceRecord]
    done: asyncio.Future[bool]
    polled: int = 0
    committed: int = 0
    dead_lettered: int = field(init=False)

    def __post_init__(self) -> None:
        self.dead_lettered = sum(1 for record in self.records if record.error is not None)


@register(
    name="http-source",
    kind="source",
    transport="http",
    config=HttpSourceConfig,
    conformance="connectors.http.conformance:HttpSourceKit",
)
class HttpSource(Source):
    """Records POSTed by platforms (bearer token per client); answered 202 only once they are on the bus."""

    def __init__(self, config: HttpSourceConfig) -> None:
        self.name = config.name
        self.config = config
        self._mapper: RecordMapper = mapper_for(config.mapper)
        # Tokens are kept and compared as SHA-256 digests: equal lengths, so the comparison time
        # tells neither which client nor how long a token is.
        self._tokens = [(client, _digest(token.get_secret_value())) for client, token in config.tokens.items()]
        self._queue: deque[_Request] = deque()  # requests with records not yet polled
        self._in_flight: deque[tuple[_Request, int]] = deque()  # (request, count) handed by the last polls
        self._arrived = asyncio.Event()
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._sequence: dict[str, int] = {}
        self.url = ""

    @classmethod
    def create(cls, config: HttpSourceConfig, context: ConnectorContext) -> HttpSource:
        return cls(config)

    async def start(self, positions: dict[str, Any]) -> None:
        # positions are ignored on purpose: a push source has nothing to resume, the client retries.
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_post("/records", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.config.listen_host, self.config.listen_port).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        log.info("%s: listening on %s/records", self.name, self.url)

    async def poll(self) -> Sequence[SourceRecord]:
        # Records handed out by the last poll and never committed (publishing failed, the runner polls
        # again) go back to the front of the queue, so their requests are still answered.
        for request, count in reversed(self._in_flight):
            request.polled -= count
            if not (self._queue and self._queue[0] is request):
                self._queue.appendleft(request)
        self._in_flight.clear()
        if not self._queue and not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), self.config.poll_interval_ms / 1000)
        self._arrived.clear()
        batch: list[SourceRecord] = []
        while self._queue and len(batch) < self.config.batch_max_records:
            request = self._queue[0]
            take = request.records[request.polled : request.polled + self.config.batch_max_records - len(batch)]
            batch.extend(take)
            request.polled += len(take)
            self._in_flight.append((request, len(take)))
            if request.polled >= len(request.records):
                self._queue.popleft()
        return batch

    async def committed(self, records: Sequence[SourceRecord]) -> None:
        # The runner commits what it polled, in order: count them off the in-flight requests.
        left = len(records)
        while left > 0 and self._in_flight:
            request, count = self._in_flight.popleft()
            covered = min(count, left)
            request.committed += covered
            left -= covered
            if covered < count:
                self._in_flight.appendleft((request, count - covered))
            if request.committed >= len(request.records) and not request.done.done():
                request.done.set_result(True)

    def lag(self) -> int | None:
        return sum(len(request.records) - request.polled for request in self._queue)

    async def stop(self) -> None:
        self._stopping = True
        self._arrived.set()
        for request, _ in self._in_flight:
            if not request.done.done():
                request.done.set_result(False)
        for request in self._queue:
            if not request.done.done():
                request.done.set_result(False)
        self._in_flight.clear()
        self._queue.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the endpoint --------------------------------------------------------------------

    def _client(self, authorization: str | None) -> str | None:
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        given = _digest(presented.strip())
        found = None
        for client, token in self._tokens:  # every token is compared, so timing tells nothing
            if hmac.compare_digest(given, token):
                found = client
        return found

    async def _handle(self, request: web.Request) -> web.Response:
        if self._stopping:
            return problem(503, "Stopping", "the source is stopping; retry later")
        client = self._client(request.headers.get("Authorization"))
        if client is None:
            response = problem(401, "Unauthorized", "a valid 'Authorization: Bearer <token>' header is required")
            response.headers["WWW-Authenticate"] = 'Bearer realm="tracebus"'
            return response
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return problem(413, "Body too large", f"the body is {request.content_length} bytes; the limit is {limit}")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return problem(413, "Body too large", f"the body is above the limit of {limit} bytes")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return problem(400, "Not JSON", f"the body is not JSON: {exc}")
        items = document.get("records") if isinstance(document, dict) else document
        if not isinstance(items, list):
            return problem(400, "Not records", 'expected a JSON array of records or {"records": [...]}')
        most = self.config.max_records_per_request
        if len(items) > most:
            return problem(413, "Too many records", f"{len(items)} records; one request takes at most {most}")
        records = [self._record(client, item) for item in items]
        identities = [record.identity for record in records]
        pending = _Request(records, asyncio.get_running_loop().create_future())
        if records:
            self._queue.append(pending)
            self._arrived.set()
            try:
                published = await asyncio.wait_for(asyncio.shield(pending.done), self.config.request_timeout_ms / 1000)
            except TimeoutError:
                if pending.polled == 0 and pending in self._queue:
                    self._queue.remove(pending)  # never handed out: drop it, the client retries
                published = False
            if not published:
                return problem(503, "Not published", "the records were not published in time; retry the request")
        answer = {
            "accepted": len(records) - pending.dead_lettered,
            "dead_lettered": pending.dead_lettered,
            "identities": identities,
        }
        return web.Response(status=202, body=orjson.dumps(answer), content_type="application/json")

    def _record(self, client: str, item: Any) -> SourceRecord:
        raw = canonical_json(item)
        identity = record_identity(client, item, self.config.id_field)
        self._sequence[client] = offset = self._sequence.get(client, 0) + 1
        # Informational position only (records of this client in this run); nothing resumes from it.
        partition = f"http:{client}"
        if not isinstance(item, dict):
            error = SourceRecordError("not-an-object", f"a record is {type(item).__name__}, not an object")
            return SourceRecord(partition, offset, identity, raw, error=error)
        return map_to_record(self._mapper, item, partition=partition, offset=offset, identity=identity, raw=raw)
