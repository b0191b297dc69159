"""The registry contract shared by the HTTP client and the embedded registry."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Final, Literal

CompatibilityLevel = Literal[
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
]
COMPATIBILITY_LEVELS: Final[tuple[CompatibilityLevel, ...]] = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)
#: Contracts between departments: every version readable by and able to read every other.
DEFAULT_COMPATIBILITY: Final[CompatibilityLevel] = "FULL_TRANSITIVE"


def subject_for_topic(topic: str) -> str:
    """Confluent's TopicNameStrategy for record values: ``<topic>-value``."""
    return f"{topic}-value"


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    """A schema as a registry knows it under one subject."""

    subject: str
    version: int
    schema_id: int
    schema: str


class SchemaRegistry(abc.ABC):
    """Maps Avro schemas to the numeric ids carried in Confluent-framed records.

    Lifecycle: construct, ``await start()`` before first use, ``await close()``
    when done. Implementations cache id→schema lookups: ids are immutable, so a
    cached answer never goes stale.

    Guarantees:

    * ``register`` is idempotent: the same schema under the same subject
      returns the same id every time, in every process.
    * ``register`` refuses (``IncompatibleSchemaError``) a schema that breaks
      the subject's compatibility level.
    * ``schema_by_id`` never returns a different schema for an id it once
      answered.
    """

    async def start(self) -> None:  # noqa: B027 - optional hook, default does nothing
        """Open connections; default: nothing to open."""

    async def close(self) -> None:  # noqa: B027 - optional hook, default does nothing
        """Release connections; default: nothing to release."""

    @abc.abstractmethod
    async def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` (Avro JSON text) under ``subject``; return its id."""

    @abc.abstractmethod
    async def schema_by_id(self, schema_id: int) -> str:
        """Return the Avro JSON text registered under ``schema_id``."""

    @abc.abstractmethod
    async def latest(self, subject: str) -> RegisteredSchema:
        """Return the newest version registered under ``subject``."""

    @abc.abstractmethod
    async def is_compatible(self, subject: str, schema: str) -> bool:
        """Whether ``schema`` could be registered under ``subject`` now."""

    @abc.abstractmethod
    async def set_compatibility(self, subject: str, level: CompatibilityLevel) -> None:
        """Set the compatibility level enforced for ``subject``."""
