"""EPCIS 2.0 documents (JSON/JSON-LD and XML) → events in the JSON binding's shape.

Usage::

    from schemas.epcis import parse_document

    parsed = parse_document(body, "application/xml")
    parsed.events   # list of event dicts (JSON/JSON-LD binding shape)
    parsed.context  # @context entries (JSON-LD) or {prefix: uri} entries (XML extensions)
    parsed.format   # "jsonld" or "xml"

Vocabulary values are returned as written; normalising CBV URNs/URIs is a later stage.
"""

from schemas.epcis.document import (
    MAX_DOCUMENT_BYTES,
    DocumentFormat,
    ParsedDocument,
    detect_format,
    parse_document,
)
from schemas.epcis.xml import convert_document

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "DocumentFormat",
    "ParsedDocument",
    "convert_document",
    "detect_format",
    "parse_document",
]
