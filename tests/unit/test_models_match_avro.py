"""The pydantic models and the latest trace_event Avro contract agree field by field."""

from __future__ import annotations

import enum
import types
import typing
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from schemas import models

CONTRACT = Path(models.__file__).parent / "avro" / "trace_event" / "v3.avsc"  # the latest version
_PRIMITIVES: dict[str, type] = {
    "string": str,
    "long": int,
    "int": int,
    "double": float,
    "float": float,
    "boolean": bool,
}


class _Named:
    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}


def _branches(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return list(typing.get_args(annotation))
    return [annotation]


def _check_type(avro: Any, annotation: Any, where: str, named: _Named) -> None:
    if isinstance(avro, list):  # union: same branches, in any order
        branches = _branches(annotation)
        assert len(branches) == len(avro), f"{where}: union {avro} vs {annotation}"
        for avro_branch in avro:
            matches = [b for b in branches if _matches(avro_branch, b, where, named)]
            assert matches, f"{where}: no model branch for Avro {avro_branch!r} in {annotation}"
        return
    assert _matches(avro, annotation, where, named), f"{where}: Avro {avro!r} vs model {annotation}"


def _matches(avro: Any, annotation: Any, where: str, named: _Named) -> bool:
    if avro == "null":
        return annotation is type(None)
    if isinstance(avro, str) and avro in _PRIMITIVES:
        return annotation is _PRIMITIVES[avro]
    if isinstance(avro, str):
        avro = named.types[avro]
    kind = avro["type"]
    if kind == "array":
        if typing.get_origin(annotation) is not list:
            return False
        _check_type(avro["items"], typing.get_args(annotation)[0], f"{where}[]", named)
        return True
    if kind == "map":
        if typing.get_origin(annotation) is not dict or typing.get_args(annotation)[0] is not str:
            return False
        _check_type(avro["values"], typing.get_args(annotation)[1], f"{where}{{}}", named)
        return True
    named.types.setdefault(avro["name"], avro)
    if kind == "enum":
        if not (isinstance(annotation, type) and issubclass(annotation, enum.Enum)):
            return False
        assert [m.value for m in annotation] == avro["symbols"], f"{where}: enum symbols differ"
        return True
    if kind == "record":
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        assert annotation.__name__ == avro["name"], f"{where}: record {avro['name']} vs model {annotation.__name__}"
        _check_record(avro, annotation, named)
        return True
    raise AssertionError(f"{where}: unexpected Avro type {kind}")


def _check_record(avro: dict[str, Any], model: type[BaseModel], named: _Named) -> None:
    avro_fields = {f["name"]: f for f in avro["fields"]}
    assert list(avro_fields) == list(model.model_fields), f"{avro['name']}: field names or order differ"
    for name, field in avro_fields.items():
        info = model.model_fields[name]
        where = f"{avro['name']}.{name}"
        _check_type(field["type"], info.annotation, where, named)
        if "default" not in field:
            assert info.is_required(), f"{where}: required in Avro, optional in the model"
            continue
        assert not info.is_required(), f"{where}: has a default in Avro, required in the model"
        model_default = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
        assert model_default is not PydanticUndefined
        assert model_default == field["default"], f"{where}: default {field['default']!r} vs {model_default!r}"


def test_every_field_agrees() -> None:
    contract = orjson.loads(CONTRACT.read_bytes())
    _check_record(contract, models.TraceEvent, _Named())


def test_the_check_catches_a_disagreement() -> None:
    contract = orjson.loads(CONTRACT.read_bytes())
    contract["fields"][0]["type"] = "long"  # event_id: string in the model
    with pytest.raises(AssertionError, match=r"TraceEvent\.event_id"):
        _check_record(contract, models.TraceEvent, _Named())


def test_a_decoded_record_validates_as_the_model() -> None:
    from schemas.codec import AvroCodec

    codec = AvroCodec(CONTRACT.read_text())
    record = {
        "event_id": "ni:///sha-256;00?ver=CBV2.0",
        "trace_key": "k",
        "reporter": "MOFCOM",
        "capture_id": "c1",
        "received_at_ms": 1,
        "context_json": "[]",
        "flags": ["stale-event-id"],
        "event": {
            "type": "ObjectEvent",
            "event_time": "2026-11-20T06:30:00+08:00",
            "event_time_ms": 1_795_127_400_000,
            "event_time_zone_offset": "+08:00",
            "action": "OBSERVE",
            "epc_list": ["urn:epc:id:sgtin:6901234.012345.1"],
            "quantity_list": [{"epc_class": "urn:epc:class:lgtin:6901234.012345.L1", "quantity": 2.5, "uom": "KGM"}],
        },
        "trace": {"reporting_department": "MOFCOM", "certificates": [{"type": "MEAT_QUALITY", "number": "Q1"}]},
    }
    decoded = codec.decode(codec.encode(record))
    model = models.TraceEvent.model_validate(decoded)
    assert model.event.quantity_list is not None
    assert model.event.quantity_list[0].quantity == 2.5
    assert model.trace is not None
    assert model.trace.certificates[0].type is models.CertificateType.MEAT_QUALITY
    assert model.model_dump(mode="json") == decoded
