"""JSON and RFC 7807 problem responses, shared by every HTTP endpoint of the project (capture, management,
the HTTP push source)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    """An ``application/problem+json`` document."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/problem+json")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json", headers=headers)
