"""Unified social credit code (GB 32100-2015) checks.

Every valid code here comes from outside the code under test: published
examples (source noted beside each) or codes computed by hand from the rules
in docs/domain §3, with the arithmetic written out.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.region import RegionTable
from schemas.identifiers.uscc import ALPHABET, WEIGHTS, parse_uscc, validate_uscc

PUBLISHED = [
    "91350200776049653A",  # domain reference §3
    "91440101MA5CJQ4N59",  # domain reference §3
    "91110108551385082Q",  # uscc-utils (npm) README: 小米科技有限责任公司
    "91350100M000100Y43",  # util-helpers (npm) isSocialCreditCode doc example
    "91110000600037341L",  # stdnum (npm) cn/uscc spec, also the dataprep docs' example
]

# Computed by hand. Alphabet values: 0-9, A10 B11 C12 D13 E14 F15 G16 H17 J18 K19 L20 M21
# N22 P23 Q24 R25 T26 U27 W28 X29 Y30. GB 11714 values: digits, then A=10 … Z=35 (so M=22).
HAND_COMPUTED = [
    # N2 330109 12345678 | org: 1·3+2·7+3·9+4·10+5·5+6·8+7·4+8·2 = 201, 201 mod 11 = 3, 11−3 = 8
    # full: 22+6+27+81+0+26+0+153+20+58+75+52+40+144+70+240+224 = 1238, mod 31 = 29, 31−29 = 2
    "N23301091234567882",
    # N1 330109 00000001 | org: 1·2 = 2, 11−2 = 9 | full: 22+3+27+81+0+26+0+153+30+252 = 594, mod 31 = 5 → 26 = T
    "N1330109000000019T",
    # Y1 110108 MA01ABCD | org: 22·3+10·7+0+1·10+10·5+11·8+12·4+13·2 = 358, mod 11 = 6, 11−6 = 5
    # full: 30+3+9+27+0+26+0+136+420+290+0+13+80+264+120+390+140 = 1948, mod 31 = 26 → 5
    "Y1110108MA01ABCD55",
    # 93 330109 00000006 | org: 6·2 = 12, mod 11 = 1, 11−1 = 10 → X | full: 305+180+29·28 = 1297, mod 31 = 26 → 5
    "9333010900000006X5",
    # 93 330109 00000000 | org: 0, 11−0 = 11 → 0 | full: 9+9+27+81+0+26+0+153 = 305, mod 31 = 26 → 5
    "933301090000000005",
]
VALID = PUBLISHED + HAND_COMPUTED


def test_weights_are_powers_of_three_mod_31() -> None:
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert len(ALPHABET) == 31
    assert not set("IOSVZ") & set(ALPHABET)


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_are_accepted(code: str) -> None:
    assert validate_uscc(code) == code


def test_worked_example_from_the_reference() -> None:
    # 9·1+1·3+3·9+5·27+0·19+2·26+0·16+0·17+7·20+7·29+6·25+0·13+4·8+9·24+6·10+5·30+3·28 = 1261;
    # 1261 mod 31 = 21; 31−21 = 10 → 'A'. Org: 7·3+7·7+6·9+0·10+4·5+9·8+6·4+5·2 = 250; 250 mod 11 = 8; 11−8 = 3.
    parts = parse_uscc("91350200776049653A")
    assert parts.registration_authority == "9"
    assert parts.category == "1"
    assert parts.area_code == "350200"
    assert parts.organisation_code == "776049653"


@pytest.mark.parametrize("code", ["N23301091234567882", "N1330109000000019T", "Y1110108MA01ABCD55"])
def test_letters_in_positions_one_and_two_are_accepted(code: str) -> None:
    assert validate_uscc(code) == code
    assert parse_uscc(code).registration_authority in {"N", "Y"}


def test_lowercase_is_normalised_to_uppercase() -> None:
    assert validate_uscc("91440101ma5cjq4n59") == "91440101MA5CJQ4N59"
    assert validate_uscc("n23301091234567882") == "N23301091234567882"


def test_area_code_is_not_checked_against_todays_region_table() -> None:
    # 440101 (广州市市辖区) was dropped from the Ministry's lists long ago; the code stays valid.
    table = RegionTable.load_default()
    with pytest.raises(IdentifierError) as excinfo:
        table.check("440101", date(2025, 6, 1))
    assert excinfo.value.check == "unknown-region"
    assert validate_uscc("91440101MA5CJQ4N59") == "91440101MA5CJQ4N59"


@pytest.mark.parametrize(
    ("value", "check", "position", "fragment"),
    [
        ("91350200776049653", "length", None, "expected 18 characters, found 17"),
        ("91350200776049653AA", "length", None, "found 19"),
        ("", "length", None, "found 0"),
        ("91350200I76049653A", "alphabet", 9, "'I' (I, O, S, V and Z are never used)"),
        ("913502007760496O3A", "alphabet", 16, "'O'"),
        ("91350200 76049653A", "alphabet", 9, "whitespace"),
        ("91350200776049653-", "alphabet", 18, "'-'"),
        ("９1350200776049653A", "alphabet", 1, "'９'"),
        ("9135A200776049653A", "area-code", 5, "digits only"),
        ("91350200776049654A", "organisation-code-check", 17, "is '3', found '4'"),
        ("91350200776049653B", "check-character", 18, "is 'A', found 'B'"),
        ("91440101MA5CJQ4N5X", "check-character", 18, "is '9', found 'X'"),
    ],
)
def test_rejections_name_the_check_and_position(value: str, check: str, position: int | None, fragment: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate_uscc(value)
    error = excinfo.value
    assert (error.kind, error.check, error.position) == ("uscc", check, position)
    assert fragment in error.reason
    assert str(error).startswith(f"uscc: {check}")


def test_org_check_is_reported_before_the_full_check() -> None:
    # a typo in the organisation code body breaks both checks; the narrower one is reported
    with pytest.raises(IdentifierError) as excinfo:
        validate_uscc("91350200776049663A")
    assert excinfo.value.check == "organisation-code-check"
    assert excinfo.value.position == 17


# Property: 31 is prime and no weight is 0 mod 31, so replacing one character by
# another alphabet character changes Σ mod 31 (positions 1–17) or breaks the
# bijection between Σ and the check character (position 18): every single
# substitution is detected, whatever the organisation-code check says.
@settings(max_examples=200, deadline=None)
@given(code=st.sampled_from(VALID), position=st.integers(1, 18), replacement=st.sampled_from(ALPHABET))
def test_any_single_substitution_is_rejected(code: str, position: int, replacement: str) -> None:
    original = code[position - 1]
    if replacement == original:
        return
    mutated = code[: position - 1] + replacement + code[position:]
    with pytest.raises(IdentifierError) as excinfo:
        validate_uscc(mutated)
    expected = {"area-code"} if 3 <= position <= 8 and not replacement.isdigit() else set()
    expected = expected or {"organisation-code-check", "check-character"}
    assert excinfo.value.check in expected


# Property: swapping adjacent, different characters a, b at positions i, i+1 (both ≤ 17)
# changes Σ by (a − b)(w_i − w_{i+1}) = (a − b)·w_i·(1 − 3) ≢ 0 (mod 31): always detected.
@settings(max_examples=200, deadline=None)
@given(code=st.sampled_from(VALID), position=st.integers(1, 16))
def test_any_adjacent_transposition_in_the_first_17_is_rejected(code: str, position: int) -> None:
    a, b = code[position - 1], code[position]
    if a == b:
        return
    swapped = code[: position - 1] + b + a + code[position + 1 :]
    with pytest.raises(IdentifierError):
        validate_uscc(swapped)


@settings(max_examples=100, deadline=None)
@given(code=st.sampled_from(VALID), mask=st.lists(st.booleans(), min_size=18, max_size=18))
def test_any_mix_of_cases_is_accepted_and_uppercased(code: str, mask: list[bool]) -> None:
    mixed = "".join(c.lower() if lower else c for c, lower in zip(code, mask, strict=True))
    assert validate_uscc(mixed) == code
