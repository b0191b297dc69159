"""Step outcomes: errors are data.

A step never raises for a problem with one event: it returns ``Fail`` with a
short ``reason`` (a metric label and the dead-letter reason header) and a
human ``message``. ``Drop`` is a deliberate, counted discard (a duplicate, an
event no one subscribes to). ``Emit`` carries the value on to the next step.
The step's name is the metric label ``step`` and the dead-letter ``stage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Emit(Generic[T]):
    value: T


@dataclass(frozen=True, slots=True)
class Drop:
    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    reason: str
    message: str
    error_class: str = "StepError"


StepResult = Emit[T] | Drop | Fail
