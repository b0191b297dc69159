"""Avro schema compatibility, following the "Schema Resolution" rules of the Avro specification.

A *reader* schema can read data written with a *writer* schema when every value the
writer can produce resolves against the reader:

* primitives must be equal, or the writer type must promote to the reader type:
  ``int`` → ``long``/``float``/``double``, ``long`` → ``float``/``double``,
  ``float`` → ``double``, ``string`` ↔ ``bytes``;
* records match by unqualified name (or a reader alias equal to the writer's full name);
  each reader field is matched to the writer field of the same name or of one of the
  reader field's aliases and resolved recursively; writer fields the reader does not
  know are skipped; a reader field the writer lacks needs a ``default``;
* enums match by name; every writer symbol must be a reader symbol unless the reader
  enum declares a ``default`` symbol;
* fixed types match by name and must have the same size;
* arrays and maps resolve their ``items``/``values``;
* a writer union is readable when each of its branches is readable; a writer value read
  into a reader union resolves against the first reader branch of the same type (same
  name for named types), else the first branch it promotes to;
* logical types are judged by their underlying Avro type (a ``date`` is an ``int``).

Named references are resolved per schema and recursive types are checked once per
reader/writer pair, so recursion terminates.

Compatibility levels follow the Confluent registry: BACKWARD means the new schema reads
data written with the latest existing one, FORWARD means the latest reads data written
with the new one, FULL means both; the ``*_TRANSITIVE`` variants check against every
existing version, not only the latest. tracebus defaults to FULL_TRANSITIVE because
its schemas are contracts between departments that upgrade independently: any consumer
version must read any producer version, old or new, including records replayed from
long-retained topics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from fastavro.schema import SchemaParseException, parse_schema

from schemas.registry.base import CompatibilityLevel

__all__ = ["compatibility_problems", "reader_problems"]

PRIMITIVES: Final[frozenset[str]] = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
#: writer primitive → reader primitives it may be promoted to.
PROMOTIONS: Final[dict[str, frozenset[str]]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}
_NAMED_KINDS: Final[dict[str, str]] = {
    "record": "record",
    "error": "record",
    "enum": "enum",
    "fixed": "fixed",
}


class _InvalidSchemaError(ValueError):
    """The schema text is not a valid Avro schema."""


@dataclass(eq=False)
class _Named:
    """A record, enum or fixed type; compared by identity so recursion can be tracked."""

    kind: str
    fullname: str
    aliases: frozenset[str]
    fields: list[_Field] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    enum_default: str | None = None
    size: int = 0

    @property
    def short_name(self) -> str:
        return self.fullname.rsplit(".", 1)[-1]


@dataclass(frozen=True, eq=False)
class _Field:
    name: str
    aliases: frozenset[str]
    type: _Node
    has_default: bool


@dataclass(frozen=True, eq=False)
class _Array:
    items: _Node


@dataclass(frozen=True, eq=False)
class _Map:
    values: _Node


@dataclass(frozen=True, eq=False)
class _Union:
    branches: tuple[_Node, ...]


_Node: TypeAlias = "str | _Named | _Array | _Map | _Union"


def _full(name: str, namespace: str) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


class _Parser:
    """Turns parsed Avro JSON into ``_Node`` trees, resolving named references."""

    def __init__(self) -> None:
        self.names: dict[str, _Named] = {}

    def parse(self, schema: Any, namespace: str) -> _Node:
        if isinstance(schema, str):
            return schema if schema in PRIMITIVES else self._lookup(schema, namespace)
        if isinstance(schema, list):
            return self._union(schema, namespace)
        if isinstance(schema, dict):
            kind = schema.get("type")
            if isinstance(kind, dict | list):
                return self.parse(kind, namespace)
            if not isinstance(kind, str):
                raise _InvalidSchemaError(f"schema has no valid 'type': {schema!r}")
            if kind in PRIMITIVES:
                return kind  # logical types are judged by their underlying type
            if kind == "array":
                return _Array(self.parse(schema["items"], namespace))
            if kind == "map":
                return _Map(self.parse(schema["values"], namespace))
            if kind in _NAMED_KINDS:
                return self._named(schema, _NAMED_KINDS[kind], namespace)
            return self._lookup(kind, namespace)
        raise _InvalidSchemaError(f"not an Avro schema: {schema!r}")

    def _lookup(self, name: str, namespace: str) -> _Named:
        for candidate in (_full(name, namespace), name):
            if candidate in self.names:
                return self.names[candidate]
        raise _InvalidSchemaError(f"unknown type {name!r}")

    def _union(self, branches: list[Any], namespace: str) -> _Union:
        nodes = tuple(self.parse(branch, namespace) for branch in branches)
        keys = [_branch_key(node) for node in nodes]
        if len(set(keys)) != len(keys):
            raise _InvalidSchemaError(f"union has duplicate branches: {keys}")
        if any(isinstance(node, _Union) for node in nodes):
            raise _InvalidSchemaError("union directly contains another union")
        return _Union(nodes)

    def _named(self, schema: dict[str, Any], kind: str, namespace: str) -> _Named:
        name = str(schema["name"])
        if "." not in name and "namespace" in schema:
            namespace = str(schema["namespace"] or "")
        fullname = _full(name, namespace)
        own_namespace = fullname.rpartition(".")[0]
        aliases = frozenset(_full(str(alias), own_namespace) for alias in schema.get("aliases", []))
        node = _Named(kind=kind, fullname=fullname, aliases=aliases)
        if fullname in self.names:
            raise _InvalidSchemaError(f"type {fullname!r} is defined twice")
        self.names[fullname] = node  # registered before its fields: they may refer to it
        if kind == "record":
            for entry in schema["fields"]:
                fld = _Field(
                    name=str(entry["name"]),
                    aliases=frozenset(str(alias) for alias in entry.get("aliases", [])),
                    type=self.parse(entry["type"], own_namespace),
                    has_default="default" in entry,
                )
                if any(existing.name == fld.name for existing in node.fields):
                    raise _InvalidSchemaError(f"record {fullname!r} has two fields named {fld.name!r}")
                node.fields.append(fld)
        elif kind == "enum":
            node.symbols = tuple(str(symbol) for symbol in schema["symbols"])
            default = schema.get("default")
            node.enum_default = None if default is None else str(default)
        else:
            node.size = int(schema["size"])
        return node


def _branch_key(node: _Node) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, _Named):
        return node.fullname
    return type(node).__name__.lstrip("_").lower()


def _describe(node: _Node) -> str:
    if isinstance(node, _Named):
        return f"{node.kind} '{node.fullname}'"
    if isinstance(node, _Union):
        return "union [" + ", ".join(_branch_key(branch) for branch in node.branches) + "]"
    return f"'{_branch_key(node)}'"


def _names_match(reader: _Named, writer: _Named) -> bool:
    return reader.short_name == writer.short_name or writer.fullname in reader.aliases


def _same_type(reader: _Node, writer: _Node) -> bool:
    """Whether ``reader`` is the branch a union resolution picks first for ``writer``."""
    if isinstance(reader, str) and isinstance(writer, str):
        return reader == writer
    if isinstance(reader, _Named) and isinstance(writer, _Named):
        return reader.kind == writer.kind and _names_match(reader, writer)
    return (isinstance(reader, _Array) and isinstance(writer, _Array)) or (
        isinstance(reader, _Map) and isinstance(writer, _Map)
    )


def _promotes(reader: _Node, writer: _Node) -> bool:
    return isinstance(reader, str) and isinstance(writer, str) and reader in PROMOTIONS.get(writer, ())


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self._visited: set[tuple[int, int]] = set()

    def report(self, path: str, message: str) -> None:
        self.problems.append(f"{path or '/'}: {message}")

    def check(self, reader: _Node, writer: _Node, path: str, writer_label: str = "writer type") -> None:
        if isinstance(writer, _Union):
            for branch in writer.branches:
                self.check(reader, branch, path, "writer union branch")
            return
        if isinstance(reader, _Union):
            chosen = next((b for b in reader.branches if _same_type(b, writer)), None)
            if chosen is None:
                chosen = next((b for b in reader.branches if _promotes(b, writer)), None)
            if chosen is None:
                self.report(
                    path,
                    f"{writer_label} {_describe(writer)} matches no branch of reader {_describe(reader)}",
                )
            else:
                self.check(chosen, writer, path)
            return
        if isinstance(reader, str) and isinstance(writer, str):
            if reader != writer and not _promotes(reader, writer):
                self.report(path, f"{writer_label} '{writer}' cannot be promoted to reader type '{reader}'")
        elif isinstance(reader, _Array) and isinstance(writer, _Array):
            self.check(reader.items, writer.items, f"{path}/items")
        elif isinstance(reader, _Map) and isinstance(writer, _Map):
            self.check(reader.values, writer.values, f"{path}/values")
        elif isinstance(reader, _Named) and isinstance(writer, _Named) and reader.kind == writer.kind:
            self._check_named(reader, writer, path)
        else:
            self.report(path, f"{writer_label} {_describe(writer)} does not match reader type {_describe(reader)}")

    def _check_named(self, reader: _Named, writer: _Named, path: str) -> None:
        if not _names_match(reader, writer):
            self.report(
                path,
                f"writer {writer.kind} '{writer.fullname}' does not match reader {reader.kind} "
                f"'{reader.fullname}': names differ and no reader alias is '{writer.fullname}'",
            )
            return
        pair = (id(reader), id(writer))
        if pair in self._visited:
            return  # already checked, or being checked further up a recursive type
        self._visited.add(pair)
        if reader.kind == "record":
            self._check_record(reader, writer, path)
        elif reader.kind == "enum":
            if reader.enum_default is None:
                for symbol in writer.symbols:
                    if symbol not in reader.symbols:
                        self.report(
                            path,
                            f"writer symbol '{symbol}' is not in reader enum '{reader.fullname}' "
                            "and the reader enum has no default",
                        )
        elif reader.size != writer.size:
            self.report(
                path,
                f"writer fixed '{writer.fullname}' has size {writer.size} "
                f"but reader fixed '{reader.fullname}' has size {reader.size}",
            )

    def _check_record(self, reader: _Named, writer: _Named, path: str) -> None:
        by_name = {fld.name: fld for fld in writer.fields}
        for fld in reader.fields:
            field_path = f"{path}/fields/{fld.name}"
            source = by_name.get(fld.name)
            if source is None:
                source = next((by_name[a] for a in sorted(fld.aliases) if a in by_name), None)
            if source is not None:
                self.check(fld.type, source.type, field_path)
            elif not fld.has_default:
                self.report(field_path, "reader field has no default and is missing from writer")


def _parse(text: str) -> _Node:
    try:
        document = json.loads(text)
        parse_schema(json.loads(text))  # full validation, including defaults
        return _Parser().parse(document, "")
    except (ValueError, TypeError, KeyError, AttributeError, SchemaParseException) as error:
        raise _InvalidSchemaError(str(error) or type(error).__name__) from error


def reader_problems(reader: str, writer: str) -> list[str]:
    """Problems that stop ``reader`` from reading data written with ``writer``; empty = compatible.

    Both arguments are Avro schema JSON text. Each problem names the path inside the
    reader schema where it occurs, e.g. ``/fields/quantity: writer type 'string' cannot
    be promoted to reader type 'long'``. A named type used in several places is checked,
    and its problems reported, once (at its first use). An invalid schema yields a single
    problem.
    """
    nodes: dict[str, _Node] = {}
    for role, text in (("reader", reader), ("writer", writer)):
        try:
            nodes[role] = _parse(text)
        except _InvalidSchemaError as error:
            return [f"{role} schema is not valid Avro: {error}"]
    checker = _Checker()
    checker.check(nodes["reader"], nodes["writer"], "")
    return checker.problems


def compatibility_problems(new: str, existing: Sequence[str], level: CompatibilityLevel) -> list[str]:
    """Problems that stop ``new`` from joining ``existing`` (oldest first) under ``level``.

    Each problem starts with the existing version it was checked against (1-based) and
    the direction that failed: ``backward`` (new reads that version) or ``forward``
    (that version reads new).
    """
    if level == "NONE" or not existing:
        return []
    targets = list(enumerate(existing, start=1)) if level.endswith("_TRANSITIVE") else [(len(existing), existing[-1])]
    backward = level.startswith(("BACKWARD", "FULL"))
    forward = level.startswith(("FORWARD", "FULL"))
    problems: list[str] = []
    for number, old in targets:
        if backward:
            for problem in reader_problems(new, old):
                problems.append(f"version {number}, backward (new schema reads version {number}): {problem}")
        if forward:
            for problem in reader_problems(old, new):
                problems.append(f"version {number}, forward (version {number} reads new schema): {problem}")
    return problems
