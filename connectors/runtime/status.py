"""Connector states and counters, as the management API reports them (Kafka Connect's state names)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

ConnectorState = Literal["UNASSIGNED", "RUNNING", "PAUSED", "FAILED", "STOPPED"]


@dataclass(slots=True)
class RunnerStats:
    records: int = 0
    events: int = 0
    dead_letters: int = 0
    errors: int = 0
    failed: bool = False
    last_error: str | None = None
    last_error_at_ms: int | None = None

    def count(self, *, records: int, events: int, dead_letters: int) -> None:
        self.records += records
        self.events += events
        self.dead_letters += dead_letters

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        self.last_error_at_ms = int(time.time() * 1000)
