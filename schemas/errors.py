"""Errors raised by the wire-contract layer.

Every error tracebus raises derives from :class:`TracebusError`; the whole tree
is drawn in :mod:`streams.errors`. This module holds the root and the branch
that belongs to ``schemas`` (the lowest layer, so the root lives here)::

    TracebusError
    └── SchemaError
        ├── WireFormatError          bytes are not Confluent-framed Avro we can decode
        ├── SchemaNotFoundError      a registry does not know a schema id or subject
        ├── IncompatibleSchemaError  a new schema breaks the subject's compatibility policy
        ├── RegistryUnavailableError the registry could not be reached or answered 5xx
        └── DocumentError            an EPCIS document cannot be parsed at all
"""

from __future__ import annotations


class TracebusError(Exception):
    """Root of every error tracebus raises on purpose."""


class SchemaError(TracebusError):
    """A wire-contract problem: schema, framing, registry or document."""


class WireFormatError(SchemaError):
    """The bytes are not a Confluent-framed Avro record that can be decoded."""


class SchemaNotFoundError(SchemaError):
    """The registry has no schema under the id or subject asked for."""


class IncompatibleSchemaError(SchemaError):
    """Registering the schema would break the subject's compatibility policy."""


class RegistryUnavailableError(SchemaError):
    """The registry could not be reached, or failed on its side (5xx)."""


class DocumentError(SchemaError):
    """An EPCIS document could not be parsed (not JSON/XML, or not an EPCIS document)."""
