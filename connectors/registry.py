"""The connector registry: each connector's name, kind, transport, config model and class, bound together.

A connector module registers its class once, at import::

    @register(
        name="file-source",
        kind="source",
        transport="file",
        config=FileSourceConfig,
        conformance="connectors.file.conformance:FileSourceKit",
    )
    class FileSource(Source):
        @classmethod
        def create(cls, config: FileSourceConfig, context: ConnectorContext) -> FileSource: ...

``connector.class`` in a config file is the registered ``name``. The
conformance kit (:mod:`connectors.testing`) is named by a ``module:Class``
string so production imports never load test helpers; the conformance suite
(``tests/integration/test_conformance.py``) runs over every registered
connector, and a connector without a kit fails it.

:mod:`connectors.catalog` imports every shipped connector module, so the
registry is complete once it is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from connectors.base import Sink, Source
from connectors.config import ConnectorConfig, field_descriptions, parse_config
from connectors.errors import ConnectorConfigError, UnknownConnectorError
from streams.subscriptions import Department

if TYPE_CHECKING:
    from schemas.registry.base import SchemaRegistry
    from streams.settings import KafkaSettings, Settings

Kind = Literal["source", "sink"]


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector may use of the bus it runs in: settings, the Kafka client settings, the registry.

    ``state_dir`` is this connector instance's own directory for local state
    (created by the runtime, kept across restarts).
    """

    settings: Settings
    kafka: KafkaSettings
    registry: SchemaRegistry | None
    state_dir: Path


class ConnectorClass(Protocol):
    @classmethod
    def create(cls, config: Any, context: ConnectorContext) -> Source | Sink: ...


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    kind: Kind
    transport: str
    platform: Department | None
    config_model: type[ConnectorConfig]
    connector_class: type[Source] | type[Sink]
    conformance: str | None
    description: str

    def parse(self, raw: Mapping[str, Any], *, origin: str = "config") -> ConnectorConfig:
        return parse_config(self.config_model, raw, origin=origin)

    def create(self, config: ConnectorConfig, context: ConnectorContext) -> Source | Sink:
        factory: Callable[[Any, ConnectorContext], Source | Sink] = self.connector_class.create  # type: ignore[union-attr]
        return factory(config, context)

    def describe(self) -> dict[str, Any]:
        """One element of ``tracebus connectors list -o json``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "transport": self.transport,
            "platform": self.platform,
            "description": self.description,
            "config_fields": field_descriptions(self.config_model),
        }


_SPECS: dict[str, ConnectorSpec] = {}
T = TypeVar("T", bound=type[Source] | type[Sink])


def register(
    *,
    name: str,
    kind: Kind,
    transport: str,
    config: type[ConnectorConfig],
    platform: Department | None = None,
    conformance: str | None = None,
    description: str = "",
) -> Callable[[T], T]:
    """Bind ``name`` to the decorated class and its config model (a name is registered once)."""

    def bind(cls: T) -> T:
        expected = Source if kind == "source" else Sink
        if not issubclass(cls, expected):
            raise TypeError(f"{cls.__name__} is registered as a {kind} but is not a {expected.__name__}")
        if not hasattr(cls, "create"):
            raise TypeError(f"{cls.__name__} has no create(config, context) classmethod")
        if name in _SPECS and _SPECS[name].connector_class is not cls:
            raise ValueError(f"connector name {name!r} is already registered by {_SPECS[name].connector_class}")
        _SPECS[name] = ConnectorSpec(
            name=name,
            kind=kind,
            transport=transport,
            platform=platform,
            config_model=config,
            connector_class=cls,
            conformance=conformance,
            description=description or _first_line(cls.__doc__),
        )
        return cls

    return bind


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def specs() -> list[ConnectorSpec]:
    """Every registered connector, by name (importing the catalog first)."""
    import connectors.catalog  # noqa: F401 - registers the shipped connectors

    return [_SPECS[name] for name in sorted(_SPECS)]


def spec(name: str) -> ConnectorSpec:
    import connectors.catalog  # noqa: F401

    try:
        return _SPECS[name]
    except KeyError:
        raise UnknownConnectorError(
            f"no connector class named {name!r} (registered: {', '.join(sorted(_SPECS))})"
        ) from None


def parse_any(raw: Mapping[str, Any], *, origin: str = "config") -> tuple[ConnectorSpec, ConnectorConfig]:
    """Find the class a raw mapping names in ``connector.class`` and validate the mapping against it."""
    class_name = raw.get("connector.class")
    if not isinstance(class_name, str):
        raise ConnectorConfigError(
            f"{origin}: connector {raw.get('name', '?')!r} has no connector.class",
            problems=(("connector.class", "missing"),),
        )
    try:
        found = spec(class_name)
    except UnknownConnectorError as exc:
        raise ConnectorConfigError(f"{origin}: {exc}", problems=(("connector.class", str(exc)),)) from None
    return found, found.parse(raw, origin=origin)
