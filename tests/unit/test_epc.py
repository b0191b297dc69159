"""EPC URN ↔ GS1 Digital Link (schemas/identifiers/epc.py) and ``tracebus id convert``.

Expected strings come from ../shared/reference/domain.md §3, from the CBV 2.0
reference pre-hashes (read in place from ../shared/vectors, never copied), or
are worked out by hand beside the case; never from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ops.commands.id_convert import convert
from schemas.identifiers.epc import (
    CompanyPrefixTable,
    canonical_epc,
    digital_link_to_urn,
    is_epc_urn,
    urn_to_digital_link,
)
from schemas.identifiers.errors import IdentifierError
from tests.vectors import SKIP_REASON, VECTORS

OPS = Path(__file__).resolve().parents[2] / "ops"
HASH_VECTORS = VECTORS / "epcis-event-hash"
TABLE = CompanyPrefixTable({"690": 7}, ["0614141", "234567", "4012345", "4054739"])

DOMAIN_EXAMPLES = [  # domain.md §3
    ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
    ("urn:epc:id:sgln:0614141.07346.1234", "https://id.gs1.org/414/0614141073467/254/1234"),
    ("urn:epc:id:sscc:234567.18901234567", "https://id.gs1.org/00/123456789012345675"),
    ("urn:epc:class:lgtin:4012345.012345.998877", "https://id.gs1.org/01/04012345123456/10/998877"),
]
# Every scheme: the pairs of epcisDocWithAllGS1Keys (their pre-hash, repaired, matches the reference hash).
EVERY_SCHEME = [
    ("urn:epc:id:sgtin:4012345.012345.12", "https://id.gs1.org/01/04012345123456/21/12"),
    ("urn:epc:id:sscc:4012345.0000000333", "https://id.gs1.org/00/040123450000003338"),
    ("urn:epc:id:sgln:4012345.00011.987", "https://id.gs1.org/414/4012345000115/254/987"),
    ("urn:epc:id:sgln:4012345.00011.0", "https://id.gs1.org/414/4012345000115"),  # extension 0 = none
    ("urn:epc:id:pgln:4012345.00000", "https://id.gs1.org/417/4012345000009"),
    ("urn:epc:id:grai:4012345.66666.87", "https://id.gs1.org/8003/0401234566666387"),
    ("urn:epc:id:giai:4012345.AAbb", "https://id.gs1.org/8004/4012345AAbb"),
    ("urn:epc:id:gsrn:4012345.9876540000", "https://id.gs1.org/8018/401234598765400000"),
    ("urn:epc:id:gsrnp:4012345.0000098765", "https://id.gs1.org/8017/401234500000987658"),
    ("urn:epc:id:gdti:4012345.55555.98", "https://id.gs1.org/253/401234555555498"),
    ("urn:epc:id:cpi:4012345.ABC.123", "https://id.gs1.org/8010/4012345ABC/8011/123"),
    ("urn:epc:id:sgcn:4012345.99999.44", "https://id.gs1.org/255/401234599999044"),
    ("urn:epc:id:ginc:4012345.333", "https://id.gs1.org/401/4012345333"),
    ("urn:epc:id:gsin:4012345.999987654", "https://id.gs1.org/402/40123459999876541"),
    ("urn:epc:id:itip:4012345.012345.01.02.999", "https://id.gs1.org/8006/040123451234560102/21/999"),
    ("urn:epc:id:upui:4012345.012345.AB12", "https://id.gs1.org/01/04012345123456/235/AB12"),
    ("urn:epc:class:lgtin:4054739.099914.20160711", "https://id.gs1.org/01/04054739999148/10/20160711"),
    ("urn:epc:idpat:sgtin:4054739.099914.*", "https://id.gs1.org/01/04054739999148"),
    ("urn:epc:idpat:upui:4054739.099914.*", "https://id.gs1.org/01/04054739999148"),
    ("urn:epc:idpat:grai:4012345.66666.*", "https://id.gs1.org/8003/04012345666663"),
    ("urn:epc:idpat:gdti:4012345.55555.*", "https://id.gs1.org/253/4012345555554"),
    ("urn:epc:idpat:sgcn:4012345.99999.*", "https://id.gs1.org/255/4012345999990"),
    ("urn:epc:idpat:cpi:4012345.ABC.*", "https://id.gs1.org/8010/4012345ABC"),
    ("urn:epc:idpat:itip:4012345.012345.01.02.*", "https://id.gs1.org/8006/040123451234560102"),
    # hand: 0·3+6·1+9·3+0·1+1·3+2·1+3·3+4·1+1·3+2·1+3·3+4·1+5·3 = 84 → GTIN 06901234123456
    ("urn:epc:class:lgtin:6901234.012345.SL20261120A", "https://id.gs1.org/01/06901234123456/10/SL20261120A"),
]
ROUND_TRIP_ONLY_ONE_WAY = {"urn:epc:idpat:upui:4054739.099914.*"}  # its Digital Link reads back as the sgtin pattern


@pytest.mark.parametrize(("urn", "link"), DOMAIN_EXAMPLES + EVERY_SCHEME)
def test_urn_to_digital_link_and_back(urn: str, link: str) -> None:
    assert urn_to_digital_link(urn) == link
    assert canonical_epc(urn) == link
    assert is_epc_urn(urn)
    if urn not in ROUND_TRIP_ONLY_ONE_WAY:
        assert digital_link_to_urn(link, TABLE) == urn


def test_other_base() -> None:
    assert urn_to_digital_link(DOMAIN_EXAMPLES[0][0], base="https://id.example.cn/r/") == (
        "https://id.example.cn/r/01/10614141073464/21/2017"
    )
    with pytest.raises(IdentifierError, match="base must be"):
        urn_to_digital_link(DOMAIN_EXAMPLES[0][0], base="ftp://x")


# ---------------------------------------------------------------- percent-encoding


@pytest.mark.parametrize(
    ("urn", "link", "back"),
    [  # URN escapes (Tag Data Standard) → Digital Link escapes (everything but A-Z a-z 0-9 - . _)
        (
            "urn:epc:id:sgtin:0614141.107346.A%2FB%25C%22D%26E%3CF%3EG%3F",
            "https://id.gs1.org/01/10614141073464/21/A%2FB%25C%22D%26E%3CF%3EG%3F",
            None,
        ),
        (
            "urn:epc:id:sgtin:0614141.107346.a!'()*+,:;=b",
            "https://id.gs1.org/01/10614141073464/21/a%21%27%28%29%2A%2B%2C%3A%3B%3Db",
            None,
        ),
        ("urn:epc:id:sgtin:0614141.107346.x-y_z.1", "https://id.gs1.org/01/10614141073464/21/x-y_z.1", None),
        # lower-case and unnecessary escapes are decoded, then written canonically
        (
            "urn:epc:id:sgtin:0614141.107346.%2f%41",
            "https://id.gs1.org/01/10614141073464/21/%2FA",
            "urn:epc:id:sgtin:0614141.107346.%2FA",
        ),
        ("urn:epc:id:sgln:0614141.07346.a%2Fb", "https://id.gs1.org/414/0614141073467/254/a%2Fb", None),
        ("urn:epc:id:giai:0614141.A%2F1", "https://id.gs1.org/8004/0614141A%2F1", None),
        ("urn:epc:id:cpi:0614141.5PQ7%2FZ43.12345", "https://id.gs1.org/8010/06141415PQ7%2FZ43/8011/12345", None),
        ("urn:epc:id:cpi:0614141.AB%23-C.1", "https://id.gs1.org/8010/0614141AB%23-C/8011/1", None),
    ],
)
def test_percent_encoding(urn: str, link: str, back: str | None) -> None:
    assert urn_to_digital_link(urn) == link
    assert digital_link_to_urn(link, TABLE) == (back or urn)


def test_unescaped_sub_delimiters_in_a_digital_link_are_encoded_canonically() -> None:
    assert canonical_epc("https://example.com/01/10614141073464/21/a!b") == (
        "https://id.gs1.org/01/10614141073464/21/a%21b"
    )


# ---------------------------------------------------------------- patterns


@pytest.mark.parametrize(
    "urn",
    [
        "urn:epc:idpat:sgtin:0614141.*.*",
        "urn:epc:idpat:sgtin:*.*.*",
        "urn:epc:idpat:sscc:0614141.*",
        "urn:epc:idpat:sgln:0614141.07346.*",  # /414/<gln> already means extension 0
        "urn:epc:idpat:giai:0614141.*",
        "urn:epc:idpat:itip:0614141.107346.*.*.*",
    ],
)
def test_patterns_without_a_digital_link_form(urn: str) -> None:
    assert is_epc_urn(urn)
    assert canonical_epc(urn) == urn
    with pytest.raises(IdentifierError) as err:
        urn_to_digital_link(urn)
    assert err.value.check == "pattern"
    assert "has no GS1 Digital Link form" in str(err.value)


def test_a_pattern_without_wildcards_is_the_epc_it_matches() -> None:
    assert urn_to_digital_link("urn:epc:idpat:sgtin:0614141.107346.2017") == DOMAIN_EXAMPLES[0][1]


# ---------------------------------------------------------------- Digital Link inputs


@pytest.mark.parametrize(
    ("link", "canonical", "urn"),
    [
        ("https://id.gs1.de/01/10614141073464/21/2017", DOMAIN_EXAMPLES[0][1], DOMAIN_EXAMPLES[0][0]),
        ("HTTP://Example.COM/shop/01/10614141073464/21/2017/?x=1#f", DOMAIN_EXAMPLES[0][1], DOMAIN_EXAMPLES[0][0]),
        ("https://example.com/gtin/10614141073464/ser/2017", DOMAIN_EXAMPLES[0][1], DOMAIN_EXAMPLES[0][0]),
        (  # the most fine-grained level wins: serial over lot, variant dropped
            "https://id.gs1.org/01/10614141073464/22/V1/10/L7/21/2017",
            DOMAIN_EXAMPLES[0][1],
            DOMAIN_EXAMPLES[0][0],
        ),
        ("https://id.gs1.org/01/10614141073464/22/V1", "https://id.gs1.org/01/10614141073464", None),
        # GTIN-13 and GTIN-12 are padded to 14 digits
        ("https://id.gs1.org/01/4012345123456/10/998877", DOMAIN_EXAMPLES[3][1], DOMAIN_EXAMPLES[3][0]),
        ("https://id.gs1.org/01/614141073467", "https://id.gs1.org/01/00614141073467", None),
        ("https://id.gs1.org/8018/401234598765400000/8019/12", "https://id.gs1.org/8018/401234598765400000", None),
        ("https://id.gs1.org/8006/040123451234560102/10/L1", "https://id.gs1.org/8006/040123451234560102/10/L1", None),
    ],
)
def test_digital_link_forms(link: str, canonical: str, urn: str | None) -> None:
    assert canonical_epc(link) == canonical
    if urn is not None:
        assert digital_link_to_urn(link, TABLE) == urn


def test_gtin_alone_reads_back_as_the_sgtin_pattern() -> None:
    assert digital_link_to_urn("https://id.gs1.org/01/00614141073467", TABLE) == "urn:epc:idpat:sgtin:0614141.007346.*"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("urn", "kind", "check", "position", "text"),
    [
        ("urn:epc:id:sgtin:0614141.107346", "sgtin", "syntax", 18, "expected 3 dot-separated components, got 2"),
        ("urn:epc:id:sgtin:0614141.10734.1", "sgtin", "length", 26, "must have 13 digits together, got 12"),
        ("urn:epc:id:sgtin:06141A1.107346.1", "sgtin", "alphabet", 23, "must be digits, found 'A'"),
        ("urn:epc:id:sgtin:12345.1234567.1", "sgtin", "length", 18, "must have 6 to 12 digits, got 5"),
        ("urn:epc:id:sgtin:0614141.107346.a#b", "sgtin", "alphabet", 34, "serial may not contain '#'"),
        ("urn:epc:id:sgtin:0614141.107346.a%2", "sgtin", "alphabet", 34, "serial may not contain '%'"),
        ("urn:epc:id:sgtin:0614141.107346.%E4%B8%AD", "sgtin", "alphabet", 33, "outside the GS1 character set"),
        ("urn:epc:id:sgtin:0614141.107346." + "1" * 21, "sgtin", "length", 33, "at most 20 characters, got 21"),
        ("urn:epc:id:sgtin:0614141.107346.", "sgtin", "length", 33, "serial is empty"),
        ("urn:epc:id:sscc:0614141.123456789", "sscc", "length", 25, "must have 17 digits together, got 16"),
        ("urn:epc:id:cpi:0614141.ab.1", "cpi", "alphabet", 24, "may not contain 'a'"),
        ("urn:epc:id:cpi:0614141.AB.01", "cpi", "length", 27, "without leading zeros"),
        ("urn:epc:id:itip:0614141.107346.1.02.9", "itip", "length", 32, "piece number must have 2 digits"),
        ("urn:epc:id:giai:0614141." + "A" * 24, "giai", "length", 25, "at most 23 characters, got 24"),
        ("urn:epc:id:sgcn:0614141.12345.1A", "sgcn", "alphabet", 32, "serial must be digits"),
        ("urn:epc:idpat:sgtin:*.107346.1", "sgtin", "pattern", 21, "may only be followed by wildcards"),
        ("urn:epc:id:usdod:CAGE1.1", "usdod", "scheme", None, "not a GS1 EPC scheme handled here"),
        ("urn:epc:class:sgtin:0614141.107346.1", "sgtin", "scheme", None, "not a GS1 EPC scheme handled here"),
        ("urn:epc:tag:sgtin-96:3.0614141.107346.1", "epc", "syntax", None, "not an EPC URN"),
        ("urn:isbn:9780262033848", "epc", "syntax", None, "not an EPC URN"),
    ],
)
def test_malformed_urns(urn: str, kind: str, check: str, position: int | None, text: str) -> None:
    with pytest.raises(IdentifierError) as err:
        urn_to_digital_link(urn)
    assert (err.value.kind, err.value.check, err.value.position) == (kind, check, position)
    assert text in str(err.value)
    assert not is_epc_urn(urn)
    assert canonical_epc(urn) == urn


def test_unknown_prefix_length_names_the_key() -> None:
    table = CompanyPrefixTable(prefixes=["0614141"], source="ops/gs1-company-prefixes.yaml")
    with pytest.raises(IdentifierError) as err:
        digital_link_to_urn("https://id.gs1.org/00/123456789012345675", table)
    assert (err.value.kind, err.value.check) == ("sscc", "company-prefix")
    assert "GS1 Company Prefix length unknown for SSCC 123456789012345675" in str(err.value)
    assert "ops/gs1-company-prefixes.yaml" in str(err.value)
    with pytest.raises(IdentifierError, match="length unknown for GIAI 4012345AAbb"):
        digital_link_to_urn("https://id.gs1.org/8004/4012345AAbb", table)


@pytest.mark.parametrize(
    ("link", "kind", "check", "text"),
    [
        ("https://id.gs1.org/01/10614141073465/21/2017", "gtin", "check-digit", "expected check digit 4, found 5"),
        ("https://id.gs1.org/00/123456789012345670", "sscc", "check-digit", "expected check digit 5, found 0"),
        ("https://id.gs1.org/414/0614141073460", "gln", "check-digit", "expected check digit 7, found 0"),
        ("https://id.gs1.org/8003/1401234566666387", "grai", "syntax", "must begin with 14 digits starting with 0"),
        ("https://id.gs1.org/01/10614141073464/21/1/10/2", "gtin", "qualifier-order", "in the order 22/10/21 or 235"),
        ("https://id.gs1.org/01/10614141073464/254/1", "gtin", "qualifier", "not a key qualifier of AI 01"),
        ("https://id.gs1.org/01/10614141073464/21/" + "1" * 21, "digital-link", "length", "1 to 20 characters"),
        ("https://id.gs1.org/414/0614141073467/254/a%ZZ", "digital-link", "syntax", "malformed percent-encoding"),
        ("https://id.gs1.org/8006/040123451234560102/10/L1", "itip", "no-urn", "has no EPC URN"),
        ("https://example.com/po/12345678", "digital-link", "syntax", "not a GS1 Digital Link URI"),
    ],
)
def test_bad_digital_links(link: str, kind: str, check: str, text: str) -> None:
    with pytest.raises(IdentifierError) as err:
        digital_link_to_urn(link, TABLE)
    assert (err.value.kind, err.value.check) == (kind, check)
    assert text in str(err.value)


def test_check_digit_error_position_is_the_last_digit() -> None:
    with pytest.raises(IdentifierError) as err:
        digital_link_to_urn("https://id.gs1.org/01/10614141073465", TABLE)
    assert err.value.position == 14


# ---------------------------------------------------------------- canonical_epc


@pytest.mark.parametrize(
    "value",
    [
        "geo:47.506694,11.104301",
        "urn:epcglobal:cbv:bt:4012345000009:ASN1099",
        "http://transaction.acme.com/po/12345678",
        "https://id.gs1.org/01/10614141073465",  # bad check digit: not a key, left alone
        "https://id.gs1.org/01/",
        "urn:epc:",
        "",
        "https://",
        "urn:epc:id:sgtin:0614141.107346.%",
    ],
)
def test_canonical_epc_leaves_everything_else_alone(value: str) -> None:
    assert canonical_epc(value) == value


def test_canonical_epc_is_idempotent() -> None:
    for urn, link in EVERY_SCHEME:
        assert canonical_epc(canonical_epc(urn)) == link


# ---------------------------------------------------------------- properties

_SERIAL_CHARS = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_TDS_ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}


@settings(max_examples=150, deadline=None)
@given(
    gcp=st.text("0123456789", min_size=6, max_size=12),
    data=st.data(),
    serial=st.text(_SERIAL_CHARS, min_size=1, max_size=20),
)
def test_sgtin_round_trip(gcp: str, data: st.DataObject, serial: str) -> None:
    ref = data.draw(st.text("0123456789", min_size=13 - len(gcp), max_size=13 - len(gcp)))
    urn = f"urn:epc:id:sgtin:{gcp}.{ref}.{''.join(_TDS_ESCAPES.get(c, c) for c in serial)}"
    link = urn_to_digital_link(urn)
    assert re.fullmatch(r"https://id\.gs1\.org/01/\d{14}/21/(?:[A-Za-z0-9._-]|%[0-9A-F]{2})+", link)
    assert digital_link_to_urn(link, CompanyPrefixTable(prefixes=[gcp])) == urn


@settings(max_examples=100, deadline=None)
@given(gcp=st.text("0123456789", min_size=6, max_size=12), data=st.data())
def test_sscc_round_trip(gcp: str, data: st.DataObject) -> None:
    ref = data.draw(st.text("0123456789", min_size=17 - len(gcp), max_size=17 - len(gcp)))
    urn = f"urn:epc:id:sscc:{gcp}.{ref}"
    assert digital_link_to_urn(urn_to_digital_link(urn), CompanyPrefixTable(prefixes=[gcp])) == urn


# ---------------------------------------------------------------- the shared CBV 2.0 vectors

EVENT_TYPES = {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
# what may follow an identifier in a pre-hash string (no separators there, so an exact match needs a boundary)
_NEXT = (
    "$|epc=|epcClass=|quantity|uom=|action=|bizStep=|disposition=|persistentDisposition|readPoint|bizLocation|"
    "bizTransactionList|sourceList|destinationList|sensorElementList|sensorReport|sensorMetadata|ilmd|childEPCs|"
    r"childQuantityList|inputEPCList|inputQuantityList|outputEPCList|outputQuantityList|transformationID=|type=|\{|"
    "deviceMetadata=|rawData=|dataProcessingMethod=|bizRules="
)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def _vector_events(path: Path) -> list[tuple[list[str], dict[str, Any] | None]]:
    """Per event: every string value in it, and (JSON only) the event itself."""
    if path.suffix == ".xml":
        events = [e for e in etree.parse(str(path)).iter() if etree.QName(e).localname in EVENT_TYPES]
        texts = [[str(t).strip() for t in e.itertext()] for e in events]
        attributes = [[str(v) for d in e.iter() for v in d.attrib.values()] for e in events]
        return [(t + a, None) for t, a in zip(texts, attributes, strict=True)]
    body = json.loads(path.read_text(encoding="utf-8"))["epcisBody"]
    return [(_strings(event), event) for event in body.get("eventList") or [body["event"]]]


def _hash_vector_cases() -> list[Any]:
    if not HASH_VECTORS.is_dir():
        return [pytest.param(None, 0, marks=pytest.mark.skip(reason=SKIP_REASON))]
    return [
        pytest.param(path, index, id=f"{path.name}-{index}")
        for path in sorted([*HASH_VECTORS.glob("*.jsonld"), *HASH_VECTORS.glob("*.xml")])
        for index in range(len(_vector_events(path)))
    ]


def _simple_object_event_prehash(event: dict[str, Any]) -> str:
    """Pre-hash of an ObjectEvent with only the fields below (CBV 2.0 order): an oracle for damaged lines."""
    allowed = {"type", "eventTime", "eventTimeZoneOffset", "epcList", "quantityList", "action", "bizStep", "readPoint"}
    assert event["type"] == "ObjectEvent", "event too rich for the oracle"
    assert set(event) <= allowed, "event too rich for the oracle"
    assert all(set(q) == {"epcClass"} for q in event.get("quantityList", [])), "event too rich for the oracle"
    assert re.fullmatch(r"[a-z_]+", event["bizStep"]), "event too rich for the oracle"
    assert set(event["readPoint"]) == {"id"}, "event too rich for the oracle"
    when = datetime.fromisoformat(event["eventTime"]).astimezone(UTC)
    assert when.microsecond % 1000 == 0
    parts = [
        "eventType=ObjectEvent",
        f"eventTime={when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z",
        f"eventTimeZoneOffset={event['eventTimeZoneOffset']}",
    ]
    if "epcList" in event:
        parts += ["epcList", *sorted(f"epc={canonical_epc(e)}" for e in event["epcList"])]
    if "quantityList" in event:
        elements = sorted(f"quantityElementepcClass={canonical_epc(q['epcClass'])}" for q in event["quantityList"])
        parts += ["quantityList", *elements]
    parts += [f"action={event['action']}", f"bizStep=https://ref.gs1.org/cbv/BizStep-{event['bizStep']}"]
    return "".join([*parts, "readPoint", f"id={canonical_epc(event['readPoint']['id'])}"])


def _sha(text: str) -> str:
    return f"ni:///sha-256;{hashlib.sha256(text.encode()).hexdigest()}?ver=CBV2.0"


@pytest.mark.parametrize(("path", "index"), _hash_vector_cases())
def test_vector_identifiers_match_the_reference_prehash(path: Path, index: int) -> None:
    prehash = path.with_suffix(".prehashes").read_text(encoding="utf-8").splitlines()[index]
    expected_hash = path.with_suffix(".hashes").read_text(encoding="utf-8").splitlines()[index]
    strings, event = _vector_events(path)[index]
    identifiers = [s for s in strings if s.startswith("urn:epc:") or canonical_epc(s) != s]
    identifiers += [s for s in strings if s.startswith("https://id.gs1.org/")]
    assert all(canonical_epc(s) != s for s in strings if s.startswith("urn:epc:")), "an EPC URN was not converted"
    if _sha(prehash) == expected_hash:
        for value in identifiers:
            converted = canonical_epc(value)
            assert re.search(re.escape("=" + converted) + f"(?={_NEXT})", prehash), f"{value} → {converted}"
    else:  # the .prehashes line is damaged (epcisDocWithAllGS1Keys: fragments spliced in); .hashes is not
        assert event is not None, "damaged pre-hash line for an XML document"
        assert _sha(_simple_object_event_prehash(event)) == expected_hash


def _all_vector_and_sample_urns() -> list[str]:
    files = [f for f in (OPS / "samples").glob("*") if f.is_file()]
    if VECTORS.is_dir():
        files += [f for f in VECTORS.rglob("*") if f.suffix in {".jsonld", ".xml"}]
    found = {m for f in files for m in re.findall(r"urn:epc:(?:id|class|idpat):[^\"<>\s]+", f.read_text("utf-8"))}
    return sorted(found)


def test_vector_and_sample_urns_round_trip_with_the_sample_prefix_table() -> None:
    table = CompanyPrefixTable.from_file(OPS / "gs1-company-prefixes.yaml")
    urns = _all_vector_and_sample_urns()
    assert len(urns) > 15
    for urn in urns:
        assert digital_link_to_urn(urn_to_digital_link(urn), table) == urn


# ---------------------------------------------------------------- tracebus id convert


def test_cli_urn_to_digital_link() -> None:
    result = CliRunner().invoke(convert, [DOMAIN_EXAMPLES[0][0]])
    assert (result.exit_code, result.stdout) == (0, DOMAIN_EXAMPLES[0][1] + "\n")


def test_cli_digital_link_to_urn_with_the_default_table() -> None:
    result = CliRunner().invoke(convert, ["https://id.gs1.org/01/06901234123456/10/SL20261120A"])
    assert (result.exit_code, result.stdout) == (0, "urn:epc:class:lgtin:6901234.012345.SL20261120A\n")


def test_cli_prefix_file_option(tmp_path: Path) -> None:
    prefixes = tmp_path / "p.json"
    prefixes.write_text(json.dumps({"prefixes": ["234567"]}), encoding="utf-8")
    result = CliRunner().invoke(convert, ["--prefixes", str(prefixes), DOMAIN_EXAMPLES[2][1]])
    assert (result.exit_code, result.stdout) == (0, DOMAIN_EXAMPLES[2][0] + "\n")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["https://id.gs1.org/00/123456789012345675"], "GS1 Company Prefix length unknown for SSCC 123456789012345675"),
        (["urn:epc:id:sgtin:0614141.107346"], "sgtin: syntax at position 18"),
        (["https://id.gs1.org/01/10614141073465"], "gtin: check-digit at position 14"),
        (["urn:epc:idpat:sgtin:0614141.*.*"], "has no GS1 Digital Link form"),
        (["4006381333931"], "neither an EPC URN"),
        (["--prefixes", "/nonexistent/p.yaml", DOMAIN_EXAMPLES[0][1]], "cannot read /nonexistent/p.yaml"),
    ],
)
def test_cli_failures_exit_1_with_the_reason_on_stderr(args: list[str], text: str) -> None:
    result = CliRunner().invoke(convert, args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert text in result.stderr
