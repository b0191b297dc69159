"""GS1 check digits, key validation and the company prefix table (schemas/identifiers/gs1.py).

Expected check digits come from published examples or are worked out by hand
beside each case (weights 3,1,3,… from the rightmost data digit; check =
(10 − Σ mod 10) mod 10), never from the code under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.gs1 import (
    CompanyPrefixTable,
    check_digit,
    gtin14,
    parse_digital_link,
    validate_gs1_key,
    verify_check_digit,
)
from tests.vectors import VECTORS

OPS = Path(__file__).resolve().parents[2] / "ops"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("400638133393", "1"),  # EAN-13 4006381333931, the usual published example
        ("629104150021", "3"),  # GS1 General Specifications' worked example (GTIN-13 6291041500213)
        ("03600029145", "2"),  # UPC-A 036000291452, the usual published example
        ("9638507", "4"),  # EAN-8 96385074, the usual published example
        ("10614141123456789", "7"),  # SSCC 106141411234567897 (GS1 Digital Link standard example)
        ("0952123454321", "3"),  # GTIN 09521234543213 (GS1 Digital Link standard example)
        ("1061414107346", "4"),  # domain.md: 10614141073464; Σ = 86
        ("061414107346", "7"),  # domain.md: GLN 0614141073467; Σ = 83
        ("12345678901234567", "5"),  # domain.md: SSCC 123456789012345675; Σ = 155
        ("0401234512345", "6"),  # domain.md: 04012345123456; Σ = 64
        ("690123412345", "6"),  # hand: 6·1+9·3+0·1+1·3+2·1+3·3+4·1+1·3+2·1+3·3+4·1+5·3 = 84 → 6
        ("0", "0"),
        ("1", "7"),  # 1·3 = 3 → 7
        ("12", "3"),  # 2·3 + 1·1 = 7 → 3
        ("0000000000000", "0"),
    ],
)
def test_check_digit(data: str, expected: str) -> None:
    assert check_digit(data) == expected


def test_check_digit_rejects_empty_and_non_digits() -> None:
    with pytest.raises(IdentifierError) as empty:
        check_digit("")
    assert empty.value.check == "length"
    with pytest.raises(IdentifierError) as letter:
        check_digit("12a4")
    assert (letter.value.check, letter.value.position) == ("alphabet", 3)
    with pytest.raises(IdentifierError):
        check_digit("١٢٣")  # Arabic-Indic digits are not GS1 digits


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("gtin", "96385074"),
        ("gtin", "036000291452"),
        ("gtin", "4006381333931"),
        ("gtin", "10614141073464"),
        ("gtin8", "96385074"),
        ("gtin12", "036000291452"),
        ("gtin13", "6291041500213"),
        ("gtin14", "09521234543213"),
        ("gln", "0614141073467"),
        ("sscc", "106141411234567897"),
    ],
)
def test_valid_keys_come_back_unchanged(kind: str, value: str) -> None:
    assert validate_gs1_key(kind, value) == value  # type: ignore[arg-type]


def test_surrounding_whitespace_is_removed_and_positions_stay_in_the_input() -> None:
    assert validate_gs1_key("gln", " 0614141073467\n") == "0614141073467"
    with pytest.raises(IdentifierError) as err:
        validate_gs1_key("gln", "  0614141073468")
    assert (err.value.check, err.value.position) == ("check-digit", 15)


@pytest.mark.parametrize(
    ("kind", "value", "allowed", "got"),
    [
        ("gtin", "1234567", "8, 12, 13 or 14", 7),
        ("gtin", "123456789012345", "8, 12, 13 or 14", 15),
        ("gtin13", "10614141073464", "13", 14),
        ("gln", "061414107346", "13", 12),
        ("sscc", "12345678901234567", "18", 17),
    ],
)
def test_length_errors_name_the_allowed_lengths(kind: str, value: str, allowed: str, got: int) -> None:
    with pytest.raises(IdentifierError) as err:
        validate_gs1_key(kind, value)  # type: ignore[arg-type]
    assert err.value.check == "length"
    assert err.value.kind == kind
    assert f"must have {allowed} digits, got {got}" in str(err.value)


def test_alphabet_error_points_at_the_first_non_digit() -> None:
    with pytest.raises(IdentifierError) as err:
        validate_gs1_key("gtin", "0614141O73467")
    assert (err.value.check, err.value.position) == ("alphabet", 8)
    assert "'O'" in str(err.value)


def test_check_digit_error_says_expected_and_found_at_the_last_position() -> None:
    with pytest.raises(IdentifierError) as err:
        validate_gs1_key("gtin", "10614141073465")
    assert (err.value.kind, err.value.check, err.value.position) == ("gtin", "check-digit", 14)
    assert "expected check digit 4, found 5" in str(err.value)


def test_unknown_kind_is_an_identifier_error() -> None:
    with pytest.raises(IdentifierError) as err:
        validate_gs1_key("grai", "1")  # type: ignore[arg-type]
    assert err.value.check == "kind"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("96385074", "00000096385074"),
        ("036000291452", "00036000291452"),
        ("4006381333931", "04006381333931"),
        ("10614141073464", "10614141073464"),
    ],
)
def test_gtin14_pads_to_fourteen_digits(value: str, expected: str) -> None:
    assert gtin14(value) == expected


def test_verify_check_digit_reports_positions_with_an_offset() -> None:
    verify_check_digit("gsrn", "401234598765400000")  # GSRN from the CBV hash vectors; Σ = 120 → 0
    with pytest.raises(IdentifierError) as err:
        verify_check_digit("gdti", "4012345555553", offset=4)
    assert (err.value.kind, err.value.position) == ("gdti", 17)
    assert "expected check digit 4, found 3" in str(err.value)


# ---------------------------------------------------------------- Digital Link parsing


def test_parse_digital_link_pads_gtin_and_keeps_qualifiers_in_order() -> None:
    link = parse_digital_link("https://example.com/shop/01/4006381333931/10/L%2F1/21/7?17=261231#top")
    assert link is not None
    assert (link.ai, link.value, link.qualifiers) == ("01", "04006381333931", {"10": "L/1", "21": "7"})


def test_parse_digital_link_returns_none_without_a_primary_key() -> None:
    assert parse_digital_link("https://example.com/po/12345678") is None
    assert parse_digital_link("https://id.gs1.org") is None
    assert parse_digital_link("urn:epc:id:sgtin:0614141.107346.2017") is None


# ---------------------------------------------------------------- company prefix table


def test_longest_prefix_wins() -> None:
    table = CompanyPrefixTable({"690": 7, "6901": 8}, ["69012345678"])
    assert table.length_for("690999912345") == 7
    assert table.length_for("690199912345") == 8
    assert table.length_for("690123456789") == 11
    assert table.length_for("691000000000") is None
    assert len(table) == 3


def test_from_file_reads_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text('lengths:\n  "690": 7\nprefixes:\n  - "0614141"\n', encoding="utf-8")
    json_file = tmp_path / "p.json"
    json_file.write_text(json.dumps({"prefixes": ["4012345"]}), encoding="utf-8")
    assert list(CompanyPrefixTable.from_file(yaml_file)) == [("0614141", 7), ("690", 7)]
    assert CompanyPrefixTable.from_file(json_file).length_for("401234512345") == 7
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing configured\n", encoding="utf-8")
    assert len(CompanyPrefixTable.from_file(empty)) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prefixes:\n  - 0614141\n", "must be a string of digits (quote it"),
        ('lengths:\n  "690": 5\n', "must be an integer from 6 to 12"),
        ('lengths:\n  "69A": 7\n', "must be a string of digits"),
        ('lengths:\n  "0614141": 8\nprefixes:\n  - "0614141"\n', "listed with two lengths (8 and 7)"),
        ("prefix:\n  - '0614141'\n", "unknown key(s) prefix"),
        ("prefixes: '0614141'\n", "'prefixes' must be a list"),
        ("- a\n", "expected a mapping"),
        ("prefixes: [\n", "not valid YAML/JSON"),
    ],
)
def test_from_file_rejects_bad_configuration(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(IdentifierError) as err:
        CompanyPrefixTable.from_file(path)
    assert err.value.check == "config"
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_from_file_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IdentifierError, match="cannot read"):
        CompanyPrefixTable.from_file(tmp_path / "absent.yaml")


def test_require_names_the_key_when_the_length_is_unknown() -> None:
    table = CompanyPrefixTable(prefixes=["0614141"], source="test-table")
    assert table.require("gtin", "10614141073464", "061414107346") == 7
    with pytest.raises(IdentifierError) as err:
        table.require("gtin", "14012345123453", "401234512345")
    assert (err.value.kind, err.value.check) == ("gtin", "company-prefix")
    assert "length unknown for GTIN 14012345123453" in str(err.value)
    assert "test-table" in str(err.value)


_URN_GCP = re.compile(r"urn:epc:(?:id|class|idpat):[a-z]+:(\d+)\.")


def test_the_sample_table_covers_every_prefix_in_the_vectors_and_samples() -> None:
    table = CompanyPrefixTable.from_file(OPS / "gs1-company-prefixes.yaml")
    files = [
        f for f in (OPS / "samples").glob("*") if f.is_file()
    ]  # the vectors only when they are there (see tests/vectors.py)
    if VECTORS.is_dir():
        files += [f for f in VECTORS.rglob("*") if f.suffix in {".jsonld", ".xml", ".json"}]
    prefixes = {gcp for f in files for gcp in _URN_GCP.findall(f.read_text(encoding="utf-8"))}
    assert prefixes, "no EPC URNs found"
    for gcp in sorted(prefixes):
        assert table.length_for(gcp + "00000") == len(gcp), gcp
