"""``tracebus id check KIND VALUE`` (ops/commands/id_check.py), through click's test runner.

GS1 keys here are the ones in docs/domain §3 (EPC ↔ Digital Link examples) and
the usual 690… example, their check digits worked out by hand beside them.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.commands.id_check import check
from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.gs1 import GS1KeyKind, validate_gs1_key

# Weights 3,1,3,… from the rightmost data digit; check = (10 − Σ mod 10) mod 10.
GTIN14 = "10614141073464"  # Σ = 86 → 4
GTIN14_B = "04012345123456"  # Σ = 64 → 6
GTIN13 = "6901234567892"  # Σ = 128 → 2
GLN = "0614141073467"  # Σ = 83 → 7
SSCC = "123456789012345675"  # Σ = 155 → 5


def run(*args: str) -> Result:
    return CliRunner().invoke(check, list(args))


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("uscc", "91350200776049653A"),
        ("uscc", "N23301091234567882"),
        ("USCC", "91440101ma5cjq4n59"),
        ("gtin", GTIN14),
        ("gtin", GTIN14_B),
        ("gtin", GTIN13),
        ("gln", GLN),
        ("sscc", SSCC),
    ],
)
def test_valid_prints_ok(kind: str, value: str) -> None:
    result = run(kind, value)
    assert result.exit_code == 0, result.output
    assert result.output == "ok\n"


@pytest.mark.parametrize(
    ("kind", "value", "fragments"),
    [
        ("uscc", "91350200776049653B", ["check-character", "position 18", "'A'", "'B'"]),
        ("uscc", "91350200776049654A", ["organisation-code-check", "position 17"]),
        ("uscc", "9135020077604965", ["length", "found 16"]),
        ("uscc", "91350200I76049653A", ["alphabet", "position 9"]),
        ("gtin", "10614141073465", ["gtin"]),
        ("gln", "0614141073466", ["gln"]),
        ("sscc", "123456789012345676", ["sscc"]),
        ("drugcode", "8123456789012345678", ["drugcode: length", "found 19"]),
        ("region", "33010X", ["region: alphabet", "position 6"]),
    ],
)
def test_invalid_prints_the_reason_and_exits_1(kind: str, value: str, fragments: list[str]) -> None:
    result = run(kind, value)
    assert result.exit_code == 1
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr


def test_drugcode_says_the_check_is_not_verified() -> None:
    result = run("drugcode", "81234567890123456789")
    assert result.exit_code == 0
    assert result.output == "ok (format only: the check characters cannot be verified offline)\n"


def test_region_prints_names_and_snapshot() -> None:
    result = run("region", "330109", "--on", "2025-06-01")
    assert result.exit_code == 0
    assert result.output == "ok 浙江省 杭州市 萧山区 (snapshot 2024-12-31)\n"


def test_region_defaults_to_today() -> None:
    result = run("region", "330109")
    assert result.exit_code == 0
    assert "萧山区" in result.output


def test_region_unknown_in_the_snapshot_in_force() -> None:
    result = run("region", "653229", "--on", "2024-12-30")
    assert result.exit_code == 1
    assert "unknown-region" in result.stderr
    assert "2023-12-31" in result.stderr


def test_region_before_the_oldest_snapshot_is_flagged() -> None:
    result = run("region", "330109", "--on", "2001-01-01")
    assert result.exit_code == 0
    assert result.output.startswith("older-than-oldest-snapshot: 2001-01-01 precedes the oldest snapshot (2023-12-31)")
    assert "萧山区" in result.output
    assert "not listed there" in run("region", "540422", "--on", "2001-01-01").output


@pytest.mark.parametrize(
    "args",
    [
        ["isbn", "9780306406157"],
        ["uscc"],
        ["region", "330109", "--on", "2025/06/01"],
        ["uscc", "91350200776049653A", "--on", "2025-06-01"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run(*args).exit_code == 2


# Weights 3 and 1 are both prime to 10, so changing one digit d → d' changes Σ by
# w·(d' − d) ≢ 0 (mod 10) and a changed check digit no longer matches:
# every single-digit substitution in a GS1 key is detected.
@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from([("gtin", GTIN14), ("gtin", GTIN14_B), ("gtin", GTIN13), ("gln", GLN), ("sscc", SSCC)]),
    position=st.integers(1, 18),
    digit=st.sampled_from("0123456789"),
)
def test_gs1_single_digit_substitution_is_always_detected(
    key: tuple[GS1KeyKind, str], position: int, digit: str
) -> None:
    kind, value = key
    position = min(position, len(value))
    if value[position - 1] == digit:
        return
    mutated = value[: position - 1] + digit + value[position:]
    with pytest.raises(IdentifierError):
        validate_gs1_key(kind, mutated)
