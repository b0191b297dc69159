"""Capture jobs: the EPCIS 2.0 capture-job documents that ``GET /capture/{id}`` returns.

Capture validates synchronously, so a job is finished when it is created.
Jobs live in memory, newest ``capacity`` kept: a capture job is a receipt for
the caller, not a record of the bus (the raw submission topic is that).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

CaptureErrorBehaviour = Literal["rollback", "proceed"]


@dataclass(frozen=True, slots=True)
class EventRejection:
    event_index: int
    reason: str
    message: str

    def problem(self) -> dict[str, Any]:
        """RFC 7807 problem details, as the EPCIS capture job's ``errors`` carries them."""
        return {
            "type": "epcisException:ValidationException",
            "title": self.reason,
            "status": 400,
            "detail": f"event {self.event_index}: {self.message}",
            "eventIndex": self.event_index,
        }


@dataclass(slots=True)
class CaptureJob:
    capture_id: str
    source: str
    created_at: datetime
    finished_at: datetime
    behaviour: CaptureErrorBehaviour
    accepted: int
    rejected: list[EventRejection] = field(default_factory=list)
    published: int = 0

    @property
    def success(self) -> bool:
        return not self.rejected

    def document(self) -> dict[str, Any]:
        return {
            "captureID": self.capture_id,
            "createdAt": _iso(self.created_at),
            "finishedAt": _iso(self.finished_at),
            "running": False,
            "success": self.success,
            "captureErrorBehaviour": self.behaviour,
            "errors": [r.problem() for r in self.rejected],
            "acceptedEvents": self.accepted,
            "rejectedEvents": len(self.rejected),
            "publishedEvents": self.published,
            "source": self.source,
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CaptureJobs:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._jobs: OrderedDict[str, CaptureJob] = OrderedDict()

    def add(self, job: CaptureJob) -> None:
        self._jobs[job.capture_id] = job
        while len(self._jobs) > self._capacity:
            self._jobs.popitem(last=False)

    def get(self, capture_id: str) -> CaptureJob | None:
        return self._jobs.get(capture_id)

    def recent(self, limit: int) -> list[CaptureJob]:
        if limit <= 0:
            return []
        return list(self._jobs.values())[-limit:][::-1]
