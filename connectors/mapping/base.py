"""The mapper contract and registry.

A mapper is pure: the same native record always gives the same events (so a
record read twice across a crash yields the same event hashes and the bus
drops the repeat). It raises :class:`~connectors.base.SourceRecordError` with
a short reason when a record cannot be mapped; the source turns that into a
dead letter holding the record's original bytes.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

from connectors.base import SourceRecord, SourceRecordError
from connectors.errors import ConnectorConfigError
from schemas.epcis.trace_extension import TRACE_NAMESPACE, TRACE_PREFIX

EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
DEFAULT_CONTEXT: Final[tuple[Any, ...]] = (EPCIS_CONTEXT, {TRACE_PREFIX: TRACE_NAMESPACE})
"""The JSON-LD context of mapped events: EPCIS 2.0 plus the traceability extension (never fetched)."""


@dataclass(frozen=True, slots=True)
class Mapped:
    """What one native record became: zero or more events and their JSON-LD context."""

    events: tuple[dict[str, Any], ...]
    context: tuple[Any, ...] = DEFAULT_CONTEXT


class RecordMapper(abc.ABC):
    """Turns one native record into events. Stateless and deterministic; one instance per source."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def map(self, record: Mapping[str, Any]) -> Mapped:
        """The record's events, or raise :class:`~connectors.base.SourceRecordError`."""


logger = logging.getLogger(__name__)


def map_to_record(
    mapper: RecordMapper, fields: Mapping[str, Any], *, partition: str, offset: Any, identity: str, raw: bytes
) -> SourceRecord:
    """What every source does with one native record: its events, or an error record holding its bytes.

    A :class:`SourceRecordError` carries the mapper's reason; any other exception is a mapper bug and becomes
    reason ``mapper-failed`` (logged with its traceback), so one record never stalls its source.
    """
    try:
        mapped = mapper.map(fields)
    except SourceRecordError as exc:
        return SourceRecord(partition, offset, identity, raw, error=exc)
    except Exception as exc:  # a mapper bug: this record is dead-lettered, the source goes on
        logger.exception("mapper %s failed on record %s", mapper.name, identity)
        return SourceRecord(partition, offset, identity, raw, error=SourceRecordError("mapper-failed", repr(exc)))
    return SourceRecord(partition, offset, identity, raw, events=mapped.events, context=mapped.context)


_MAPPERS: dict[str, type[RecordMapper]] = {}
M = TypeVar("M", bound=type[RecordMapper])


def register_mapper(cls: M) -> M:
    if cls.name in _MAPPERS and _MAPPERS[cls.name] is not cls:
        raise ValueError(f"mapper {cls.name!r} is already registered")
    _MAPPERS[cls.name] = cls
    return cls


def _load_builtins() -> None:
    import connectors.mapping.builtin  # noqa: F401 - registers the shipped mappers


def mapper_names() -> list[str]:
    _load_builtins()
    return sorted(_MAPPERS)


def mapper_for(name: str) -> RecordMapper:
    """A new instance of the mapper registered as ``name``; unknown names are a config error."""
    _load_builtins()
    factory: Callable[[], RecordMapper] | None = _MAPPERS.get(name)
    if factory is None:
        raise ConnectorConfigError(
            f"mapper {name!r} is not registered (known: {', '.join(sorted(_MAPPERS))})",
            problems=(("mapper", f"unknown mapper {name!r}"),),
        )
    return factory()
