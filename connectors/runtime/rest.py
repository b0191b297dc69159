"""The management REST API, shaped after Kafka Connect's, for connectors and subscriptions alike.

==============================================  ===============================================
``GET    /connector-plugins``                   registered connector classes (``connectors list``)
``PUT    /connector-plugins/{class}/config/validate``  validate a config offline (200 with problems listed)
``GET    /connectors``                          names; ``?expand=status`` adds each status
``POST   /connectors``                          create: ``{"name": …, "config": {…}}`` or the flat config
``GET    /connectors/{name}``                   its config, secrets masked
``GET    /connectors/{name}/status``            state, counts, lag, last error
``PUT    /connectors/{name}/pause``             pause (202)
``PUT    /connectors/{name}/resume``            resume (202)
``POST   /connectors/{name}/restart``           fresh runner from the same config (202; also after FAILED)
``PUT    /connectors/{name}/stop``              stop, keep the config (needed before an offset reset)
``DELETE /connectors/{name}``                   stop and remove
``GET    /connectors/{name}/offsets``           source positions or sink group offsets
``DELETE /connectors/{name}/offsets``           reset to the start (``?to=latest`` or ``?to=<ms>`` for sinks)
``GET    /subscriptions``                       every subscription sink's status
``GET    /subscriptions/{name}/status``         …and the same operations under ``/subscriptions/{name}/…``
``POST   /subscriptions/{name}/backfill``       ``{"from": ISO-8601, "to": ISO-8601?}``: re-route that range
==============================================  ===============================================

Errors are RFC 7807 problem documents; a refused config answers 400 with
``problems`` listing every key and reason. No response ever contains a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

import orjson
from aiohttp import web

from connectors.config import public_config
from connectors.errors import ConnectorConfigError, ConnectorError, UnknownConnectorError
from connectors.registry import spec, specs
from connectors.runtime.worker import ConnectorWorker
from streams.responses import json_response, problem

logger = logging.getLogger(__name__)
Backfill = Callable[[str, int, int], Awaitable[dict[str, Any]]]
"""(subscription, from ms, to ms) → a report of what was re-routed."""


def _refused(exc: ConnectorConfigError) -> web.Response:
    problems = [{"key": key, "reason": reason} for key, reason in exc.problems]
    return problem(400, "Connector config refused", str(exc), problems=problems)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _guarded(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except UnknownConnectorError as exc:
            return problem(404, "Not found", str(exc))
        except ConnectorConfigError as exc:
            return _refused(exc)
        except ValueError as exc:
            return problem(400, "Bad request", str(exc))
        except ConnectorError as exc:
            return problem(409, "Operation failed", str(exc))
        except Exception as exc:  # the API answers with a problem document, never a bare 500 page
            logger.exception("management request %s %s failed", request.method, request.path)
            return problem(500, "Internal error", f"{type(exc).__name__}: {exc}")

    return guarded


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _reset_target(request: web.Request) -> Literal["earliest", "latest"] | int:
    to = request.query.get("to", "earliest")
    if to in ("earliest", "latest"):
        return "earliest" if to == "earliest" else "latest"
    if to.isdigit():
        return int(to)
    return int(datetime.fromisoformat(to).timestamp() * 1000)


def management_routes(worker: ConnectorWorker, *, backfill: Backfill | None = None) -> list[web.RouteDef]:
    async def plugins(request: web.Request) -> web.Response:
        return json_response([s.describe() for s in specs()])

    async def validate(request: web.Request) -> web.Response:
        found = spec(request.match_info["cls"])
        raw = await _body(request)
        raw.setdefault("connector.class", found.name)
        try:
            config = found.parse(raw, origin="request")
        except ConnectorConfigError as exc:
            problems = [{"key": key, "reason": reason} for key, reason in exc.problems]
            return json_response({"name": found.name, "error_count": len(problems), "problems": problems})
        return json_response({"name": found.name, "error_count": 0, "problems": [], "config": public_config(config)})

    async def connectors(request: web.Request) -> web.Response:
        if request.query.get("expand") == "status":
            return json_response({s["name"]: {"status": s} for s in worker.statuses()})
        return json_response(sorted(worker.connectors))

    async def create(request: web.Request) -> web.Response:
        raw = await _body(request)
        if "config" in raw and isinstance(raw["config"], dict):
            raw = {"name": raw.get("name"), **raw["config"]}
        instance = await worker.create(raw)
        return json_response({"name": instance.name, "config": worker.config_of(instance.name)}, status=201)

    def scoped(subscription: bool) -> list[web.RouteDef]:
        base = "/subscriptions/{name}" if subscription else "/connectors/{name}"

        async def status(request: web.Request) -> web.Response:
            return json_response(worker.status(request.match_info["name"], subscription=subscription))

        async def pause(request: web.Request) -> web.Response:
            worker.pause_instance(request.match_info["name"], subscription=subscription)
            return json_response({"name": request.match_info["name"], "state": "PAUSED"}, status=202)

        async def resume(request: web.Request) -> web.Response:
            worker.resume_instance(request.match_info["name"], subscription=subscription)
            return json_response({"name": request.match_info["name"], "state": "RUNNING"}, status=202)

        async def restart(request: web.Request) -> web.Response:
            instance = await worker.restart_instance(request.match_info["name"], subscription=subscription)
            return json_response({"name": instance.name, "state": "RESTARTING"}, status=202)

        async def stop(request: web.Request) -> web.Response:
            await worker.stop_instance(request.match_info["name"], subscription=subscription)
            return json_response({"name": request.match_info["name"], "state": "STOPPED"}, status=202)

        async def offsets(request: web.Request) -> web.Response:
            return json_response(await worker.offsets(request.match_info["name"], subscription=subscription))

        async def reset(request: web.Request) -> web.Response:
            target = _reset_target(request)
            result = await worker.reset_offsets(request.match_info["name"], subscription=subscription, to=target)
            return json_response(result)

        return [
            web.get(f"{base}/status", _guarded(status)),
            web.put(f"{base}/pause", _guarded(pause)),
            web.put(f"{base}/resume", _guarded(resume)),
            web.post(f"{base}/restart", _guarded(restart)),
            web.put(f"{base}/stop", _guarded(stop)),
            web.get(f"{base}/offsets", _guarded(offsets)),
            web.delete(f"{base}/offsets", _guarded(reset)),
        ]

    async def config(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return json_response({"name": name, "config": worker.config_of(name)})

    async def delete(request: web.Request) -> web.Response:
        await worker.delete(request.match_info["name"])
        return web.Response(status=204)

    async def subscriptions(request: web.Request) -> web.Response:
        return json_response(worker.statuses(subscription=True))

    async def run_backfill(request: web.Request) -> web.Response:
        if backfill is None:
            return problem(501, "Not available", "this process does not route events (no router role)")
        name = request.match_info["name"]
        body = await _body(request)
        if "from" not in body:
            raise ValueError('backfill needs "from" (ISO-8601 with offset)')
        start = datetime.fromisoformat(str(body["from"]))
        end = datetime.fromisoformat(str(body["to"])) if body.get("to") else datetime.now(start.tzinfo)
        if start.tzinfo is None:
            raise ValueError('"from" needs a UTC offset, e.g. 2026-11-01T00:00:00+08:00')
        report = await backfill(name, int(start.timestamp() * 1000), int(end.timestamp() * 1000))
        return json_response(report, status=202)

    return [
        web.get("/connector-plugins", _guarded(plugins)),
        web.put("/connector-plugins/{cls}/config/validate", _guarded(validate)),
        web.get("/connectors", _guarded(connectors)),
        web.post("/connectors", _guarded(create)),
        web.get("/connectors/{name}", _guarded(config)),
        web.delete("/connectors/{name}", _guarded(delete)),
        *scoped(subscription=False),
        web.get("/subscriptions", _guarded(subscriptions)),
        web.post("/subscriptions/{name}/backfill", _guarded(run_backfill)),
        *scoped(subscription=True),
    ]
