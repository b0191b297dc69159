"""Kafka helpers for conformance kits: read a topic back, and canonical records to feed a sink."""

from __future__ import annotations

from typing import Any

from streams.kafka.read import read_topic
from streams.testing import movement_record

__all__ = ["canonical_records", "read_topic"]


def canonical_records(count: int, *, start: int = 0, reporter: str = "conformance") -> list[dict[str, Any]]:
    """``count`` valid canonical ``trace_event`` records with distinct identities and trace keys."""
    return [
        movement_record(
            event_time=f"2026-11-20T{6 + (n % 12):02d}:{n % 60:02d}:00+08:00",
            trace_code=f"CONF{n:06d}",
            reporter=reporter,
        )
        for n in range(start, start + count)
    ]
