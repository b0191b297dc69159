"""Confluent wire format and the Avro codec used on every topic.

Framing: byte 0 is the magic byte ``0``, bytes 1–4 the schema id (big-endian,
unsigned), then the Avro binary body of the record, without any Avro
container header. Confluent's deserializers and ours read the same bytes.

The codec is fastavro's schemaless reader/writer with schemas parsed once per
process (``bench/codec.py`` measures it against the Apache ``avro`` library).
Records are plain dicts; no pydantic model is built per event on the hot path.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from typing import Any, Final

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
    """Parse Avro JSON text once; the result is what fastavro's readers and writers take."""
    return fastavro.parse_schema(orjson.loads(schema_text))


class AvroCodec:
    """Encodes and decodes Avro bodies for one schema (no framing)."""

    __slots__ = ("_parsed", "schema_text")

    def __init__(self, schema_text: str) -> None:
        self.schema_text = schema_text
        self._parsed = parse_schema(schema_text)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, self._parsed, record)
        return buffer.getvalue()

    def decode(self, body: bytes | memoryview, writer: AvroCodec | None = None) -> Record:
        """Decode ``body``; with ``writer``, resolve from the writer's schema to this one."""
        buffer = io.BytesIO(body)
        try:
            if writer is None or writer is self:
                result = fastavro.schemaless_reader(buffer, self._parsed, None)
            else:
                result = fastavro.schemaless_reader(buffer, writer._parsed, self._parsed)
            if buffer.tell() != len(body):
                raise ValueError(f"{len(body) - buffer.tell()} bytes left after the record")
        except (
            EOFError,
            ValueError,
            IndexError,
            UnicodeDecodeError,
            fastavro.read.SchemaResolutionError,
        ) as exc:
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
