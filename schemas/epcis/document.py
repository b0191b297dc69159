"""Parse an EPCIS 2.0 document (JSON/JSON-LD or XML) into JSON-binding event dicts.

:func:`parse_document` is the single entry point. The format comes from the content type
(``application/ld+json``, ``application/json`` or any ``+json`` type → JSON;
``application/xml``, ``text/xml`` or any ``+xml`` type → XML); any other or no content
type is sniffed from the first non-whitespace byte (``{``/``[`` → JSON, ``<`` → XML).

* JSON (orjson): an ``EPCISDocument`` (``epcisBody.eventList``), an ``EPCISQueryDocument``
  (``epcisBody.queryResults.resultsBody.eventList``) or a single event in
  ``epcisBody.event``. Events are returned as given; ``context`` is the document's
  ``@context`` as a list.
* XML (lxml): converted by :mod:`schemas.epcis.xml`; ``context`` holds one ``{prefix: uri}``
  entry per extension namespace the events use. The parser never resolves entities, never
  touches the network and keeps libxml2's default size limits (``huge_tree=False``);
  documents with a ``<!DOCTYPE>`` are rejected outright, since EPCIS XML is defined by XML
  Schema and a DTD only serves entity tricks (billion laughs, external entities).

Bodies are assumed to be at most a few tens of MB and are parsed in memory; anything
above :data:`MAX_DOCUMENT_BYTES` is refused. Every failure is a
:class:`~schemas.errors.DocumentError` whose message says what was wrong and where.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from lxml import etree

from schemas.epcis.xml import convert_document
from schemas.errors import DocumentError

__all__ = ["MAX_DOCUMENT_BYTES", "DocumentFormat", "ParsedDocument", "detect_format", "parse_document"]

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
"""Largest body accepted (64 MiB): documents are parsed in memory."""

DocumentFormat = Literal["jsonld", "xml"]

_JSON_TYPES = frozenset({"application/ld+json", "application/json", "text/json"})
_XML_TYPES = frozenset({"application/xml", "text/xml"})
_BOM = b"\xef\xbb\xbf"
_LEADING = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*")
_POSITION_SUFFIX = re.compile(r", line \d+, column \d+$")


@dataclass(frozen=True)
class ParsedDocument:
    """The events of one EPCIS document, in the JSON binding's shape."""

    events: list[dict[str, Any]]
    context: list[Any]
    """The document's ``@context`` entries (JSON), or ``{prefix: uri}`` entries (XML)."""
    format: DocumentFormat


def detect_format(body: bytes, content_type: str | None) -> DocumentFormat:
    """Decide JSON vs XML from the content type, else from the first non-space byte."""
    if content_type:
        mime = content_type.partition(";")[0].strip().lower()
        if mime in _JSON_TYPES or mime.endswith("+json"):
            return "jsonld"
        if mime in _XML_TYPES or mime.endswith("+xml"):
            return "xml"
    start = _LEADING.match(body)
    first = body[start.end() : start.end() + 1] if start is not None else body[:1]
    if first in (b"{", b"["):
        return "jsonld"
    if first == b"<":
        return "xml"
    if not first:
        raise DocumentError("document body is empty (or only whitespace)")
    shown = f"content type {content_type!r}" if content_type else "no content type"
    raise DocumentError(
        f"document is neither JSON nor XML ({shown}; first non-space byte is {first!r}, expected '{{' or '<')"
    )


def parse_document(body: bytes, content_type: str | None) -> ParsedDocument:
    """Parse an EPCIS document; raise :class:`DocumentError` if it cannot be parsed at all."""
    if len(body) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"document is {len(body)} bytes, above the {MAX_DOCUMENT_BYTES} byte limit")
    if detect_format(body, content_type) == "jsonld":
        return _parse_json(body)
    return _parse_xml(body)


# --- JSON / JSON-LD ------------------------------------------------------------------------


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _member(obj: dict[str, Any], key: str, path: str, expected: type) -> Any:
    value = obj.get(key)
    if value is None:
        raise DocumentError(f"JSON EPCIS document has no {path}")
    if not isinstance(value, expected):
        wanted = "an object" if expected is dict else "an array"
        raise DocumentError(f"JSON {path} is {_kind(value)}, expected {wanted}")
    return value


def _parse_json(body: bytes) -> ParsedDocument:
    try:
        doc = orjson.loads(body[3:] if body.startswith(_BOM) else body)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"document is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    if not isinstance(doc, dict):
        raise DocumentError(f"JSON document is {_kind(doc)}, expected an EPCIS document object")
    doc_type = doc.get("type")
    if doc_type is not None and doc_type not in ("EPCISDocument", "EPCISQueryDocument"):
        raise DocumentError(f"JSON document has type {doc_type!r}, expected 'EPCISDocument' or 'EPCISQueryDocument'")
    if "epcisBody" not in doc:
        raise DocumentError(
            "JSON object is not an EPCIS document: it has no 'epcisBody'" + ("" if doc_type else " and no 'type'")
        )
    epcis_body = _member(doc, "epcisBody", "epcisBody", dict)
    if doc_type == "EPCISQueryDocument" or "queryResults" in epcis_body:
        results = _member(epcis_body, "queryResults", "epcisBody.queryResults", dict)
        results_body = _member(results, "resultsBody", "epcisBody.queryResults.resultsBody", dict)
        path = "epcisBody.queryResults.resultsBody.eventList"
        events = _member(results_body, "eventList", path, list)
    elif "eventList" not in epcis_body and "event" in epcis_body:
        path = "epcisBody.event"
        events = [_member(epcis_body, "event", path, dict)]
    else:
        if "eventList" not in epcis_body:
            raise DocumentError("JSON EPCIS document has no epcisBody.eventList (nor epcisBody.event)")
        path = "epcisBody.eventList"
        events = _member(epcis_body, "eventList", path, list)
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise DocumentError(f"JSON {path}[{index}] is {_kind(event)}, expected an event object")
    context = doc.get("@context")
    if context is None:
        context = []
    elif not isinstance(context, list):
        context = [context]
    return ParsedDocument(events=events, context=context, format="jsonld")


# --- XML -----------------------------------------------------------------------------------

_local = threading.local()


def _xml_parser() -> etree.XMLParser:
    """One parser per thread (lxml parsers must not be used by two threads at once)."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
            dtd_validation=False,
            remove_comments=True,
            remove_pis=True,
            # collect_ids stays at its default: collect_ids=False makes libxml2 try to load an
            # external DTD subset (refused by no_network, but a file: DTD would be read).
        )
        _local.parser = parser
    return parser


def _parse_xml(body: bytes) -> ParsedDocument:
    try:
        root = etree.fromstring(body, _xml_parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        message = _POSITION_SUFFIX.sub("", exc.msg or str(exc))
        raise DocumentError(f"XML document is not well-formed (line {line}, column {column}): {message}") from exc
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.doctype or docinfo.internalDTD is not None:
        dtd = docinfo.internalDTD
        entities = [entity.name for entity in dtd.iterentities()] if dtd is not None else []
        declared = f" declaring entities {', '.join(map(str, entities))}" if entities else ""
        raise DocumentError(
            f"XML documents with a DOCTYPE are not accepted (found {docinfo.doctype}{declared}): "
            "entities are never expanded"
        )
    events, context = convert_document(root)
    return ParsedDocument(events=events, context=list(context), format="xml")
