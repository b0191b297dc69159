"""EPCIS XML binding → EPCIS 2.0 JSON/JSON-LD binding (plain dicts), one dict per event.

:func:`convert_document` takes an already parsed root element (see
:func:`schemas.epcis.document.parse_document`, which owns the XXE-safe parser) and returns
the events in document order plus the namespace prefixes the events used.

Mapping rules (the JSON shape follows the EPCIS 2.0 JSON binding):

* ``type`` is the event element's name. ObjectEvent, AggregationEvent, TransactionEvent,
  TransformationEvent and AssociationEvent are accepted directly in ``EventList`` or
  wrapped in ``<extension>`` (EPCIS 1.x put TransformationEvent there). Anything else in
  ``EventList`` is a :class:`~schemas.errors.DocumentError`.
* Standard (un-namespaced) simple fields keep their name, with the text stripped of
  surrounding whitespace (they are URIs or timestamps). Vocabulary values (bizStep,
  disposition, btt/sdt types, error reasons, ...) are kept exactly as written: no URN/URI
  normalisation happens here.
* ``epcList``/``childEPCs``/``inputEPCList``/``outputEPCList`` → list of strings;
  quantity lists → ``[{"epcClass", "quantity", "uom"}]`` with ``quantity`` an ``int`` when
  the text is an integer literal, else a ``float`` (text that is not a finite number is
  kept as a string so that validation downstream can reject the event; an empty or
  ``xsi:nil`` quantity is omitted); ``bizTransactionList`` → ``[{"type", "bizTransaction"}]``
  (``type`` omitted when the attribute is absent); ``sourceList``/``destinationList`` alike;
  ``readPoint``/``bizLocation`` → ``{"id": ...}``; ``persistentDisposition`` →
  ``{"set": [...], "unset": [...]}``; ``errorDeclaration`` → ``{"declarationTime",
  "reason", "correctiveEventIDs": [...]}``; ``certificationInfo`` → a string, or a list when
  the element repeats; ``sensorElementList`` → ``[{"sensorMetadata": {...},
  "sensorReport": [{...}, ...]}]`` built from the attributes: ``value``, ``minValue``,
  ``maxValue``, ``meanValue``, ``sDev``, ``percRank``, ``percValue`` become numbers,
  ``booleanValue`` a bool (``true``/``1``/``false``/``0``), everything else stays a string.
* The EPCIS 1.x ``<extension>``/``<baseExtension>`` wrappers are transparent: their
  children are read as if they sat directly in the enclosing element.
* User extensions — any element in a non-EPCIS namespace, at event level or inside
  ilmd, readPoint, bizLocation, errorDeclaration, sensorElement — become the key
  ``prefix:localName`` with the prefix the document itself used (an element in a default
  namespace borrows another prefix declared for that URI, else gets ``ns1``, ``ns2``, ...;
  a prefix that the document rebinds to another URI gets a numeric suffix). Every prefix
  used is reported so it can become a JSON-LD ``@context`` entry ``{prefix: uri}``.
  Values: a leaf element → its text, unchanged (``""`` when empty); an element with child
  elements → a dict; an element repeated under one parent → a list in document order.
  **XML attributes** of an extension element become keys of that element's dict, next to
  its children: ``prefix:name`` for a namespaced attribute, the bare ``name`` otherwise.
  When such an element also has non-whitespace text, the text goes under ``"#text"``.
  Un-namespaced elements nested inside an extension keep their bare local name. Text
  interleaved between child elements (mixed content) is not kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

from lxml import etree

from schemas.errors import DocumentError

__all__ = ["EPCIS_NAMESPACES", "EVENT_TYPES", "TEXT_KEY", "convert_document"]

EPCIS_NAMESPACES = frozenset(
    {
        "urn:epcglobal:epcis:xsd:1",
        "urn:epcglobal:epcis:xsd:2",
        "urn:epcglobal:epcis-query:xsd:1",
        "urn:epcglobal:epcis-query:xsd:2",
    }
)
EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
)
TEXT_KEY = "#text"
"""Key holding the text of an extension element that also has attributes or children."""

_XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
_WRAPPERS = frozenset({"extension", "baseExtension"})
_NUMERIC_SENSOR_ATTRIBUTES = frozenset({"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"})
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}

_Element = etree._Element
_Handler = Callable[[_Element, dict[str, Any], "_Namespaces"], None]


class _Namespaces:
    """Per-document cache: element/attribute name → output key, plus the prefixes used."""

    __slots__ = ("_keys", "_uri_prefix", "bindings")

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str | None], str] = {}
        self._uri_prefix: dict[str, str] = {}
        self.bindings: dict[str, str] = {}

    def element_key(self, el: _Element) -> str:
        """``prefix:localName`` for an extension element (or the local name for EPCIS ones)."""
        tag = el.tag
        if tag[0] != "{":
            return tag
        prefix = el.prefix
        key = self._keys.get((tag, prefix))
        if key is None:
            uri, _, local = tag[1:].partition("}")
            key = local if uri in EPCIS_NAMESPACES else f"{self._bind(el, uri, prefix)}:{local}"
            self._keys[(tag, prefix)] = key
        return key

    def attribute_key(self, el: _Element, name: str) -> str:
        if name[0] != "{":
            return name
        key = self._keys.get((name, "@"))
        if key is None:
            uri, _, local = name[1:].partition("}")
            prefix = self._uri_prefix.get(uri)
            if prefix is None:
                prefix = self._bind(el, uri, None)
            key = self._keys[(name, "@")] = f"{prefix}:{local}"
        return key

    def _bind(self, el: _Element, uri: str, prefix: str | None) -> str:
        if prefix is None:
            if uri == _XML_NAMESPACE:
                prefix = "xml"
            else:
                declared = sorted(p for p, u in el.nsmap.items() if u == uri and p is not None)
                prefix = self._uri_prefix.get(uri) or (declared[0] if declared else None)
        if prefix is None or self.bindings.get(prefix, uri) != uri:
            base = prefix or "ns"
            n = 1
            while self.bindings.get(f"{base}{n}", uri) != uri:
                n += 1
            prefix = f"{base}{n}"
        self.bindings[prefix] = uri
        self._uri_prefix.setdefault(uri, prefix)
        return prefix


def _attributes(el: _Element) -> list[tuple[str, str]]:
    """``el``'s attributes (lxml always yields ``str`` under Python 3; the stubs say str|bytes)."""
    return cast("list[tuple[str, str]]", el.items())


def _text(el: _Element) -> str:
    text = el.text
    return text.strip() if text is not None else ""


def _number(text: str) -> int | float | str:
    """xsd:decimal/xsd:double text → int (integer literal) or finite float; else the text."""
    t = text.strip()
    if not t or "_" in t or not t.isascii():
        return t
    try:
        return int(t)
    except ValueError:
        pass
    try:
        f = float(t)
    except ValueError:
        return t
    return f if math.isfinite(f) else t


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key``; a repeated key turns into a list (values here are never lists)."""
    if key not in out:
        out[key] = value
        return
    existing = out[key]
    if type(existing) is list:
        existing.append(value)
    else:
        out[key] = [existing, value]


def _value(el: _Element, ns: _Namespaces) -> Any:
    """Generic conversion of an extension element (see the module docstring)."""
    children = [c for c in el if c.tag.__class__ is str]
    attributes = _attributes(el)
    text = el.text
    if not children and not attributes:
        return text if text is not None else ""
    out: dict[str, Any] = {}
    for name, value in attributes:
        _put(out, ns.attribute_key(el, name), value)
    for child in children:
        _put(out, ns.element_key(child), _value(child, ns))
    if text is not None and text.strip():
        out[TEXT_KEY] = text
    return out


def _walk(parent: _Element, out: dict[str, Any], ns: _Namespaces, handlers: dict[str, _Handler]) -> None:
    """Read ``parent``'s children into ``out``: known names via ``handlers``, wrappers
    flattened, everything else as a generic (extension) value."""
    for child in parent:
        tag = child.tag
        if tag.__class__ is not str:  # comments, processing instructions, entities
            continue
        handler = handlers.get(tag)
        if handler is not None:
            handler(child, out, ns)
        elif tag in _WRAPPERS:
            _walk(child, out, ns, handlers)
        else:
            _put(out, ns.element_key(child), _value(child, ns))


def _set_text(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    out[el.tag] = _text(el)


def _set_epcs(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    out[el.tag] = [_text(e) for e in el if e.tag == "epc"]


def _set_quantity(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    text = el.text
    if text is not None and text.strip():
        out["quantity"] = _number(text)


_QUANTITY_HANDLERS: dict[str, _Handler] = {"epcClass": _set_text, "quantity": _set_quantity, "uom": _set_text}


def _set_quantities(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    items: list[dict[str, Any]] = []
    for qe in el:
        if qe.tag == "quantityElement":
            item: dict[str, Any] = {}
            _walk(qe, item, ns, _QUANTITY_HANDLERS)
            items.append(item)
    out[el.tag] = items


def _typed_list(item_name: str) -> _Handler:
    """bizTransactionList/sourceList/destinationList → ``[{"type": t, item_name: v}]``."""

    def handler(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
        items: list[dict[str, Any]] = []
        for item in el:
            if item.tag == item_name:
                kind = item.get("type")
                if kind is None:
                    items.append({item_name: _text(item)})
                else:
                    items.append({"type": kind.strip(), item_name: _text(item)})
        out[el.tag] = items

    return handler


_LOCATION_HANDLERS: dict[str, _Handler] = {"id": _set_text}


def _set_location(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    location: dict[str, Any] = {}
    _walk(el, location, ns, _LOCATION_HANDLERS)
    out[el.tag] = location


def _set_persistent_disposition(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    result: dict[str, list[str]] = {}
    for item in el:
        tag = item.tag
        if tag == "set" or tag == "unset":
            result.setdefault(tag, []).append(_text(item))
    out["persistentDisposition"] = result


def _set_corrective_ids(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    out["correctiveEventIDs"] = [_text(e) for e in el if e.tag == "correctiveEventID"]


_ERROR_HANDLERS: dict[str, _Handler] = {
    "declarationTime": _set_text,
    "reason": _set_text,
    "correctiveEventIDs": _set_corrective_ids,
}


def _set_error_declaration(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    declaration: dict[str, Any] = {}
    _walk(el, declaration, ns, _ERROR_HANDLERS)
    out["errorDeclaration"] = declaration


def _add_certification(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    _put(out, "certificationInfo", _text(el))


_NO_HANDLERS: dict[str, _Handler] = {}


def _set_ilmd(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    ilmd: dict[str, Any] = {}
    _walk(el, ilmd, ns, _NO_HANDLERS)
    out["ilmd"] = ilmd


def _sensor_attributes(el: _Element, ns: _Namespaces) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in _attributes(el):
        if name[0] == "{":
            result[ns.attribute_key(el, name)] = value
        elif name in _NUMERIC_SENSOR_ATTRIBUTES:
            result[name] = _number(value)
        elif name == "booleanValue":
            flag = _BOOLEANS.get(value.strip())
            result[name] = value if flag is None else flag
        else:
            result[name] = value
    _walk(el, result, ns, _NO_HANDLERS)  # child elements are not in the XSD; keep them anyway
    return result


def _set_sensor_metadata(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    out["sensorMetadata"] = _sensor_attributes(el, ns)


def _add_sensor_report(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    reports = out.get("sensorReport")
    if reports is None:
        reports = out["sensorReport"] = []
    reports.append(_sensor_attributes(el, ns))


_SENSOR_ELEMENT_HANDLERS: dict[str, _Handler] = {
    "sensorMetadata": _set_sensor_metadata,
    "sensorReport": _add_sensor_report,
}


def _set_sensor_elements(el: _Element, out: dict[str, Any], ns: _Namespaces) -> None:
    """Only ``sensorElement`` children count: the JSON binding has no place for the rest."""
    elements: list[dict[str, Any]] = []
    for se in el:
        if se.tag == "sensorElement":
            element: dict[str, Any] = {}
            _walk(se, element, ns, _SENSOR_ELEMENT_HANDLERS)
            elements.append(element)
    out["sensorElementList"] = elements


_TEXT_FIELDS = "eventTime recordTime eventTimeZoneOffset eventID parentID action bizStep disposition"
_TEXT_FIELDS += " transformationID"
_QUANTITY_LISTS = "quantityList childQuantityList inputQuantityList outputQuantityList"
_EVENT_HANDLERS: dict[str, _Handler] = {
    **dict.fromkeys(_TEXT_FIELDS.split(), _set_text),
    **dict.fromkeys(("epcList", "childEPCs", "inputEPCList", "outputEPCList"), _set_epcs),
    **dict.fromkeys(_QUANTITY_LISTS.split(), _set_quantities),
    "readPoint": _set_location,
    "bizLocation": _set_location,
    "bizTransactionList": _typed_list("bizTransaction"),
    "sourceList": _typed_list("source"),
    "destinationList": _typed_list("destination"),
    "persistentDisposition": _set_persistent_disposition,
    "errorDeclaration": _set_error_declaration,
    "certificationInfo": _add_certification,
    "ilmd": _set_ilmd,
    "sensorElementList": _set_sensor_elements,
}


def _event(el: _Element, event_type: str, ns: _Namespaces) -> dict[str, Any]:
    out: dict[str, Any] = {"type": event_type}
    for name, value in _attributes(el):  # xsd:anyAttribute on events
        out[ns.attribute_key(el, name)] = value
    _walk(el, out, ns, _EVENT_HANDLERS)
    return out


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _first_child(parent: _Element, local: str) -> _Element | None:
    for child in parent:
        tag = child.tag
        if tag.__class__ is str and (tag == local or tag.endswith("}" + local)):
            return child
    return None


def _event_type(el: _Element) -> str | None:
    tag = el.tag
    if tag[0] == "{":
        uri, _, tag = tag[1:].partition("}")
        if uri not in EPCIS_NAMESPACES:
            return None
    return tag if tag in EVENT_TYPES else None


def _find_event_list(root: _Element) -> _Element:
    root_name = _local_name(root.tag)
    if root_name not in ("EPCISDocument", "EPCISQueryDocument"):
        raise DocumentError(f"XML root element is <{root_name}>, expected an EPCISDocument or EPCISQueryDocument")
    body = _first_child(root, "EPCISBody")
    if body is None:
        raise DocumentError(f"XML {root_name} has no EPCISBody element")
    path = "EPCISBody"
    container = body
    if root_name == "EPCISQueryDocument":
        for step in ("QueryResults", "resultsBody"):
            found = _first_child(container, step)
            if found is None:
                raise DocumentError(f"XML {root_name} has no {path}/{step} element")
            container = found
            path = f"{path}/{step}"
    event_list = _first_child(container, "EventList")
    if event_list is None:
        raise DocumentError(f"XML {root_name} has no {path}/EventList element (no eventList)")
    return event_list


def convert_document(root: _Element) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Events of a parsed EPCIS XML document as JSON-binding dicts, and the ``{prefix: uri}``
    context entries for the extension namespaces they use.

    Raises :class:`DocumentError` when the root is not an EPCIS (query) document, the
    EventList is missing, or the EventList holds an element that is not a known event.
    """
    event_list = _find_event_list(root)
    ns = _Namespaces()
    events: list[dict[str, Any]] = []
    for child in event_list:
        if child.tag.__class__ is not str:
            continue
        candidates = [c for c in child if c.tag.__class__ is str] if child.tag == "extension" else [child]
        for candidate in candidates:
            event_type = _event_type(candidate)
            if event_type is None:
                raise DocumentError(
                    f"unsupported element <{_local_name(candidate.tag)}> in EventList at line "
                    f"{candidate.sourceline}: expected one of {', '.join(sorted(EVENT_TYPES))}"
                )
            events.append(_event(candidate, event_type, ns))
    return events, [{prefix: uri} for prefix, uri in ns.bindings.items()]
