"""EPCIS 2.0 event → ``trace_event`` v1 record → Avro bytes → event again, without loss.

Every event of every EPCIS document in the shared vectors (read in place from the
workplace's ``shared/vectors`` folder, never copied; skipped when it is absent) goes through
:func:`schemas.epcis.convert.to_record_event`, a complete v1 record, the production Avro
codec and :func:`schemas.epcis.convert.from_record_event`. What comes back must equal the
parsed original field for field — eventID, recordTime, errorDeclaration and extensions
included — with numbers compared by value only (``600`` == ``600.0``: JSON does not tell
them apart, Avro carries them as doubles), and must have the same CBV 2.0 event hash.
Two hand-written inputs cover what the vectors lack: the full ``tb:`` traceability
extension, and XML extension elements (attributes, nesting, repeats, sensor attributes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from schemas import models
from schemas.codec import AvroCodec
from schemas.epcis import parse_document
from schemas.epcis.convert import from_record_event, prefix_map, to_record_event
from schemas.epcis.hash import event_hash
from schemas.epcis.trace_extension import TRACE_NAMESPACE

ROOT = Path(__file__).resolve().parents[2]
from tests.vectors import VECTORS, require_vectors  # noqa: E402

VECTOR_FOLDERS = ("epcis-event-hash", "epcis-examples")
CONTENT_TYPES = {".jsonld": "application/ld+json", ".xml": "application/xml"}
CODEC = AvroCodec((ROOT / "schemas" / "avro" / "trace_event" / "v1.avsc").read_text(encoding="utf-8"))
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def by_value(value: Any) -> Any:
    """``value`` with every number as a float; nothing else changes (booleans stay booleans)."""
    if isinstance(value, dict):
        return {key: by_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [by_value(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def round_trip(event: dict[str, Any], context: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the event rebuilt from the decoded record, the decoded record)."""
    record_event, trace = to_record_event(event, prefix_map(context))
    record = {
        "event_id": event_hash(event, context),
        "trace_key": "urn:epc:id:sgtin:6901234.012345.1",
        "reporter": "lossless-test",
        "capture_id": "cap-lossless",
        "received_at_ms": 1_763_553_600_000,
        "context_json": "[]",
        "flags": [],
        "event": record_event,
        "trace": trace,
    }
    models.TraceEvent.model_validate(record)  # a complete record of the contract, nothing extra
    decoded = CODEC.decode(CODEC.encode(record))
    assert decoded == record
    return from_record_event(decoded["event"], decoded["trace"]), decoded


def assert_lossless(event: dict[str, Any], context: list[Any]) -> dict[str, Any]:
    back, decoded = round_trip(event, context)
    assert by_value(back) == by_value(event)
    assert event_hash(back, context) == event_hash(event, context)
    return decoded


def _documents() -> list[Any]:
    if not VECTORS.is_dir():
        return [pytest.param(None, id="no-vectors")]
    paths = sorted(
        path
        for folder in VECTOR_FOLDERS
        for path in (VECTORS / folder).iterdir()
        if path.suffix in CONTENT_TYPES and path.name != "epcis-context.jsonld"
    )
    return [pytest.param(path, id=f"{path.parent.name}/{path.name}") for path in paths]


@pytest.mark.parametrize("path", _documents())
def test_every_vector_event_survives_the_v1_record(path: Path | None) -> None:
    path = require_vectors(path if path is not None else VECTORS / "absent")
    document = parse_document(path.read_bytes(), CONTENT_TYPES[path.suffix])
    assert document.events, path.name
    for index, event in enumerate(document.events):
        back, _ = round_trip(event, document.context)
        assert by_value(back) == by_value(event), f"{path.name}#{index}"
        assert event_hash(back, document.context) == event_hash(event, document.context), f"{path.name}#{index}"


def test_the_vectors_exercise_the_fields_the_hash_leaves_out() -> None:
    """eventID, recordTime, errorDeclaration and extensions are compared above: make sure they occur."""
    require_vectors()
    seen: set[str] = set()
    documents = 0
    for param in _documents():
        (path,) = param.values
        documents += 1
        parsed = parse_document(path.read_bytes(), CONTENT_TYPES[path.suffix])
        for event in parsed.events:
            seen.update(key for key in event if key in {"eventID", "recordTime", "errorDeclaration", "ilmd"})
            seen.update("extension" for key in event if ":" in key)
            seen.update("sensorElementList" for key in event if key == "sensorElementList")
    assert documents >= 18
    assert seen == {"eventID", "recordTime", "errorDeclaration", "ilmd", "extension", "sensorElementList"}


# --- the traceability extension -----------------------------------------------------------------

TRACE_CONTEXT: list[Any] = [EPCIS_CONTEXT, {"demo": "https://demo.tracebus.invalid/ns/", "tb": TRACE_NAMESPACE}]
TRACED_EVENT: dict[str, Any] = {
    "type": "TransformationEvent",
    "eventID": "urn:uuid:6f0b6a1e-0000-4000-8000-000000000101",
    "eventTime": "2026-11-19T07:40:00.250+08:00",
    "eventTimeZoneOffset": "+08:00",
    "recordTime": "2026-11-19T07:41:00Z",
    "inputQuantityList": [
        {"epcClass": "urn:epc:class:lgtin:6905555.000871.HV20261119B3", "quantity": 600, "uom": "KGM"}
    ],
    "outputEPCList": ["urn:epc:id:sgtin:6905555.000872.1", "urn:epc:id:sgtin:6905555.000872.2"],
    "outputQuantityList": [{"epcClass": "urn:epc:class:lgtin:6905555.000873.P1", "quantity": 12.75}],
    "transformationID": "urn:epc:id:gdti:6905555.00000.17",
    "bizStep": "commissioning",
    "disposition": "active",
    "readPoint": {"id": "urn:epc:id:sgln:6905555.00003.0"},
    "bizLocation": {"id": "urn:epc:id:sgln:6905555.00003.0", "demo:workshop": "二号分割车间"},
    "ilmd": {"demo:bestBefore": "2026-11-26", "demo:cut": ["前腿", "后腿"]},
    "demo:plot": "萧山区 3 号基地 B 地块",
    "tb:reportingDepartment": "MOFCOM",
    "tb:reportingPlatform": "浙江省肉菜流通追溯平台",
    "tb:productCategory": "0101",
    "tb:businessUSCC": "91350200776049653A",
    "tb:businessRole": "slaughterhouse",
    "tb:regionCode": "330109",
    "tb:inboundBatch": "HV20261119B3",
    "tb:outboundBatch": "HV20261119B3-出-01",
    "tb:traceCode": "33010920261119000187",
    "tb:certificates": [
        {"tb:type": "animal-quarantine", "tb:number": "3301-2026-000187", "tb:issuer": "萧山区动物卫生监督所"},
        {"tb:type": "meat-quality", "tb:number": "MQ-17", "tb:issuer": "萧山区市场监管局"},
        {"tb:type": "compliance", "tb:number": "HG-2026-5"},
        {"tb:type": "origin", "tb:number": "CD-9"},
        {"tb:type": "test-report", "tb:number": "TR-3", "tb:issuer": "浙江省食品检验研究院"},
        {"tb:type": "import-quarantine", "tb:number": "IQ-1"},
        {"tb:type": "other", "tb:number": "X-1"},
    ],
    "tb:sourceBusiness": {"tb:uscc": "92330109MA2B00043H", "tb:name": "萧山区某生猪养殖场"},
    "tb:destinationBusiness": {"tb:uscc": "91330206MA2B000781", "tb:name": "杭州某农贸市场"},
}


def test_full_traceability_extension_survives_the_v1_record() -> None:
    decoded = assert_lossless(TRACED_EVENT, TRACE_CONTEXT)
    trace = decoded["trace"]
    assert trace is not None
    assert [c["type"] for c in trace["certificates"]] == [
        "ANIMAL_QUARANTINE",
        "MEAT_QUALITY",
        "COMPLIANCE",
        "ORIGIN",
        "TEST_REPORT",
        "IMPORT_QUARANTINE",
        "OTHER",
    ]
    assert trace["source_business"] == {"uscc": "92330109MA2B00043H", "name": "萧山区某生猪养殖场"}
    assert trace["destination_business"] == {"uscc": "91330206MA2B000781", "name": "杭州某农贸市场"}
    assert not any(key.startswith("tb:") for key in decoded["event"]["extensions"])


def test_partial_traceability_extension_survives_the_v1_record() -> None:
    partial = {k: v for k, v in TRACED_EVENT.items() if k not in {"tb:certificates", "tb:reportingPlatform"}}
    partial["tb:sourceBusiness"] = {"tb:name": "散户 王五"}
    decoded = assert_lossless(partial, TRACE_CONTEXT)
    assert decoded["trace"]["certificates"] == []
    assert decoded["trace"]["source_business"] == {"uscc": None, "name": "散户 王五"}


# --- XML extension elements ---------------------------------------------------------------------

XML_DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:demo="https://demo.tracebus.invalid/ns/"
    xmlns:tb="urn:tracebus:ns:trace:" schemaVersion="2.0" creationDate="2026-11-19T18:00:00+08:00">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2026-11-19T07:40:00.123+08:00</eventTime>
      <recordTime>2026-11-19T07:41:00Z</recordTime>
      <eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
      <eventID>urn:uuid:6f0b6a1e-0000-4000-8000-000000000201</eventID>
      <errorDeclaration>
        <declarationTime>2026-11-19T09:00:00+08:00</declarationTime>
        <reason>urn:epcglobal:cbv:er:incorrect_data</reason>
        <correctiveEventIDs>
          <correctiveEventID>urn:uuid:6f0b6a1e-0000-4000-8000-000000000202</correctiveEventID>
        </correctiveEventIDs>
        <demo:approvedBy>质检员 张三</demo:approvedBy>
      </errorDeclaration>
      <certificationInfo>https://cert.example.cn/organic/1</certificationInfo>
      <certificationInfo>https://cert.example.cn/gap/2</certificationInfo>
      <epcList>
        <epc>urn:epc:id:sgtin:6905555.000871.77</epc>
        <epc>urn:epc:id:sgtin:6905555.000871.78</epc>
      </epcList>
      <action>ADD</action>
      <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
      <disposition>urn:epcglobal:cbv:disp:active</disposition>
      <persistentDisposition>
        <set>urn:epcglobal:cbv:disp:completeness_verified</set>
        <unset>urn:epcglobal:cbv:disp:mismatch_class</unset>
      </persistentDisposition>
      <readPoint><id>urn:epc:id:sgln:6905555.00003.0</id><demo:gate demo:side="东">3 号门</demo:gate></readPoint>
      <bizLocation><id>urn:epc:id:sgln:6905555.00003.0</id><demo:building>冷库</demo:building></bizLocation>
      <bizTransactionList>
        <bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epcglobal:cbv:bt:6905555000002:88</bizTransaction>
        <bizTransaction>urn:epcglobal:cbv:bt:6905555000002:89</bizTransaction>
      </bizTransactionList>
      <sourceList>
        <source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:6905555.00000</source>
      </sourceList>
      <destinationList>
        <destination type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:6901234.00001.0</destination>
      </destinationList>
      <sensorElementList>
        <sensorElement>
          <sensorMetadata time="2026-11-19T07:39:00+08:00" deviceID="urn:epc:id:giai:6905555.1"
              demo:calibrated="2026-01-01"/>
          <sensorReport type="Temperature" value="-18.5" uom="CEL" demo:probe="A"/>
          <sensorReport type="RelativeHumidity" minValue="40" maxValue="60.5" uom="P1"/>
          <sensorReport type="Temperature" booleanValue="true" exception="ALARM_CONDITION"/>
          <demo:cabinet>2</demo:cabinet>
        </sensorElement>
      </sensorElementList>
      <ilmd>
        <demo:bestBefore>2027-05-19</demo:bestBefore>
        <demo:origin>
          <demo:province>浙江</demo:province>
          <demo:county code="330109">萧山区</demo:county>
        </demo:origin>
      </ilmd>
      <demo:plot>萧山区 3 号基地</demo:plot>
      <demo:tags><demo:tag>有机</demo:tag><demo:tag>冷链</demo:tag></demo:tags>
      <demo:empty/>
      <tb:reportingDepartment>MARA</tb:reportingDepartment>
      <tb:traceCode>33010920261119000187</tb:traceCode>
      <tb:sourceBusiness><tb:uscc>92330109MA2B00043H</tb:uscc><tb:name>萧山区某生猪养殖场</tb:name></tb:sourceBusiness>
      <tb:certificates><tb:type>animal-quarantine</tb:type><tb:number>3301-2026-000187</tb:number></tb:certificates>
      <tb:certificates><tb:type>origin</tb:type><tb:number>OR-1</tb:number></tb:certificates>
    </ObjectEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>
""".encode()


def test_xml_document_with_extension_elements_survives_the_v1_record() -> None:
    document = parse_document(XML_DOCUMENT, "application/xml")
    (event,) = document.events
    # the parse gave what this test means to carry: attributes, nesting, repeats, an empty element
    assert event["readPoint"]["demo:gate"] == {"demo:side": "东", "#text": "3 号门"}
    assert event["ilmd"]["demo:origin"]["demo:county"] == {"code": "330109", "#text": "萧山区"}
    assert event["demo:tags"] == {"demo:tag": ["有机", "冷链"]}
    assert event["demo:empty"] == ""
    assert event["sensorElementList"][0]["sensorReport"][1]["minValue"] == 40
    decoded = assert_lossless(event, document.context)
    record_event = decoded["event"]
    assert record_event["extensions"]["demo:plot"] == '"萧山区 3 号基地"'
    assert record_event["read_point"]["extensions"] == {"demo:gate": '{"demo:side":"东","#text":"3 号门"}'}
    assert record_event["error_declaration"]["extensions"] == {"demo:approvedBy": '"质检员 张三"'}
    assert record_event["sensor_element_list"][0]["extensions"] == {"demo:cabinet": '"2"'}
    assert decoded["trace"]["reporting_department"] == "MARA"
    assert len(decoded["trace"]["certificates"]) == 2


def test_xml_and_json_forms_of_the_same_event_give_the_same_record() -> None:
    document = parse_document(XML_DOCUMENT, "application/xml")
    (event,) = document.events
    _, from_xml = round_trip(event, document.context)
    json_context = [EPCIS_CONTEXT, *document.context]
    rebuilt = from_record_event(from_xml["event"], from_xml["trace"])
    _, from_json = round_trip(rebuilt, json_context)
    assert from_json["event"] == from_xml["event"]
    assert from_json["trace"] == from_xml["trace"]
    assert event_hash(rebuilt, json_context) == event_hash(event, document.context)
