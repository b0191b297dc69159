"""Connector configuration: Kafka Connect's key names, pydantic models, refusal before start.

A connector config file (``ops/connectors/*.yaml``) is one mapping per
connector. Keys reuse Kafka Connect's names where they fit::

    name: mara-farm-files                 # the instance name (also its metric label)
    connector.class: file-source          # a registered name (``tracebus connectors list``)
    tasks.max: 1
    errors.tolerance: all                 # all: dead-letter a bad record and go on; none: fail the task
    errors.deadletterqueue.topic.name: deadletter
    errors.retry.timeout: 300000          # ms a failing write or poll is retried before giving up
    errors.retry.delay.max.ms: 60000      # the longest pause between two attempts

Each connector class adds its own keys on a subclass of :class:`SourceConfig`
or :class:`SinkConfig`. Unknown keys are refused with the closest known key
suggested; every problem of a file is reported at once
(:class:`~connectors.errors.ConnectorConfigError`).

Secrets are :class:`pydantic.SecretStr` fields. Their value may be written
inline or as ``${env:NAME}`` / ``${file:/path}`` (Kafka Connect's config
providers), resolved at validation. :func:`public_config` is what the REST API
and the CLI show: every secret masked, never echoed.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Final, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator

from connectors.errors import ConnectorConfigError
from streams.subscriptions import Department, SubscriptionFilter

NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{1,62}$"
MASK: Final = "**********"
_PROVIDER: Final = re.compile(r"^\$\{(env|file):([^}]+)\}$")


def resolve_secret(value: str) -> str:
    """``${env:NAME}`` → the variable, ``${file:/path}`` → the file's stripped text, else ``value`` itself."""
    match = _PROVIDER.match(value.strip())
    if match is None:
        return value
    provider, reference = match.groups()
    if provider == "env":
        if reference not in os.environ:
            raise ValueError(f"environment variable {reference} is not set")
        return os.environ[reference]
    path = Path(reference)
    if not path.is_file():
        raise ValueError(f"secret file {reference} does not exist")
    return path.read_text(encoding="utf-8").strip()


def _resolve_if_text(value: Any) -> Any:
    return resolve_secret(value) if isinstance(value, str) else value


Secret = Annotated[SecretStr, BeforeValidator(_resolve_if_text)]
"""A secret config value: inline, ``${env:NAME}`` or ``${file:/path}``; masked wherever it is shown."""


class Transform(BaseModel):
    """A single message transform (Kafka Connect's SMT): keep only the records a filter accepts.

    Applied by sinks to what they write and by the bridge to what it forwards.
    The criteria are a subscription's (:class:`~streams.subscriptions.SubscriptionFilter`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["filter"]
    filter: SubscriptionFilter


class ConnectorConfig(BaseModel):
    """Keys every connector has. Subclasses add their own; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)

    name: str = Field(pattern=NAME_PATTERN, description="instance name: metric label and dead-letter stage suffix")
    connector_class: str = Field(alias="connector.class", description="registered connector name")
    tasks_max: int = Field(default=1, ge=1, le=1, alias="tasks.max", description="tasks per connector (1 for now)")
    transforms: list[Transform] = Field(default_factory=list, description="filters applied in order")
    errors_tolerance: Literal["none", "all"] = Field(
        default="all",
        alias="errors.tolerance",
        description="all: a bad record is dead-lettered and the connector goes on; none: the connector fails",
    )
    errors_deadletterqueue_topic_name: str = Field(
        default="deadletter",
        alias="errors.deadletterqueue.topic.name",
        description="dead-letter topic (name from ops/topics.yaml, without the namespace)",
    )
    errors_retry_timeout: int = Field(
        default=300_000, ge=0, alias="errors.retry.timeout", description="ms a failing operation is retried"
    )
    errors_retry_delay_max_ms: int = Field(
        default=60_000, ge=1, alias="errors.retry.delay.max.ms", description="longest pause between attempts, ms"
    )


class SourceConfig(ConnectorConfig):
    """Keys of every source: which platform it reads and how its records become events."""

    platform: Department | None = Field(
        default=None, description="the department whose platform this source reads (reporting department)"
    )
    reporter: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="who reports the events (capture-source label routing filters see); default: the name",
    )
    mapper: str = Field(default="epcis", description="how native records become EPCIS events (connectors.mapping)")
    poll_interval_ms: int = Field(default=1_000, ge=10, alias="poll.interval.ms")
    batch_max_records: int = Field(default=500, ge=1, le=100_000, alias="batch.max.records")

    @property
    def reporting_name(self) -> str:
        return self.reporter or self.name


class SinkConfig(ConnectorConfig):
    """Keys of every sink: the topics it reads (short names, e.g. ``deliver.samr-all``)."""

    topics: list[str] = Field(min_length=1, description="topics to write out, names from ops/topics.yaml")
    batch_max_records: int = Field(default=200, ge=1, le=10_000, alias="batch.max.records")

    @field_validator("topics")
    @classmethod
    def _short_names(cls, topics: list[str]) -> list[str]:
        for topic in topics:
            if not re.fullmatch(r"[A-Za-z0-9._-]+", topic):
                raise ValueError(f"{topic!r} is not a topic name")
        return topics


C = TypeVar("C", bound=ConnectorConfig)


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _problem(model: type[BaseModel], error: Mapping[str, Any]) -> tuple[str, str]:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        known = _known_keys(model)
        close = difflib.get_close_matches(str(error["loc"][0]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return location, f"unknown key{hint} (known keys: {', '.join(sorted(known))})"
    return location, str(error["msg"])


def parse_config(model: type[C], raw: Mapping[str, Any], *, origin: str = "config") -> C:
    """Validate ``raw`` against ``model``; every problem is listed in one :class:`ConnectorConfigError`."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems = tuple(_problem(model, error) for error in exc.errors())
        name = raw.get("name", "?")
        lines = "\n".join(f"  {key}: {reason}" for key, reason in problems)
        raise ConnectorConfigError(
            f"{origin}: connector {name!r} refused ({len(problems)} problem(s)):\n{lines}", problems=problems
        ) from None


def public_config(config: ConnectorConfig) -> dict[str, Any]:
    """The config as the API and CLI show it: Kafka Connect key names, every secret masked."""
    shown = config.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    for name, field in type(config).model_fields.items():
        value = getattr(config, name)
        if value is not None and _is_secret(field.annotation):
            key = field.alias or name
            shown[key] = {k: MASK for k in value} if isinstance(value, dict) else MASK
    return shown


def _is_secret(annotation: Any) -> bool:
    """Whether a field holds a secret anywhere in its type (``Secret``, ``Secret | None``, ``dict[str, Secret]``)."""
    if annotation is SecretStr:
        return True
    return any(_is_secret(argument) for argument in get_args(annotation))


def field_descriptions(model: type[ConnectorConfig]) -> list[dict[str, Any]]:
    """``config_fields`` of ``tracebus connectors list``: key, type, required, default, secret, description."""
    fields = []
    for name, field in model.model_fields.items():
        default: Any = None if field.is_required() else field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        elif isinstance(default, list):
            default = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in default]
        secret = _is_secret(field.annotation)
        fields.append(
            {
                "name": field.alias or name,
                "type": _type_name(field.annotation),
                "required": field.is_required(),
                "default": MASK if secret and default is not None else _jsonable(default),
                "secret": secret,
                "description": field.description or "",
            }
        )
    return fields


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)


def _type_name(annotation: Any) -> str:
    """A readable type for ``config_fields``: ``string``, ``integer``, ``secret``, ``list of string`` …"""
    origin, arguments = get_origin(annotation), get_args(annotation)
    if annotation is SecretStr:
        return "secret"
    if origin is Annotated:
        return _type_name(arguments[0])
    if origin is Literal:
        return "one of " + "|".join(str(a) for a in arguments)
    if origin in (Union, UnionType):
        named = [_type_name(a) for a in arguments if a is not type(None)]
        optional = " (optional)" if type(None) in arguments else ""
        return " or ".join(named) + optional
    if origin is list:
        return f"list of {_type_name(arguments[0])}"
    if origin is dict:
        return f"map of {_type_name(arguments[0])} to {_type_name(arguments[1])}"
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
    if annotation in simple:
        return simple[annotation]
    return getattr(annotation, "__name__", str(annotation)).lower()


def load_config_file(path: Path) -> list[dict[str, Any]]:
    """The raw connector mappings of a YAML file: one mapping, a list, or ``{connectors: [...]}``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConnectorConfigError(f"{path}: cannot read connector config: {exc}") from exc
    if isinstance(data, dict) and "connectors" in data and len(data) == 1:
        data = data["connectors"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ConnectorConfigError(f"{path}: expected a mapping or a list of mappings, one per connector")
    return data
