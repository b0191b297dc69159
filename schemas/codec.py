"""Confluent wire format and the Avro codec used on every topic.

Framing: byte 0 is the magic byte ``0``, bytes 1–4 the schema id (big-endian,
unsigned), then the Avro binary body of the record, without any Avro
container header. Confluent's deserializers and ours read the same bytes.

The codec is cavro (Cython), chosen by measurement (``bench/codec.py``): on the
``trace_event`` v1 record — ~100 field slots, most of them nullable unions —
it encodes ~3× and decodes ~5× faster than fastavro, byte for byte the same
(a unit test checks both libraries produce identical bytes and values).
fastavro stays for schema parsing and canonical forms. Schemas are compiled
once per process; records are plain dicts; no pydantic model is built per
event on the hot path.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, Final

import cavro
import fastavro
import orjson

from schemas.errors import SchemaNotFoundError, WireFormatError
from schemas.registry.base import SchemaRegistry, subject_for_topic

MAGIC_BYTE: Final = 0
HEADER_SIZE: Final = 5
_HEADER = struct.Struct(">BI")

Record = dict[str, Any]


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the Confluent header for ``schema_id``."""
    return _HEADER.pack(MAGIC_BYTE, schema_id) + body


def unframe(data: bytes) -> tuple[int, memoryview]:
    """Split Confluent-framed bytes into (schema id, Avro body)."""
    if len(data) < HEADER_SIZE:
        raise WireFormatError(f"record is {len(data)} bytes, shorter than the 5-byte Confluent header")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise WireFormatError(f"magic byte is {magic}, expected 0 (not Confluent-framed Avro)")
    return schema_id, memoryview(data)[HEADER_SIZE:]


def parse_schema(schema_text: str) -> Any:
    """Parse Avro JSON text with fastavro (validation, canonical forms)."""
    return fastavro.parse_schema(orjson.loads(schema_text))


_OPTIONS: Final = cavro.DEFAULT_OPTIONS.replace(record_decodes_to_dict=True)
_CODEC_ERRORS: Final = (EOFError, KeyError, ValueError, TypeError, IndexError, UnicodeDecodeError, cavro.CavroException)


class AvroCodec:
    """Encodes and decodes Avro bodies for one schema (no framing).

    Decoding ignores bytes after the record, as Confluent's deserializers do.
    """

    __slots__ = ("_resolved", "_schema", "schema_text")

    def __init__(self, schema_text: str) -> None:
        self.schema_text = schema_text
        parse_schema(schema_text)  # fastavro's validation and its error messages
        self._schema = cavro.Schema(schema_text, options=_OPTIONS)
        self._resolved: dict[int, Any] = {}

    def encode(self, record: Mapping[str, Any]) -> bytes:
        try:
            encoded: bytes = self._schema.binary_encode(record)
        except _CODEC_ERRORS as exc:
            raise WireFormatError(f"record does not fit the schema: {type(exc).__name__}: {exc}") from exc
        return encoded

    def decode(self, body: bytes | memoryview, writer: AvroCodec | None = None) -> Record:
        """Decode ``body``; with ``writer``, resolve from the writer's schema to this one."""
        try:
            if writer is None or writer is self:
                result = self._schema.binary_decode(bytes(body))
            else:
                resolved = self._resolved.get(id(writer))
                if resolved is None:
                    resolved = self._resolved[id(writer)] = self._schema.reader_for_writer(writer._schema)
                result = resolved.binary_decode(bytes(body))
        except _CODEC_ERRORS as exc:
            raise WireFormatError(f"Avro body does not decode: {type(exc).__name__}: {exc}") from exc
        if not isinstance(result, dict):
            raise WireFormatError("Avro body decoded to a non-record value")
        return result


class TopicSerializer:
    """Serializes records of one schema for one topic (TopicNameStrategy subject).

    Lifecycle: ``await bind()`` registers the schema once and learns its id;
    after that ``serialize`` is synchronous and allocation-light.
    """

    def __init__(self, registry: SchemaRegistry, topic: str, schema_text: str) -> None:
        self.topic = topic
        self.subject = subject_for_topic(topic)
        self.codec = AvroCodec(schema_text)
        self._registry = registry
        self._header: bytes | None = None
        self.schema_id: int | None = None

    async def bind(self) -> int:
        self.schema_id = await self._registry.register(self.subject, self.codec.schema_text)
        self._header = _HEADER.pack(MAGIC_BYTE, self.schema_id)
        return self.schema_id

    def serialize(self, record: Mapping[str, Any]) -> bytes:
        if self._header is None:
            raise RuntimeError(f"serializer for {self.topic} used before bind()")
        return self._header + self.codec.encode(record)


class Deserializer:
    """Decodes Confluent-framed records, resolving writer schemas by id through a registry.

    ``decode`` is synchronous for ids already seen; call ``await prepare(data)``
    first for a record whose id may be new (it fetches and caches the writer
    schema). With a ``reader_schema``, every writer version is resolved to it,
    so consumers see one shape across schema versions.
    """

    def __init__(self, registry: SchemaRegistry, reader_schema: str | None = None) -> None:
        self._registry = registry
        self._reader = AvroCodec(reader_schema) if reader_schema is not None else None
        self._writers: dict[int, AvroCodec] = {}

    async def prepare(self, data: bytes) -> None:
        schema_id, _ = unframe(data)
        if schema_id not in self._writers:
            try:
                text = await self._registry.schema_by_id(schema_id)
            except SchemaNotFoundError as exc:
                raise WireFormatError(f"schema id {schema_id} is unknown to the registry") from exc
            self._writers[schema_id] = AvroCodec(text)

    def knows(self, data: bytes) -> bool:
        return len(data) >= HEADER_SIZE and _HEADER.unpack_from(data)[1] in self._writers

    def decode(self, data: bytes) -> Record:
        schema_id, body = unframe(data)
        writer = self._writers.get(schema_id)
        if writer is None:
            raise WireFormatError(f"schema id {schema_id} not prepared; call prepare() first")
        if self._reader is None:
            return writer.decode(body)
        return self._reader.decode(body, writer)

    async def decode_any(self, data: bytes) -> Record:
        if not self.knows(data):
            await self.prepare(data)
        return self.decode(data)
