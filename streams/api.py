"""The HTTP API: EPCIS capture, health and metrics.

=======================  ======================================================
``POST /capture``        EPCIS 2.0 document (JSON-LD or XML) → 202 + Location
``GET /capture/{id}``    the capture-job document
``GET /capture``         recent capture jobs
``GET /metrics``         Prometheus exposition
``GET /livez``           the process is up
``GET /readyz``          every component is ready (503 with the list if not)
=======================  ======================================================

Errors are RFC 7807 problem documents (``application/problem+json``).
``Tracebus-Source`` names the submitting department or platform.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web
from mode import Service
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from schemas.errors import DocumentError
from streams.capture.jobs import CaptureErrorBehaviour
from streams.capture.service import Capturer, TooManyEventsError
from streams.errors import PublishError
from streams.metrics import CAPTURE_REQUESTS
from streams.responses import json_response, problem

SOURCE_HEADER: Final = "Tracebus-Source"
BEHAVIOUR_HEADER: Final = "GS1-Capture-Error-Behaviour"
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

ReadinessProbe = Callable[[], dict[str, bool]]


class CaptureHandlers:
    def __init__(self, capturer: Capturer, readiness: ReadinessProbe) -> None:
        self._capturer = capturer
        self._readiness = readiness

    async def capture(self, request: web.Request) -> web.Response:
        behaviour_text = request.headers.get(BEHAVIOUR_HEADER, "rollback").strip().lower()
        if behaviour_text not in ("rollback", "proceed"):
            CAPTURE_REQUESTS.labels("bad-request").inc()
            return problem(400, "Bad capture error behaviour", f"{BEHAVIOUR_HEADER} must be rollback or proceed")
        behaviour: CaptureErrorBehaviour = "proceed" if behaviour_text == "proceed" else "rollback"
        source = request.headers.get(SOURCE_HEADER, "anonymous")
        if not _SOURCE.match(source):
            CAPTURE_REQUESTS.labels("bad-request").inc()
            return problem(400, "Bad source", f"{SOURCE_HEADER} must be 1-64 letters, digits, '.', '_' or '-'")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            CAPTURE_REQUESTS.labels("too-large").inc()
            return problem(413, "Document too large", str(exc.text or exc.reason))
        try:
            job = await self._capturer.capture(
                body,
                content_type=request.content_type if request.headers.get("Content-Type") else None,
                source=source,
                behaviour=behaviour,
                remote_address=request.remote,
            )
        except DocumentError as exc:
            CAPTURE_REQUESTS.labels("bad-document").inc()
            return problem(400, "Not an EPCIS document", str(exc))
        except TooManyEventsError as exc:
            CAPTURE_REQUESTS.labels("too-large").inc()
            return problem(413, "Too many events", str(exc))
        except PublishError as exc:
            CAPTURE_REQUESTS.labels("unavailable").inc()
            return problem(503, "Kafka unavailable", f"{exc}; nothing was captured, retry later")
        CAPTURE_REQUESTS.labels("accepted").inc()
        location = f"/capture/{job.capture_id}"
        return json_response(job.document(), status=202, headers={"Location": location})

    async def job(self, request: web.Request) -> web.Response:
        job = self._capturer.jobs.get(request.match_info["capture_id"])
        if job is None:
            return problem(404, "No such capture job", request.match_info["capture_id"])
        return json_response(job.document())

    async def jobs(self, request: web.Request) -> web.Response:
        return json_response([j.document() for j in self._capturer.jobs.recent(100)])

    async def livez(self, request: web.Request) -> web.Response:
        return json_response({"status": "alive"})

    async def readyz(self, request: web.Request) -> web.Response:
        components = self._readiness()
        ready = all(components.values())
        return json_response({"ready": ready, "components": components}, status=200 if ready else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(REGISTRY))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


def build_app(handlers: CaptureHandlers, max_body_bytes: int) -> web.Application:
    app = web.Application(client_max_size=max_body_bytes)
    app.router.add_post("/capture", handlers.capture)
    app.router.add_get("/capture", handlers.jobs)
    app.router.add_get("/capture/{capture_id}", handlers.job)
    app.router.add_get("/metrics", handlers.metrics)
    app.router.add_get("/livez", handlers.livez)
    app.router.add_get("/readyz", handlers.readyz)
    return app


class ApiServer(Service):
    """Serves :func:`build_app` on ``host:port`` (port 0 picks a free one; see ``url``)."""

    def __init__(self, app: web.Application, *, host: str, port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._app = app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def on_start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1] if self._runner.addresses else self._port
        self.url = f"http://{self._host}:{port}"

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
