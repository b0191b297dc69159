"""A schema registry that needs no server: the embedded default.

Ids are derived, not allocated: ``schema_id = first 31 bits of SHA-256(Parsing
Canonical Form)``. Every process of a deployment therefore computes the same id
for the same schema without coordinating, and a record written by one worker
is readable by any other that knows the schema.

A process knows a schema if it ships with the project (every ``.avsc`` under
``schemas/avro``) or if some process registered it in the shared
:class:`SchemaLog` (on Kafka, a compacted topic; see
``streams.kafka.schema_log``). Registration appends to the log before it
returns, so an id handed out is always resolvable by the others.

Collisions of two different schemas on one 31-bit id are detected at
registration and refused rather than silently aliased.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson
from fastavro.schema import to_parsing_canonical_form

from schemas.errors import IncompatibleSchemaError, SchemaError, SchemaNotFoundError
from schemas.registry.base import (
    DEFAULT_COMPATIBILITY,
    CompatibilityLevel,
    RegisteredSchema,
    SchemaRegistry,
)

SHIPPED_SCHEMAS = Path(__file__).resolve().parent.parent / "avro"


@dataclass(frozen=True, slots=True)
class SchemaLogEntry:
    """One registration as the shared log records it."""

    subject: str
    schema_id: int
    schema: str


class SchemaLog(Protocol):
    """Where registrations are shared between the processes of a deployment.

    ``read_all`` returns every entry appended so far by any process;
    ``append`` returns only once the entry is durable (readable by others).
    """

    async def read_all(self) -> list[SchemaLogEntry]: ...

    async def append(self, entry: SchemaLogEntry) -> None: ...


class MemorySchemaLog:
    """A process-local :class:`SchemaLog`: for tests and single-process use."""

    def __init__(self) -> None:
        self.entries: list[SchemaLogEntry] = []

    async def read_all(self) -> list[SchemaLogEntry]:
        return list(self.entries)

    async def append(self, entry: SchemaLogEntry) -> None:
        self.entries.append(entry)


def canonical_form(schema: str) -> str:
    try:
        return str(to_parsing_canonical_form(orjson.loads(schema)))
    except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        raise SchemaError(f"not a valid Avro schema: {exc}") from exc


def derived_schema_id(schema: str) -> int:
    """The id every process derives for ``schema``: 31 bits of SHA-256 of its canonical form."""
    digest = hashlib.sha256(canonical_form(schema).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class EmbeddedRegistry(SchemaRegistry):
    """Derived-id registry with compatibility checks, backed by a shared :class:`SchemaLog`."""

    def __init__(
        self,
        log: SchemaLog | None = None,
        *,
        shipped: Iterable[Path] | None = None,
        default_level: CompatibilityLevel = DEFAULT_COMPATIBILITY,
    ) -> None:
        self._log: SchemaLog = log if log is not None else MemorySchemaLog()
        self._by_id: dict[int, str] = {}
        self._versions: dict[str, list[tuple[int, str]]] = {}
        self._levels: dict[str, CompatibilityLevel] = {}
        self._default_level = default_level
        files = shipped if shipped is not None else sorted(SHIPPED_SCHEMAS.glob("*/v*.avsc"))
        for path in files:
            self._remember_id(path.read_text(encoding="utf-8"))

    def _remember_id(self, schema: str) -> int:
        schema_id = derived_schema_id(schema)
        known = self._by_id.get(schema_id)
        if known is not None and canonical_form(known) != canonical_form(schema):
            raise SchemaError(f"schema id collision on {schema_id}: two different schemas derive the same id")
        self._by_id.setdefault(schema_id, schema)
        return schema_id

    def _remember(self, entry: SchemaLogEntry) -> None:
        schema_id = self._remember_id(entry.schema)
        if schema_id != entry.schema_id:
            # a log entry whose id is not the derived one was not written by this registry: ignore it
            return
        versions = self._versions.setdefault(entry.subject, [])
        if all(existing_id != entry.schema_id for existing_id, _ in versions):
            versions.append((entry.schema_id, entry.schema))

    async def start(self) -> None:
        await self._catch_up()

    async def _catch_up(self) -> None:
        for entry in await self._log.read_all():
            self._remember(entry)

    async def register(self, subject: str, schema: str) -> int:
        schema_id = derived_schema_id(schema)
        if any(existing == schema_id for existing, _ in self._versions.get(subject, [])):
            return schema_id
        await self._catch_up()
        versions = self._versions.get(subject, [])
        if any(existing == schema_id for existing, _ in versions):
            return schema_id
        problems = self._problems(subject, schema, [text for _, text in versions])
        if problems:
            raise IncompatibleSchemaError(f"{subject}: " + "; ".join(problems))
        entry = SchemaLogEntry(subject=subject, schema_id=schema_id, schema=schema)
        await self._log.append(entry)
        self._remember(entry)
        return schema_id

    def _problems(self, subject: str, schema: str, existing: list[str]) -> list[str]:
        from schemas.compatibility import compatibility_problems

        level = self._levels.get(subject, self._default_level)
        return compatibility_problems(schema, existing, level) if existing else []

    async def schema_by_id(self, schema_id: int) -> str:
        schema = self._by_id.get(schema_id)
        if schema is None:
            await self._catch_up()
            schema = self._by_id.get(schema_id)
        if schema is None:
            raise SchemaNotFoundError(f"schema id {schema_id} is neither shipped nor registered")
        return schema

    async def latest(self, subject: str) -> RegisteredSchema:
        versions = self._versions.get(subject)
        if not versions:
            await self._catch_up()
            versions = self._versions.get(subject)
        if not versions:
            raise SchemaNotFoundError(f"subject {subject!r} not found")
        schema_id, schema = versions[-1]
        return RegisteredSchema(subject=subject, version=len(versions), schema_id=schema_id, schema=schema)

    async def is_compatible(self, subject: str, schema: str) -> bool:
        await self._catch_up()
        return not self._problems(subject, schema, [text for _, text in self._versions.get(subject, [])])

    async def set_compatibility(self, subject: str, level: CompatibilityLevel) -> None:
        self._levels[subject] = level
