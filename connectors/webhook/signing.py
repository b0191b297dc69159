"""``GS1-Signature: sha256=<hex HMAC-SHA256 of the exact body>`` and the idempotency headers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote

import orjson

SIGNATURE_HEADER = "GS1-Signature"
EVENT_IDS_HEADER = "Tracebus-Event-IDs"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign_body(body: bytes, token: bytes) -> str:
    return "sha256=" + hmac.new(token, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, token: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign_body(body, token), header)


def event_ids_header(event_ids: Sequence[str]) -> str:
    """Comma-separated identities; commas inside an identity are percent-encoded."""
    return ",".join(quote(i, safe=":/;?=-._~@+") for i in event_ids)


def parse_event_ids_header(value: str) -> list[str]:
    from urllib.parse import unquote

    return [unquote(part) for part in value.split(",") if part]


def idempotency_key(event_ids: Sequence[str]) -> str:
    """One key per delivered batch: the same events in the same order give the same key."""
    # JSON framing keeps ["a\nb"] and ["a", "b"] apart
    return hashlib.sha256(orjson.dumps(list(event_ids))).hexdigest()
