"""What the platform mappers' tests share: reading an export, validating a mapped event as the bus does, polling."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.base import Source, SourceRecord
from connectors.file.readers import read_records
from connectors.mapping.builder import PLATFORM_CONTEXT
from streams.steps.base import Emit
from streams.steps.validate import CaptureContext, validate_event

FAR_FUTURE = datetime(2027, 1, 1, tzinfo=UTC)
"""'Now' for validation: after every sample event, so none is refused as being in the future."""


def validated(event: dict[str, Any], context: Sequence[Any] = PLATFORM_CONTEXT) -> dict[str, Any]:
    """The canonical record the bus's validation makes of a mapped event (the test fails if it refuses it)."""
    capture = CaptureContext.of(reporter="platform", capture_id="t", received_at_ms=0, context=list(context))
    result = validate_event(event, capture, now=FAR_FUTURE, future_skew=timedelta(minutes=5))
    assert isinstance(result, Emit), result
    return result.value


async def poll_all(source: Source, wanted: int, *, polls: int = 200) -> list[SourceRecord]:
    """Poll (committing each poll) until ``wanted`` records came, or fail after ``polls`` polls."""
    records: list[SourceRecord] = []
    for _ in range(polls):
        batch = await source.poll()
        if batch:
            records.extend(batch)
            await source.committed(batch)
        if len(records) >= wanted:
            return records
    raise AssertionError(f"polled {len(records)} of {wanted}")


def records_of(files: list[Path]) -> list[dict[str, Any]]:
    """Every native record of an export, as the file source's reader hands them to a mapper (none unreadable)."""
    found = []
    for path in files:
        for native in read_records(path.read_bytes(), path.name, file_format="auto", encoding="auto"):
            assert native.error is None, native.error
            assert native.fields is not None
            found.append(dict(native.fields))
    return found
