"""CBV 2.0 "EPCIS event hash ID": canonical pre-hash string and ``ni:///sha-256;…?ver=CBV2.0``.

Works on events in the JSON binding's shape (:func:`schemas.epcis.parse_document`), JSON-LD
and XML alike, so an event hashes the same in both. Reproduces the reference vectors:

* Fields in the order of :data:`_EVENT_FIELDS`, then user extensions; no separators; a value
  is ``key=value``, a container its name followed by its children. ``recordTime``,
  ``eventID`` and ``errorDeclaration`` are left out (a correction hashes like the original).
* List items are rendered first, then sorted by code point; ``type`` comes first
  (``type=…source=…``). Values are stripped; numbers have no trailing zeros, no exponent.
* Times → UTC ``…T….mmmZ``, rounded half up on the fourth fraction digit.
* CBV values → ``https://ref.gs1.org/cbv/…`` (sensor terms ``https://gs1.org/voc/…``),
  written bare, as a URN, a CURIE or the URI. Identifiers (``@id``-typed fields) → CURIEs
  expanded, then :func:`schemas.identifiers.epc.canonical_epc` (EPC URN/Digital Link → DL).
* Extension elements (event level, ilmd, readPoint/bizLocation, sensor elements) →
  ``{namespace}localName[=value]`` + their sorted children, namespaces from the document's
  prefixes (inline JSON-LD ``@context`` maps, XML ``{prefix: uri}``) and the EPCIS context's.
  No JSON-LD processing: the GS1 context is built in as tables.

Malformed values never raise: a time that cannot be parsed, say, is hashed as written.
Speed: renderers are planned once per event shape (its keys) and per structure shape; identifiers
go through one bounded table (:data:`schemas.identifiers.epc.CANONICAL_IDS`); scalars are in
:mod:`schemas.epcis.hash_literals`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from schemas.epcis.document import ParsedDocument
from schemas.epcis.hash_literals import literal_text as _literal
from schemas.epcis.hash_literals import number_text as _number
from schemas.epcis.hash_literals import scalar_text as _text
from schemas.epcis.hash_literals import time_text as _time
from schemas.identifiers.epc import CANONICAL_IDS

__all__ = ["HASH_PREFIX", "HASH_SUFFIX", "document_hashes", "document_prehashes", "event_hash", "prehash"]

HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"
CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"
STANDARD_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": CBV,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": GS1_VOC,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}
"""Prefixes of the EPCIS 2.0 JSON-LD context (protected there: documents cannot rebind them)."""

# --- CBV vocabularies: the terms of the EPCIS 2.0 JSON-LD context --------------------------------

_BIZ_STEPS = """accepting arriving assembling collecting commissioning consigning creating_class_instance
cycle_counting decommissioning departing destroying disassembling dispensing encoding entering_exiting holding
inspecting installing killing loading other packing picking receiving removing repackaging repairing replacing
reserving retail_selling sampling sensor_reporting shipping staging_outbound stock_taking stocking storing
transporting unloading unpacking void_shipping"""
_DISPOSITIONS = """active available completeness_verified completeness_inferred conformant container_closed
container_open damaged destroyed dispensed disposed encoded expired in_progress in_transit inactive
mismatch_instance mismatch_class mismatch_quantity needs_replacement no_pedigree_match non_conformant
non_sellable_other partially_dispensed recalled reserved retail_sold returned sellable_accessible
sellable_not_accessible stolen unavailable unknown"""
_MEASUREMENTS = """AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude
AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration AngularMomentum AngularVelocity Area
Capacitance Conductance Conductivity Count Density Dimensionless DoseEquivalent DoseEquivalentRate DynamicViscosity
ElectricCharge ElectricCurrent ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force Frequency
Illuminance Inductance Irradiance KinematicViscosity Length LinearMomentum Luminance LuminousFlux LuminousIntensity
MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass MassConcentration MassFlowRate MassPerAreaTime
MemoryCapacity MolalityOfSolute MolarEnergy MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity
RelativeHumidity Resistance Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension Temperature
Time Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux Wavenumber"""
_COMPONENTS = """x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle easting northing
latitude longitude altitude"""
_URN_TO_URI = {
    f"urn:epcglobal:cbv:{urn}:": f"{CBV}{local}-"
    for urn, local in (("bizstep", "BizStep"), ("disp", "Disp"), ("btt", "BTT"), ("sdt", "SDT"), ("er", "ER"))
}
"""CBV 1.x URN vocabularies → CBV 2.0 URIs (for any term, the unknown ones too)."""


def _vocabulary(terms: str, prefix: str, local: str) -> dict[str, str]:
    """Every spelling of a vocabulary's terms → its URI: bare term, URN, CURIE and the URI itself."""
    urn = next((u for u, base in _URN_TO_URI.items() if base == CBV + local), None)
    table: dict[str, str] = {}
    for term in terms.split():
        uri = table[term] = STANDARD_PREFIXES[prefix] + local + term
        table[uri] = table[f"{prefix}:{local}{term}"] = uri
        if urn is not None:
            table[urn + term] = uri
    return table


_BIZ_STEP = _vocabulary(_BIZ_STEPS, "cbv", "BizStep-")
_DISPOSITION = _vocabulary(_DISPOSITIONS, "cbv", "Disp-")
_BTT = _vocabulary("bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt", "cbv", "BTT-")
_SDT = _vocabulary("owning_party possessing_party location", "cbv", "SDT-")
_COMPONENT = _vocabulary(_COMPONENTS, "cbv", "Comp-")
_MEASUREMENT = _vocabulary(_MEASUREMENTS, "gs1", "")
_EXCEPTION = _vocabulary("ALARM_CONDITION ERROR_CONDITION", "gs1", "")

# --- per-document context ------------------------------------------------------------------------

_canonical = CANONICAL_IDS
"""EPC URN/Digital Link → canonical Digital Link (``canonical_epc``), one bounded table for the process;
``_canonical.cache_clear()`` empties it (benchmarks start cold)."""
_DIGITAL_LINK_OR_EPC = ("urn:epc:", "http")


class _Context:
    """Prefixes/terms (and ``@vocab``) of one document, with a cache of extension names."""

    __slots__ = ("names", "prefixes", "vocab")

    def __init__(self, prefixes: dict[str, str], vocab: str | None) -> None:
        self.prefixes = prefixes
        self.vocab = vocab
        self.names: dict[str, str] = {}

    def expand(self, value: str) -> str:
        """A CURIE whose prefix is known → the full IRI (``p://…`` is never a CURIE)."""
        prefix, colon, rest = value.partition(":")
        if colon:
            base = self.prefixes.get(prefix)
            if base is not None and not rest.startswith("//"):
                return base + rest
        return value

    def name(self, key: str) -> str:
        """Extension key (``prefix:local``, a full IRI or a term) → ``{namespace}local``."""
        cached = self.names.get(key)
        if cached is not None:
            return cached
        prefix, colon, rest = key.partition(":")
        base = self.prefixes.get(prefix) if colon and not rest.startswith("//") else None
        if base is not None:
            name = "{" + base + "}" + rest
        elif colon or key in self.prefixes:
            iri = key if colon else self.prefixes[key]
            cut = max(iri.rfind("/"), iri.rfind("#"))
            cut = iri.rfind(":") if cut < 0 else cut
            name = "{" + iri[: cut + 1] + "}" + iri[cut + 1 :]
        else:
            name = key if self.vocab is None else "{" + self.vocab + "}" + key  # else: no namespace
        if len(self.names) >= 4096:
            self.names.clear()
        self.names[key] = name
        return name

    def vocabulary(self, value: Any, table: dict[str, str]) -> str:
        text = _text(value)
        uri = table.get(text)
        if uri is not None:
            return uri
        if text.startswith("urn:epcglobal:cbv:"):
            head, _, term = text.rpartition(":")
            base = _URN_TO_URI.get(head + ":")
            if base is not None:
                return base + term
        if ":" not in text:
            return self.prefixes.get(text, text)  # a term the document defines, else as written
        return self.expand(text)

    def identifier(self, value: Any) -> str:
        text: str = value.strip() if value.__class__ is str else _literal(value)
        if text.startswith(_DIGITAL_LINK_OR_EPC):
            return _canonical[text]
        expanded = self.expand(text)
        if expanded is not text and expanded.startswith(_DIGITAL_LINK_OR_EPC):
            return _canonical[expanded]
        return expanded


_CONTEXTS: dict[bytes, _Context] = {}
_last: tuple[list[Any], list[Any], _Context] | None = None
"""The context list resolved last, a copy of its content, and its resolution: events hashed one by
one (``event_hash``) pass their document's context list each time, and a comparison is cheaper."""


def _context(context: Sequence[Any]) -> _Context:
    """Resolve (and cache) a context list: inline maps give prefixes, terms and ``@vocab``.

    Remote contexts (URLs) are never fetched: the EPCIS one is built in, others are unknown.
    """
    global _last
    last = _last
    if last is not None and last[0] is context and last[1] == context:  # unchanged since
        return last[2]
    try:
        key = orjson.dumps(list(context), option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _CONTEXTS.get(key := repr(context).encode()) or _resolve(context, key)
    resolved = _CONTEXTS.get(key) or _resolve(context, key)
    if context.__class__ is list:
        _last = (context, orjson.loads(key), resolved)
    return resolved


def _resolve(context: Sequence[Any], key: bytes) -> _Context:
    prefixes: dict[str, str] = {}
    vocab: str | None = None
    for entry in context:
        if isinstance(entry, Mapping):
            for name, definition in entry.items():
                iri = definition.get("@id") if isinstance(definition, Mapping) else definition
                if name == "@vocab" and isinstance(iri, str):
                    vocab = iri
                elif isinstance(iri, str) and not name.startswith("@") and not iri.startswith("@"):
                    prefixes[name] = iri
    prefixes.update(STANDARD_PREFIXES)
    if len(_CONTEXTS) >= 256:
        _CONTEXTS.clear()
    resolved = _CONTEXTS[key] = _Context(prefixes, vocab)
    return resolved


# --- extension elements --------------------------------------------------------------------------


def _element(name: str, value: Any, ctx: _Context, out: list[str]) -> None:
    """Append one string per element ``name`` holding ``value`` (a list repeats the element)."""
    if value.__class__ is str:
        text = value.strip()
        out.append(f"{name}={text}" if text else name)
        return
    if isinstance(value, list):
        for item in value:
            _element(name, item, ctx, out)
        return
    children = ""
    if _is_map(value):
        if "@value" in value or "@id" in value:  # JSON-LD value/node object
            value = value.get("@value", value.get("@id"))
        else:  # XML: attributes and child elements as keys, text under "#text"
            children = _extensions(value, ctx, ())
            value = value.get("#text")
    text = "" if value is None else _literal(value)
    out.append((f"{name}={text}" if text else name) + children)


def _extensions(container: Mapping[str, Any], ctx: _Context, known: Sequence[str] | frozenset[str]) -> str:
    """Sorted extension elements of ``container`` (the keys not in ``known``)."""
    parts: list[str] = []
    names = ctx.names
    for key, value in container.items():
        if key not in known and key[:1] not in ("@", "#"):
            name = names.get(key) or ctx.name(key)
            if value.__class__ is str:  # the common case of _element, inline
                text = value.strip()
                parts.append(f"{name}={text}" if text else name)
            else:
                _element(name, value, ctx, parts)
    parts.sort()
    return "".join(parts)


# --- standard fields -----------------------------------------------------------------------------

_Render = Callable[[str, Any, _Context], str]


def _is_map(value: Any) -> bool:
    return value.__class__ is dict or isinstance(value, Mapping)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _plain_field(key: str, value: Any, ctx: _Context) -> str:
    return f"{key}={value.strip() if value.__class__ is str else _literal(value)}"


def _time_field(key: str, value: Any, ctx: _Context) -> str:
    return f"{key}={_time(value)}"


def _number_field(key: str, value: Any, ctx: _Context) -> str:
    return f"{key}={_number(value)}"


def _id_field(key: str, value: Any, ctx: _Context) -> str:
    if value.__class__ is list:
        return "".join(sorted([f"{key}={ctx.identifier(v)}" for v in value]))
    return f"{key}={ctx.identifier(value)}"


def _vocab_field(table: dict[str, str]) -> _Render:
    def render(key: str, value: Any, ctx: _Context) -> str:
        if value.__class__ is str:
            uri = table.get(value)  # a known spelling, as written (so nothing to strip)
            return f"{key}={ctx.vocabulary(value, table) if uri is None else uri}"
        return "".join(sorted([f"{key}={ctx.vocabulary(v, table)}" for v in _as_list(value)]))

    return render


_KINDS: dict[str, _Render] = {
    "time": _time_field,
    "id": _id_field,
    "number": _number_field,
    "text": _plain_field,
    "measurement": _vocab_field(_MEASUREMENT),
    "exception": _vocab_field(_EXCEPTION),
    "component": _vocab_field(_COMPONENT),
    "disposition": _vocab_field(_DISPOSITION),
}


def _spec(fields: str) -> tuple[tuple[str, _Render], ...]:
    """``"name=kind …"`` → ``((name, renderer), …)``, in that (canonical) order."""
    return tuple((name, _KINDS[kind]) for name, _, kind in (field.partition("=") for field in fields.split()))


def _group(tag: str, fields: str) -> Callable[[Any, _Context], str]:
    """Renderer of one structure: ``tag``, its ``"name=kind …"`` fields in order, extensions."""
    spec = _spec(fields)
    order = {name: index for index, (name, _) in enumerate(spec)}
    known = frozenset(order)
    plans: dict[tuple[Any, ...], tuple[tuple[tuple[str, _Render], ...], bool]] = {}

    def plan(keys: tuple[Any, ...]) -> tuple[tuple[tuple[str, _Render], ...], bool]:
        """A shape's fields in canonical order, and whether it has other keys (extensions)."""
        present = sorted((key for key in keys if key in known), key=order.__getitem__)
        if len(plans) >= 256:
            plans.clear()
        entry = plans[keys] = tuple(spec[order[key]] for key in present), len(present) < len(keys)
        return entry

    def render(value: Any, ctx: _Context) -> str:
        if not _is_map(value):
            return ""
        keys = tuple(value)
        fields, other = plans.get(keys) or plan(keys)
        text = tag + "".join([field(name, item, ctx) for name, field in fields if (item := value[name]) is not None])
        return text + _extensions(value, ctx, known) if other else text

    return render


def _list_of(render: Callable[[Any, _Context], str]) -> _Render:
    """``key`` followed by the sorted renderings of the list's items (nothing for an empty list)."""

    def render_list(key: str, value: Any, ctx: _Context) -> str:
        if not value or not isinstance(value, list):
            return ""
        if len(value) == 1:
            return key + render(value[0], ctx)
        return key + "".join(sorted([render(item, ctx) for item in value]))

    return render_list


def _typed(item: str, table: dict[str, str]) -> _Render:
    """A list of ``{"type": <term of table>, item: <identifier>}`` (sources, destinations, transactions)."""
    heads = {spelling: "type=" + uri for spelling, uri in table.items()}
    label = item + "="

    def render(entry: Any, ctx: _Context) -> str:
        if not _is_map(entry):
            return ""
        kind = entry.get("type")
        if kind is None:
            return label + ctx.identifier(entry.get(item))
        head = heads.get(kind) if kind.__class__ is str else None  # a known spelling, as written
        if head is None:
            head = "type=" + ctx.vocabulary(kind, table)
        return head + label + ctx.identifier(entry.get(item))

    return _list_of(render)


def _epcs(key: str, value: Any, ctx: _Context) -> str:
    """An EPC list: ``key`` and the sorted ``epc=…`` (as :func:`_list_of` would, one call less per EPC)."""
    if not value or not isinstance(value, list):
        return ""
    identifier = ctx.identifier
    if len(value) == 1:
        return key + "epc=" + identifier(value[0])
    return key + "".join(sorted(["epc=" + identifier(item) for item in value]))


_persistent, _location_id = _group("", "set=disposition unset=disposition"), _group("", "id=id")


def _location(key: str, value: Any, ctx: _Context) -> str:
    if value.__class__ is dict and len(value) == 1:
        ident = value.get("id")
        if ident is not None:  # the common {"id": …}
            return key + _id_field("id", ident, ctx)
    return key + (_location_id(value, ctx) if _is_map(value) else f"id={ctx.identifier(value)}")


_metadata = _group(
    "sensorMetadata",
    "time=time startTime=time endTime=time deviceID=id deviceMetadata=id rawData=id dataProcessingMethod=id bizRules=id",
)
_report = _group(
    "sensorReport",
    "type=measurement exception=exception deviceID=id deviceMetadata=id rawData=id dataProcessingMethod=id "
    "time=time microorganism=id chemicalSubstance=id value=number component=component stringValue=text "
    "booleanValue=text hexBinaryValue=text uriValue=id minValue=number maxValue=number meanValue=number "
    "sDev=number percRank=number percValue=number uom=text coordinateReferenceSystem=id",
)
_KINDS.update(
    metadata=lambda key, value, ctx: _metadata(value, ctx),
    reports=lambda key, value, ctx: "".join(sorted([_report(r, ctx) for r in _as_list(value)])),
    eventType=lambda key, value, ctx: f"eventType={_text(value)}",
    epcs=_epcs,
    quantities=_list_of(_group("quantityElement", "epcClass=id quantity=number uom=text")),
    bizStep=_vocab_field(_BIZ_STEP),
    persistent=lambda key, value, ctx: key + _persistent(value, ctx) if _is_map(value) else "",
    location=_location,
    bizTransactions=_typed("bizTransaction", _BTT),
    destinations=_typed("destination", _SDT),
    sources=_typed("source", _SDT),
    ilmd=lambda key, value, ctx: key + _extensions(value, ctx, ()) if value and _is_map(value) else "",
)
_KINDS["sensorElements"] = _list_of(_group("sensorElement", "sensorMetadata=metadata sensorReport=reports"))
_EVENT_FIELDS = _spec(
    "type=eventType eventTime=time eventTimeZoneOffset=text certificationInfo=id epcList=epcs parentID=id "
    "inputEPCList=epcs childEPCs=epcs quantityList=quantities childQuantityList=quantities "
    "inputQuantityList=quantities outputEPCList=epcs outputQuantityList=quantities action=text "
    "transformationID=id bizStep=bizStep disposition=disposition persistentDisposition=persistent "
    "readPoint=location bizLocation=location bizTransactionList=bizTransactions destinationList=destinations "
    "sourceList=sources sensorElementList=sensorElements ilmd=ilmd"
)
"""The canonical order (destinationList before sourceList, as in the reference vectors)."""
_SLOTS = {name: (index, render) for index, (name, render) in enumerate(_EVENT_FIELDS)}
EXCLUDED_FIELDS = frozenset({"eventID", "recordTime", "errorDeclaration", "id", "@context", "@id", "@type"})
"""Event members the hash leaves out (CBV 2.0: they do not describe what happened)."""
_KNOWN = frozenset(_SLOTS) | EXCLUDED_FIELDS


_Plan = tuple[tuple[tuple[str, _Render], ...], tuple[str, ...]]
_PLANS: dict[tuple[Any, ...], _Plan] = {}
"""Event shape (its keys, in order) → its standard fields in canonical order, and its extension keys."""


def _plan(keys: tuple[Any, ...]) -> _Plan:
    fields = tuple(sorted(((key, _SLOTS[key]) for key in keys if key in _SLOTS), key=lambda item: item[1][0]))
    extensions = tuple(key for key in keys if key not in _KNOWN and key[:1] not in ("@", "#"))
    if len(_PLANS) >= 1024:
        _PLANS.clear()
    plan = _PLANS[keys] = tuple((key, render) for key, (_, render) in fields), extensions
    return plan


def _prehash(event: Mapping[str, Any], ctx: _Context) -> str:
    keys = tuple(event)
    fields, extensions = _PLANS.get(keys) or _plan(keys)
    parts = [render(key, value, ctx) for key, render in fields if (value := event[key]) is not None]
    if extensions:
        elements: list[str] = []
        names = ctx.names
        for key in extensions:
            name = names.get(key) or ctx.name(key)
            value = event[key]
            if value.__class__ is str:  # the common case of _element, inline
                text = value.strip()
                elements.append(f"{name}={text}" if text else name)
            else:
                _element(name, value, ctx, elements)
        elements.sort()
        parts.append("".join(elements))
    return "".join(parts)


def _event_context(event: Mapping[str, Any], context: Sequence[Any]) -> _Context:
    local = event.get("@context")
    if local is None:
        return _context(context)
    return _context([*context, *(local if isinstance(local, list) else [local])])


def _digest(text: str) -> str:
    return HASH_PREFIX + hashlib.sha256(text.encode()).hexdigest() + HASH_SUFFIX


def prehash(event: Mapping[str, Any], context: Sequence[Any]) -> str:
    """The canonical pre-hash string of one event (``context``: its document's context list)."""
    return _prehash(event, _event_context(event, context))


def event_hash(event: Mapping[str, Any], context: Sequence[Any]) -> str:
    """``ni:///sha-256;<lowercase hex>?ver=CBV2.0`` of one event."""
    return _digest(prehash(event, context))


def document_prehashes(doc: ParsedDocument) -> list[str]:
    """Pre-hash strings of a parsed document's events, in document order."""
    ctx = _context(doc.context)
    return [_prehash(e, ctx if "@context" not in e else _event_context(e, doc.context)) for e in doc.events]


def document_hashes(doc: ParsedDocument) -> list[str]:
    """Event hash IDs of a parsed document's events, in document order."""
    ctx = _context(doc.context)
    sha256 = hashlib.sha256
    return [
        HASH_PREFIX
        + sha256(_prehash(e, ctx if "@context" not in e else _event_context(e, doc.context)).encode()).hexdigest()
        + HASH_SUFFIX
        for e in doc.events
    ]
