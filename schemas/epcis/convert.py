"""EPCIS 2.0 JSON binding ⇄ the ``trace_event`` v1 record, without loss.

``to_record_event`` maps one event (the dict :func:`schemas.epcis.parse_document`
yields, from JSON-LD or XML) to the Avro-shaped ``event`` and ``trace`` parts of
the record; ``from_record_event`` maps them back. Round trip guarantee: the
event that comes back equals the one that went in, field for field, with two
normalisations only — numbers compare by value (``600`` and ``600.0``), and the
traceability extension is written with the prefix ``tb`` whatever prefix the
submitter bound to its namespace.

Standard fields are typed; anything else (user extensions, an event-level
``@context``) is kept under its compact name with its value as JSON text, so
nothing a platform sends is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import orjson

from schemas.epcis.trace_extension import TRACE_NAMESPACE, trace_from_json, trace_to_json
from schemas.errors import SchemaError


class EventShapeError(SchemaError):
    """A standard EPCIS field has a shape the model cannot carry (e.g. a quantity that is not a number)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


Json = dict[str, Any]

_STRINGS: Final = (
    ("eventID", "event_id"),
    ("eventTimeZoneOffset", "event_time_zone_offset"),
    ("recordTime", "record_time"),
    ("parentID", "parent_id"),
    ("transformationID", "transformation_id"),
    ("bizStep", "biz_step"),
    ("disposition", "disposition"),
)
_EPC_LISTS: Final = (
    ("epcList", "epc_list"),
    ("childEPCs", "child_epcs"),
    ("inputEPCList", "input_epc_list"),
    ("outputEPCList", "output_epc_list"),
)
_QUANTITY_LISTS: Final = (
    ("quantityList", "quantity_list"),
    ("childQuantityList", "child_quantity_list"),
    ("inputQuantityList", "input_quantity_list"),
    ("outputQuantityList", "output_quantity_list"),
)
_METADATA: Final = (
    ("time", "time"),
    ("startTime", "start_time"),
    ("endTime", "end_time"),
    ("deviceID", "device_id"),
    ("deviceMetadata", "device_metadata"),
    ("rawData", "raw_data"),
    ("dataProcessingMethod", "data_processing_method"),
    ("bizRules", "biz_rules"),
)
_REPORT_STRINGS: Final = (
    ("type", "type"),
    ("exception", "exception"),
    ("deviceID", "device_id"),
    ("deviceMetadata", "device_metadata"),
    ("rawData", "raw_data"),
    ("dataProcessingMethod", "data_processing_method"),
    ("bizRules", "biz_rules"),
    ("time", "time"),
    ("microorganism", "microorganism"),
    ("chemicalSubstance", "chemical_substance"),
    ("coordinateReferenceSystem", "coordinate_reference_system"),
    ("component", "component"),
    ("stringValue", "string_value"),
    ("hexBinaryValue", "hex_binary_value"),
    ("uriValue", "uri_value"),
    ("uom", "uom"),
)
_REPORT_NUMBERS: Final = (
    ("value", "value"),
    ("minValue", "min_value"),
    ("maxValue", "max_value"),
    ("meanValue", "mean_value"),
    ("sDev", "s_dev"),
    ("percRank", "perc_rank"),
    ("percValue", "perc_value"),
)


def prefix_map(context: Sequence[Any]) -> dict[str, str]:
    """Prefix → namespace IRI from a document's ``@context`` entries."""
    prefixes: dict[str, str] = {}
    for entry in context:
        if isinstance(entry, Mapping):
            prefixes.update({k: v for k, v in entry.items() if isinstance(v, str)})
    return prefixes


def utc_millis(event_time: str, offset: str | None) -> int:
    """Milliseconds since the epoch of an xsd:dateTime; a time without offset takes ``offset``."""
    moment = datetime.fromisoformat(event_time)
    if moment.tzinfo is None:
        if offset is None or len(offset) != 6:
            raise EventShapeError("eventTime", f"{event_time!r} has no offset and eventTimeZoneOffset is unusable")
        sign = -1 if offset[0] == "-" else 1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
        moment = moment.replace(tzinfo=timezone(sign * delta))
    return int(moment.timestamp() * 1000)


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _string(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    if value is None or isinstance(value, str):
        return value
    raise EventShapeError(key, f"must be a string, got {type(value).__name__}")


def _strings(value: Any, key: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EventShapeError(key, "must be a list of strings")
    return list(value)


def _number(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventShapeError(key, f"must be a number, got {value!r}")
    return float(value)


def _object(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):  # parsed JSON and XML give dicts; abc isinstance checks are slow
        raise EventShapeError(key, "must be an object")
    return value


def _extensions(source: Mapping[str, Any], known: frozenset[str] | set[str]) -> dict[str, str]:
    return {k: _text(v) for k, v in source.items() if k not in known}


def _quantities(value: Any, key: str) -> list[Json] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise EventShapeError(key, "must be a list")
    result = []
    for index, element in enumerate(value):
        element = _object(element, f"{key}[{index}]")
        unknown = set(element) - {"epcClass", "quantity", "uom"}
        if unknown:
            raise EventShapeError(f"{key}[{index}]", f"unknown fields {sorted(unknown)}")
        epc_class = element.get("epcClass")
        if not isinstance(epc_class, str):
            raise EventShapeError(f"{key}[{index}].epcClass", "must be a string")
        uom = element.get("uom")
        if uom is not None and not isinstance(uom, str):
            raise EventShapeError(f"{key}[{index}].uom", "must be a string")
        result.append({"epc_class": epc_class, "quantity": _number(element.get("quantity"), key), "uom": uom})
    return result


def _place(value: Any, key: str) -> Json | None:
    if value is None:
        return None
    place = _object(value, key)
    if not isinstance(place.get("id"), str):
        raise EventShapeError(f"{key}.id", "must be a string")
    return {"id": place["id"], "extensions": _extensions(place, {"id"})}


def _typed_list(value: Any, key: str, item: str, *, type_required: bool) -> list[Json] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise EventShapeError(key, "must be a list")
    result = []
    for index, element in enumerate(value):
        element = _object(element, f"{key}[{index}]")
        kind = element.get("type")
        if not isinstance(element.get(item), str) or (kind is None and type_required):
            raise EventShapeError(f"{key}[{index}]", f"needs a string {item}{' and a type' if type_required else ''}")
        if set(element) - {"type", item}:
            raise EventShapeError(f"{key}[{index}]", f"unknown fields {sorted(set(element) - {'type', item})}")
        result.append({"type": kind, ("value" if item == "bizTransaction" else "id"): element[item]})
    return result


def _sensor_elements(value: Any) -> list[Json] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise EventShapeError("sensorElementList", "must be a list")
    elements = []
    for index, raw in enumerate(value):
        where = f"sensorElementList[{index}]"
        element = _object(raw, where)
        metadata: Json | None = None
        if element.get("sensorMetadata") is not None:
            meta = _object(element["sensorMetadata"], f"{where}.sensorMetadata")
            metadata = {a: _string(meta, j) for j, a in _METADATA}
            metadata["extensions"] = _extensions(meta, {j for j, _ in _METADATA})
        reports_raw = element.get("sensorReport", [])
        if not isinstance(reports_raw, list):
            raise EventShapeError(f"{where}.sensorReport", "must be a list")
        reports = []
        for r_index, report_raw in enumerate(reports_raw):
            report = _object(report_raw, f"{where}.sensorReport[{r_index}]")
            out: Json = {a: _string(report, j) for j, a in _REPORT_STRINGS}
            out.update({a: _number(report.get(j), f"{where}.sensorReport[{r_index}].{j}") for j, a in _REPORT_NUMBERS})
            boolean = report.get("booleanValue")
            if boolean is not None and not isinstance(boolean, bool):
                raise EventShapeError(f"{where}.sensorReport[{r_index}].booleanValue", "must be true or false")
            out["boolean_value"] = boolean
            known = {j for j, _ in _REPORT_STRINGS + _REPORT_NUMBERS} | {"booleanValue"}
            out["extensions"] = _extensions(report, known)
            reports.append(out)
        elements.append(
            {
                "metadata": metadata,
                "reports": reports,
                "extensions": _extensions(element, {"sensorMetadata", "sensorReport"}),
            }
        )
    return elements


Handler = Callable[[Json, Any], None]


def _string_field(json_key: str, avro_key: str) -> Handler:
    def handle(record: Json, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise EventShapeError(json_key, f"must be a string, got {type(value).__name__}")
        record[avro_key] = value

    return handle


def _strings_field(json_key: str, avro_key: str) -> Handler:
    def handle(record: Json, value: Any) -> None:
        record[avro_key] = _strings(value, json_key)

    return handle


def _quantities_field(json_key: str, avro_key: str) -> Handler:
    def handle(record: Json, value: Any) -> None:
        record[avro_key] = _quantities(value, json_key)

    return handle


def _certification(record: Json, value: Any) -> None:
    record["certification_info"] = (
        value if value is None or isinstance(value, str) else _strings(value, "certificationInfo")
    )


def _error_declaration(record: Json, value: Any) -> None:
    if value is None:
        return
    declaration = _object(value, "errorDeclaration")
    if not isinstance(declaration.get("declarationTime"), str):
        raise EventShapeError("errorDeclaration.declarationTime", "must be a string")
    record["error_declaration"] = {
        "declaration_time": declaration["declarationTime"],
        "reason": _string(declaration, "reason"),
        "corrective_event_ids": _strings(declaration.get("correctiveEventIDs"), "correctiveEventIDs"),
        "extensions": _extensions(declaration, {"declarationTime", "reason", "correctiveEventIDs"}),
    }


def _persistent_disposition(record: Json, value: Any) -> None:
    if value is None:
        return
    persistent = _object(value, "persistentDisposition")
    record["persistent_disposition"] = {
        "set": _strings(persistent.get("set"), "persistentDisposition.set"),
        "unset": _strings(persistent.get("unset"), "persistentDisposition.unset"),
    }


def _not_epcis2(record: Json, value: Any) -> None:
    raise EventShapeError("quantity", "is not an EPCIS 2.0 event field")  # EPCIS 1.x QuantityEvent leftovers


def _ilmd(record: Json, value: Any) -> None:
    record["ilmd"] = None if value is None else _extensions(_object(value, "ilmd"), set())


_HANDLERS: Final[dict[str, Handler]] = {
    **{j: _string_field(j, a) for j, a in _STRINGS},
    **{j: _strings_field(j, a) for j, a in _EPC_LISTS},
    **{j: _quantities_field(j, a) for j, a in _QUANTITY_LISTS},
    "type": lambda record, value: record.__setitem__("type", value),
    "eventTime": _string_field("eventTime", "event_time"),
    "action": _string_field("action", "action"),
    "certificationInfo": _certification,
    "errorDeclaration": _error_declaration,
    "persistentDisposition": _persistent_disposition,
    "readPoint": lambda record, value: record.__setitem__("read_point", _place(value, "readPoint")),
    "bizLocation": lambda record, value: record.__setitem__("biz_location", _place(value, "bizLocation")),
    "bizTransactionList": lambda record, value: record.__setitem__(
        "biz_transaction_list", _typed_list(value, "bizTransactionList", "bizTransaction", type_required=False)
    ),
    "sourceList": lambda record, value: record.__setitem__(
        "source_list", _typed_list(value, "sourceList", "source", type_required=True)
    ),
    "destinationList": lambda record, value: record.__setitem__(
        "destination_list", _typed_list(value, "destinationList", "destination", type_required=True)
    ),
    "sensorElementList": lambda record, value: record.__setitem__("sensor_element_list", _sensor_elements(value)),
    "ilmd": _ilmd,
    "quantity": _not_epcis2,
}
_EMPTY_EVENT: Final[Json] = {
    **{a: None for _, a in _STRINGS + _EPC_LISTS + _QUANTITY_LISTS},
    "type": None,
    "event_time": None,
    "certification_info": None,
    "error_declaration": None,
    "action": None,
    "persistent_disposition": None,
    "read_point": None,
    "biz_location": None,
    "biz_transaction_list": None,
    "source_list": None,
    "destination_list": None,
    "sensor_element_list": None,
    "ilmd": None,
}


def to_record_event(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> tuple[Json, Json | None]:
    """(``event`` part, ``trace`` part or None) of the v1 record for one EPCIS event.

    One pass over the event's own keys (a dispatch table, not a probe of every
    known field): this runs for every captured event.
    """
    record = dict(_EMPTY_EVENT)
    extensions: dict[str, str] = {}
    trace_fields: dict[str, Any] | None = None
    trace_prefixes: set[str] = set()
    for key, value in event.items():
        handler = _HANDLERS.get(key)
        if handler is not None:
            handler(record, value)
            continue
        prefix, colon, local = key.partition(":")
        if colon and prefixes.get(prefix) == TRACE_NAMESPACE:
            if trace_fields is None:
                trace_fields = {}
            trace_fields[local] = value
            trace_prefixes.add(prefix)
        else:
            extensions[key] = _text(value)
    event_time = record["event_time"]
    if not isinstance(event_time, str):
        raise EventShapeError("eventTime", "must be a string")
    try:
        record["event_time_ms"] = utc_millis(event_time, record["event_time_zone_offset"])
    except ValueError as exc:
        raise EventShapeError("eventTime", str(exc)) from exc
    record["extensions"] = extensions
    if trace_fields is None:
        return record, None
    return record, trace_from_json(trace_fields, frozenset(trace_prefixes))


def _put(target: Json, key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def _number_out(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _restore(extensions: Mapping[str, str], target: Json) -> None:
    for key, text in extensions.items():
        target[key] = orjson.loads(text)


def from_record_event(record: Mapping[str, Any], trace: Mapping[str, Any] | None, *, trace_prefix: str = "tb") -> Json:
    """The EPCIS 2.0 JSON binding of a record's ``event`` (and ``trace``, under ``trace_prefix``)."""
    event: Json = {"type": record["type"]}
    _put(event, "eventTime", record["event_time"])
    for json_key, avro_key in _STRINGS:
        _put(event, json_key, record[avro_key])
    _put(event, "certificationInfo", record["certification_info"])
    declaration = record["error_declaration"]
    if declaration is not None:
        out: Json = {"declarationTime": declaration["declaration_time"]}
        _put(out, "reason", declaration["reason"])
        _put(out, "correctiveEventIDs", declaration["corrective_event_ids"])
        _restore(declaration["extensions"], out)
        event["errorDeclaration"] = out
    _put(event, "action", record["action"])
    for json_key, avro_key in _EPC_LISTS:
        _put(event, json_key, record[avro_key])
    for json_key, avro_key in _QUANTITY_LISTS:
        quantities = record[avro_key]
        if quantities is not None:
            items = []
            for q in quantities:
                item: Json = {"epcClass": q["epc_class"]}
                _put(item, "quantity", _number_out(q["quantity"]))
                _put(item, "uom", q["uom"])
                items.append(item)
            event[json_key] = items
    persistent = record["persistent_disposition"]
    if persistent is not None:
        event["persistentDisposition"] = {k: v for k, v in persistent.items() if v is not None}
    for json_key, avro_key in (("readPoint", "read_point"), ("bizLocation", "biz_location")):
        place = record[avro_key]
        if place is not None:
            event[json_key] = {"id": place["id"]}
            _restore(place["extensions"], event[json_key])
    if record["biz_transaction_list"] is not None:
        event["bizTransactionList"] = [
            ({"type": t["type"]} if t["type"] is not None else {}) | {"bizTransaction": t["value"]}
            for t in record["biz_transaction_list"]
        ]
    for json_key, item_key in (("sourceList", "source"), ("destinationList", "destination")):
        parties = record[f"{item_key}_list"]
        if parties is not None:
            event[json_key] = [{"type": p["type"], item_key: p["id"]} for p in parties]
    if record["sensor_element_list"] is not None:
        event["sensorElementList"] = [_sensor_out(e) for e in record["sensor_element_list"]]
    if record["ilmd"] is not None:
        event["ilmd"] = {}
        _restore(record["ilmd"], event["ilmd"])
    _restore(record["extensions"], event)
    if trace is not None:
        event.update({f"{trace_prefix}:{k}": v for k, v in trace_to_json(trace, trace_prefix).items()})
    return event


def _sensor_out(element: Mapping[str, Any]) -> Json:
    out: Json = {}
    metadata = element["metadata"]
    if metadata is not None:
        meta: Json = {}
        for json_key, avro_key in _METADATA:
            _put(meta, json_key, metadata[avro_key])
        _restore(metadata["extensions"], meta)
        out["sensorMetadata"] = meta
    reports = []
    for report in element["reports"]:
        item: Json = {}
        for json_key, avro_key in _REPORT_STRINGS:
            _put(item, json_key, report[avro_key])
        for json_key, avro_key in _REPORT_NUMBERS:
            _put(item, json_key, _number_out(report[avro_key]))
        _put(item, "booleanValue", report["boolean_value"])
        _restore(report["extensions"], item)
        reports.append(item)
    out["sensorReport"] = reports
    _restore(element["extensions"], out)
    return out
