"""schemas.epcis.hash: the CBV 2.0 event hash ID, against the reference implementation's vectors.

The vectors are read in place from the workplace's ``shared/vectors/epcis-event-hash``
folder (never copied into the repository); those tests skip when it is absent. The
invariance tests build their own events and always run.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ops.commands.epcis import epcis
from schemas.epcis import parse_document
from schemas.epcis.hash import document_hashes, document_prehashes, event_hash, prehash
from tests.vectors import HASH_VECTORS, VECTORS, require_vectors

CONTENT_TYPES = {".jsonld": "application/ld+json", ".xml": "application/xml"}

CORRUPT_PREHASH_LINES = {("epcisDocWithAllGS1Keys", 0)}
"""Vector lines whose pre-hash text is garbled (interleaved fragments, e.g. ``epc=httpspc=…``):
the line does not hash to its own ``.hashes`` line. The ``.hashes`` line is still checked."""


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def _cases() -> list[Any]:
    """One case per (input file, event): ``(stem, suffix, index)``."""
    if not HASH_VECTORS.is_dir():
        return [pytest.param(None, None, 0, id="no-vectors")]
    cases = []
    for prehashes in sorted(HASH_VECTORS.glob("*.prehashes")):
        stem = prehashes.stem
        for suffix in CONTENT_TYPES:
            if (HASH_VECTORS / f"{stem}{suffix}").exists():
                for index in range(len(_lines(prehashes))):
                    marks = []
                    if (stem, index) in CORRUPT_PREHASH_LINES:
                        marks.append(pytest.mark.xfail(strict=True, reason="garbled vector line"))
                    cases.append(pytest.param(stem, suffix, index, id=f"{stem}{suffix}#{index}", marks=marks))
    return cases


def _hash_cases() -> list[Any]:
    return [pytest.param(*case.values, id=case.id) for case in _cases()]


def _parse(stem: str, suffix: str) -> Any:
    return parse_document((HASH_VECTORS / f"{stem}{suffix}").read_bytes(), CONTENT_TYPES[suffix])


@pytest.fixture
def vectors() -> Path:
    return require_vectors(HASH_VECTORS)


# --- the vectors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("stem", "suffix", "index"), _cases())
def test_prehash_reproduces_vector_line(vectors: Path, stem: str, suffix: str, index: int) -> None:
    expected = _lines(vectors / f"{stem}.prehashes")[index]
    assert document_prehashes(_parse(stem, suffix))[index] == expected


@pytest.mark.parametrize(("stem", "suffix", "index"), _hash_cases())
def test_hash_reproduces_vector_line(vectors: Path, stem: str, suffix: str, index: int) -> None:
    expected = _lines(vectors / f"{stem}.hashes")[index]
    assert document_hashes(_parse(stem, suffix))[index] == expected


def test_every_vector_file_is_covered_and_counts_match(vectors: Path) -> None:
    for hashes in vectors.glob("*.hashes"):
        assert hashes.with_suffix(".prehashes").exists()
        count = len(_lines(hashes))
        assert len(_lines(hashes.with_suffix(".prehashes"))) == count
        for suffix in CONTENT_TYPES:
            if hashes.with_suffix(suffix).exists():
                assert len(document_hashes(_parse(hashes.stem, suffix))) == count


def test_vector_prehashes_hash_to_their_hashes_except_the_garbled_line(vectors: Path) -> None:
    inconsistent = set()
    for prehashes in vectors.glob("*.prehashes"):
        hashes = _lines(prehashes.with_suffix(".hashes"))
        for index, line in enumerate(_lines(prehashes)):
            if f"ni:///sha-256;{hashlib.sha256(line.encode()).hexdigest()}?ver=CBV2.0" != hashes[index]:
                inconsistent.add((prehashes.stem, index))
    assert inconsistent == CORRUPT_PREHASH_LINES


@pytest.mark.parametrize(
    "stem", ["ReferenceEventHashAlgorithm", "epcisDocWithShippingAndTransportingEvent", "epcisDocWithVariousEventTypes"]
)
def test_jsonld_and_xml_forms_hash_the_same(vectors: Path, stem: str) -> None:
    assert document_hashes(_parse(stem, ".jsonld")) == document_hashes(_parse(stem, ".xml"))


def test_event_hash_agrees_with_document_hashes(vectors: Path) -> None:
    doc = _parse("epcisDocWithVariousEventTypes", ".jsonld")
    assert [event_hash(e, doc.context) for e in doc.events] == document_hashes(doc)
    assert [prehash(e, doc.context) for e in doc.events] == document_prehashes(doc)


# --- invariance and sensitivity -------------------------------------------------------------------

CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"example": "https://ns.example.com/epcis/"},
]


def _event() -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2022-02-16T20:33:31.116-06:00",
        "eventTimeZoneOffset": "-06:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:4012345.011111.4444", "quantity": 10.5, "uom": "KGM"},
            {"epcClass": "urn:epc:idpat:sgtin:4012345.066666.*", "quantity": 220},
        ],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
        "bizTransactionList": [
            {"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"},
            {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1152"},
        ],
        "sourceList": [{"type": "possessing_party", "source": "urn:epc:id:pgln:0614141.00000"}],
        "destinationList": [
            {"type": "owning_party", "destination": "urn:epc:id:pgln:4012345.00000"},
            {"type": "location", "destination": "urn:epc:id:sgln:4012345.00012.0"},
        ],
        "sensorElementList": [
            {
                "sensorMetadata": {"time": "2022-02-16T20:00:00-06:00", "deviceID": "urn:epc:id:giai:4000001.111"},
                "sensorReport": [
                    {"type": "Temperature", "value": 26, "uom": "CEL"},
                    {"type": "AbsoluteHumidity", "value": 12.1, "uom": "A93"},
                ],
            }
        ],
        "example:myField": {"example:sub": ["3", "1"], "example:other": "x"},
    }


def _reverse(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse(v) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [_reverse(v) for v in reversed(value)]
    return value


BASE = event_hash(_event(), CONTEXT)


def test_hash_format() -> None:
    assert BASE.startswith("ni:///sha-256;")
    assert BASE.endswith("?ver=CBV2.0")
    digest = BASE[len("ni:///sha-256;") : -len("?ver=CBV2.0")]
    assert len(digest) == 64
    assert digest == digest.lower()
    assert int(digest, 16) >= 0


def test_unchanged_when_keys_and_list_items_are_reordered() -> None:
    assert event_hash(_reverse(_event()), CONTEXT) == BASE


def test_unchanged_by_the_extension_prefix_name() -> None:
    event = _event()
    event["ex:myField"] = {"ex:sub": ["3", "1"], "ex:other": "x"}
    del event["example:myField"]
    assert event_hash(event, [CONTEXT[0], {"ex": "https://ns.example.com/epcis/"}]) == BASE


@pytest.mark.parametrize(
    ("field", "spelling"),
    [
        ("bizStep", "urn:epcglobal:cbv:bizstep:shipping"),
        ("bizStep", "cbv:BizStep-shipping"),
        ("bizStep", "https://ref.gs1.org/cbv/BizStep-shipping"),
        ("bizStep", "  shipping "),
        ("disposition", "urn:epcglobal:cbv:disp:in_transit"),
        ("disposition", "cbv:Disp-in_transit"),
        ("disposition", "https://ref.gs1.org/cbv/Disp-in_transit"),
    ],
)
def test_unchanged_by_cbv_spelling(field: str, spelling: str) -> None:
    event = _event()
    event[field] = spelling
    assert event_hash(event, CONTEXT) == BASE


def test_unchanged_by_cbv_spelling_of_types() -> None:
    event = _event()
    event["bizTransactionList"][0]["type"] = "urn:epcglobal:cbv:btt:po"
    event["bizTransactionList"][1]["type"] = "https://ref.gs1.org/cbv/BTT-desadv"
    event["sourceList"][0]["type"] = "cbv:SDT-possessing_party"
    event["destinationList"][0]["type"] = "urn:epcglobal:cbv:sdt:owning_party"
    event["sensorElementList"][0]["sensorReport"][0]["type"] = "gs1:Temperature"
    event["sensorElementList"][0]["sensorReport"][1]["type"] = "https://gs1.org/voc/AbsoluteHumidity"
    assert event_hash(event, CONTEXT) == BASE


@pytest.mark.parametrize(
    "event_time",
    ["2022-02-17T02:33:31.116Z", "2022-02-17T10:33:31.116+08:00", "2022-02-17T02:33:31.116000+00:00"],
)
def test_unchanged_by_the_offset_of_event_time(event_time: str) -> None:
    event = _event()
    event["eventTime"] = event_time
    assert event_hash(event, CONTEXT) == BASE


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eventID", "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"),
        ("eventID", "ni:///sha-256;00?ver=CBV2.0"),
        ("recordTime", "2022-02-17T03:00:00.000Z"),
        ("errorDeclaration", {"declarationTime": "2022-02-18T00:00:00Z", "reason": "incorrect_data"}),
        (
            "errorDeclaration",
            {"declarationTime": "2022-03-01T00:00:00Z", "reason": "did_not_occur", "correctiveEventIDs": ["urn:x"]},
        ),
    ],
)
def test_unchanged_by_fields_cbv_leaves_out(field: str, value: Any) -> None:
    event = _event()
    event[field] = value
    assert event_hash(event, CONTEXT) == BASE


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.update(bizStep="receiving"),
        lambda e: e.update(disposition="in_progress"),
        lambda e: e["epcList"].__setitem__(0, "urn:epc:id:sgtin:0614141.107346.2019"),
        lambda e: e["quantityList"][0].update(quantity=10.25),
        lambda e: e["quantityList"][1].update(uom="KGM"),
        lambda e: e.update(eventTime="2022-02-16T20:33:31.117-06:00"),
        lambda e: e.update(eventTimeZoneOffset="+00:00"),
        lambda e: e["readPoint"].update(id="urn:epc:id:sgln:0614141.07346.1235"),
        lambda e: e["sourceList"][0].update(type="owning_party"),
        lambda e: e["sensorElementList"][0]["sensorReport"][0].update(value=26.5),
        lambda e: e["example:myField"].update({"example:other": "y"}),
        lambda e: e.update({"example:added": "1"}),
        lambda e: e.pop("disposition"),
    ],
)
def test_changed_by_a_meaningful_change(change: Any) -> None:
    event = _event()
    change(event)
    assert event_hash(event, CONTEXT) != BASE


def test_an_error_declaration_correction_hashes_like_the_original() -> None:
    original = _event()
    declared = copy.deepcopy(original)
    declared["errorDeclaration"] = {"declarationTime": "2022-02-18T00:00:00Z", "reason": "incorrect_data"}
    declared["eventID"] = "urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"
    assert event_hash(declared, CONTEXT) == event_hash(original, CONTEXT)


# --- value rules ----------------------------------------------------------------------------------


def _prehash_of(**fields: Any) -> str:
    return prehash({"type": "ObjectEvent", **fields}, CONTEXT)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("2023-02-02T11:04:03.1415Z", "2023-02-02T11:04:03.142Z"),
        ("2023-02-02T11:04:03.1414Z", "2023-02-02T11:04:03.141Z"),
        ("2023-02-02T11:04:03.14149999Z", "2023-02-02T11:04:03.141Z"),
        ("2023-12-31T23:59:59.9995Z", "2024-01-01T00:00:00.000Z"),
        ("2023-02-02T11:04:03Z", "2023-02-02T11:04:03.000Z"),
        ("2023-02-02T11:04:03.1Z", "2023-02-02T11:04:03.100Z"),
        ("2023-02-02T12:04:03.5+01:00", "2023-02-02T11:04:03.500Z"),
        ("2023-02-01T23:34:03-11:30", "2023-02-02T11:04:03.000Z"),
        ("not a time", "not a time"),
    ],
)
def test_times_are_utc_milliseconds_rounded_half_up(written: str, canonical: str) -> None:
    assert _prehash_of(eventTime=written) == f"eventType=ObjectEventeventTime={canonical}"


@pytest.mark.parametrize(
    ("quantity", "text"),
    [
        (1, "1"),
        (1.0, "1"),
        (0.3434, "0.3434"),
        (10.50, "10.5"),
        ("5.50", "5.5"),
        (1e-7, "0.0000001"),
        (2e20, "2" + "0" * 20),
    ],
)
def test_quantities_have_no_trailing_zeros(quantity: Any, text: str) -> None:
    result = _prehash_of(quantityList=[{"epcClass": "urn:x:class", "quantity": quantity}])
    assert result.endswith(f"quantity={text}")


def test_extension_and_ilmd_layout() -> None:
    text = _prehash_of(
        ilmd={"example:b": "2", "example:a": {"example:c": [" 3 ", 1.50]}, "cbvmda:lotNumber": "L1"},
        **{"example:flag": True, "https://other.example.org/ns#thing": "v", "example:empty": ""},
    )
    ns = "{https://ns.example.com/epcis/}"
    assert text == (
        "eventType=ObjectEvent"
        f"ilmd{ns}a{ns}c=1.5{ns}c=3{ns}b=2{{urn:epcglobal:cbv:mda:}}lotNumber=L1"
        f"{ns}empty{ns}flag=true{{https://other.example.org/ns#}}thing=v"
    )


def test_persistent_disposition_and_locations() -> None:
    text = _prehash_of(
        persistentDisposition={"unset": ["recalled"], "set": ["urn:epcglobal:cbv:disp:damaged", "active"]},
        bizLocation={"id": "geo:1,2", "example:room": "7"},
    )
    assert text == (
        "eventType=ObjectEventpersistentDisposition"
        "set=https://ref.gs1.org/cbv/Disp-activeset=https://ref.gs1.org/cbv/Disp-damaged"
        "unset=https://ref.gs1.org/cbv/Disp-recalled"
        "bizLocationid=geo:1,2{https://ns.example.com/epcis/}room=7"
    )


def _context_terms(context: dict[str, Any], *path: str) -> dict[str, str]:
    node: Any = context
    for step in path:
        node = node[step]
    node = node[0] if isinstance(node, list) else node
    prefixes = {"cbv:": "https://ref.gs1.org/cbv/", "gs1:": "https://gs1.org/voc/"}
    return {term: prefixes[curie[:4]] + curie[4:] for term, curie in node.items() if not term.startswith("@")}


def test_built_in_vocabularies_match_the_official_context() -> None:
    path = require_vectors(VECTORS / "epcis-examples" / "epcis-context.jsonld")
    official = json.loads(path.read_text(encoding="utf-8"))["@context"]
    report = ("sensorElementList", "@context", "sensorReport", "@context")
    vocabularies: list[tuple[dict[str, str], Any]] = [
        (_context_terms(official, "bizStep", "@context"), lambda t: {"bizStep": t}),
        (_context_terms(official, "disposition", "@context"), lambda t: {"disposition": t}),
        (_context_terms(official, "persistentDisposition", "@context"), lambda t: {"disposition": t}),
        (
            _context_terms(official, "bizTransactionList", "@context", "type", "@context"),
            lambda t: {"bizTransactionList": [{"type": t, "bizTransaction": "urn:x"}]},
        ),
        (
            _context_terms(official, "sourceList", "@context", "type", "@context"),
            lambda t: {"sourceList": [{"type": t, "source": "urn:x"}]},
        ),
        (
            _context_terms(official, *report, "type", "@context"),
            lambda t: {"sensorElementList": [{"sensorReport": [{"type": t}]}]},
        ),
        (
            _context_terms(official, *report, "exception", "@context"),
            lambda t: {"sensorElementList": [{"sensorReport": [{"exception": t}]}]},
        ),
        (
            _context_terms(official, *report, "component", "@context"),
            lambda t: {"sensorElementList": [{"sensorReport": [{"component": t}]}]},
        ),
    ]
    for terms, event in vocabularies:
        assert terms
        for term, uri in terms.items():
            assert f"={uri}" in _prehash_of(**event(term))
            assert _prehash_of(**event(uri)) == _prehash_of(**event(term))


def test_curies_in_identifiers_are_expanded() -> None:
    text = _prehash_of(readPoint={"id": "example:dock-1"}, bizStep="example:step")
    assert "readPointid=https://ns.example.com/epcis/dock-1" in text
    assert "bizStep=https://ns.example.com/epcis/step" in text


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_prints_one_line_per_event(vectors: Path) -> None:
    path = vectors / "epcisDocWithShippingAndTransportingEvent.xml"
    runner = CliRunner()
    hashes = runner.invoke(epcis, ["hash", str(path)])
    assert hashes.exit_code == 0, hashes.output
    assert hashes.output.splitlines() == _lines(vectors / "epcisDocWithShippingAndTransportingEvent.hashes")
    pre = runner.invoke(epcis, ["hash", "--prehash", str(path)])
    assert pre.exit_code == 0, pre.output
    assert pre.output.splitlines() == _lines(vectors / "epcisDocWithShippingAndTransportingEvent.prehashes")


def test_cli_reads_stdin_and_reports_bad_documents() -> None:
    runner = CliRunner()
    body = b'{"type": "EPCISDocument", "epcisBody": {"eventList": [{"type": "ObjectEvent", "action": "OBSERVE"}]}}'
    result = runner.invoke(epcis, ["hash", "--prehash", "-"], input=body)
    assert result.exit_code == 0, result.output
    assert result.output == "eventType=ObjectEventaction=OBSERVE\n"
    bad = runner.invoke(epcis, ["hash", "-"], input=b"<nope")
    assert bad.exit_code == 1
    assert "not well-formed" in bad.output
    missing = runner.invoke(epcis, ["hash", "/nonexistent/doc.xml"])
    assert missing.exit_code == 1
    assert "cannot read" in missing.output
