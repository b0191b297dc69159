"""Drug trace codes (NMPAB/T 1002-2019, 20-character form): format only, no offline check."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.identifiers.drugcode import OFFLINE_LIMITATION, validate_drug_trace_code
from schemas.identifiers.errors import IdentifierError

# Any 20 digits are well-formed: the check characters cannot be computed offline.
CODE = "81234567890123456789"


def test_split_into_identification_code_and_rest() -> None:
    parsed = validate_drug_trace_code(CODE)
    assert parsed.product_code == "8123456"
    assert parsed.rest == "7890123456789"
    assert parsed.value == CODE
    assert parsed.check_verified is False


def test_the_limitation_is_stated() -> None:
    assert "cannot be verified offline" in OFFLINE_LIMITATION


@pytest.mark.parametrize(
    ("value", "check", "position", "fragment"),
    [
        ("8123456789012345678", "length", None, "found 19"),
        ("812345678901234567890", "length", None, "found 21"),
        ("", "length", None, "found 0"),
        ("8123456A890123456789", "alphabet", 8, "expected a digit 0–9, found 'A'"),
        ("81234567890123456 89", "alphabet", 18, "found ' '"),
        ("８1234567890123456789", "alphabet", 1, "found '８'"),
    ],
)
def test_rejections(value: str, check: str, position: int | None, fragment: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate_drug_trace_code(value)
    error = excinfo.value
    assert (error.kind, error.check, error.position) == ("drugcode", check, position)
    assert fragment in error.reason


def test_other_printable_characters_only_when_asked() -> None:
    value = "AB12345-XYZ/0123456."
    with pytest.raises(IdentifierError, match="alphabet at position 1"):
        validate_drug_trace_code(value)
    assert validate_drug_trace_code(value, digits_only=False).product_code == "AB12345"
    with pytest.raises(IdentifierError, match="alphabet at position 8"):
        validate_drug_trace_code("AB12345 XYZ/0123456.", digits_only=False)
    with pytest.raises(IdentifierError, match="alphabet at position 20"):
        validate_drug_trace_code("AB12345-XYZ/0123456é", digits_only=False)


@settings(max_examples=100, deadline=None)
@given(value=st.text(alphabet="0123456789", min_size=20, max_size=20))
def test_any_twenty_digits_are_well_formed(value: str) -> None:
    parsed = validate_drug_trace_code(value)
    assert parsed.product_code + parsed.rest == value
    assert len(parsed.product_code) == 7


@settings(max_examples=100, deadline=None)
@given(
    value=st.text(alphabet="0123456789", min_size=20, max_size=20),
    position=st.integers(1, 20),
    char=st.characters(exclude_characters="0123456789"),
)
def test_any_non_digit_is_rejected_at_its_position(value: str, position: int, char: str) -> None:
    mutated = value[: position - 1] + char + value[position:]
    with pytest.raises(IdentifierError) as excinfo:
        validate_drug_trace_code(mutated)
    assert (excinfo.value.check, excinfo.value.position) == ("alphabet", position)
