"""Drug trace code (药品追溯码, NMPAB/T 1002-2019), 20-character form: format check only.

What is known (second-hand, from republished text of the standard and from the
codes in circulation):

* A drug trace code is either 20 characters whose first 7 are the drug
  identification code (药品标识码: marketing-authorisation holder, product,
  dosage form, strength, package and package level), or a code built under
  ISO/IEC 15459 (e.g. GS1). This module handles the 20-character form; check a
  GS1-coded drug with :mod:`schemas.identifiers.gs1`.
* The rest carries the production part (生产标识, at least the unit serial;
  possibly batch, production or expiry date) and check characters.
* The check characters come from an algorithm that is not public (the codes are
  issued through the 码上放心 platform, formerly 中国药品电子监管码). **They cannot
  be verified offline**, and this module does not pretend to: a code that passes
  here is well-formed, not proven genuine. Only the issuing platform can say that.

Which characters? The standard's general rule lets a trace code use digits,
letters and symbols (the characters of GB/T 1988-1998 table 2, i.e. printable
ASCII), but every 20-character code in circulation is 20 digits (the 7 + 9 + 4
layout inherited from the 电子监管码). By default only digits are accepted, so a
mistyped or private code is caught rather than passed; ``digits_only=False``
accepts any printable ASCII character except space, for a holder that really
issues such codes. The split of the 13 characters after the identification
code is not published, so it is returned whole (``rest``).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.identifiers.errors import IdentifierError

KIND = "drugcode"
LENGTH = 20
PRODUCT_CODE_LENGTH = 7
OFFLINE_LIMITATION = "format only: the check characters cannot be verified offline"


@dataclass(frozen=True, slots=True)
class DrugTraceCode:
    """A well-formed 20-character drug trace code (its check characters unverified)."""

    product_code: str
    """Characters 1–7: the drug identification code (药品标识码)."""
    rest: str
    """Characters 8–20: production part and check characters (layout not public)."""

    @property
    def value(self) -> str:
        """The whole code."""
        return self.product_code + self.rest

    @property
    def check_verified(self) -> bool:
        """Always ``False``: the check algorithm is not public, nothing offline can verify it."""
        return False


def _acceptable(char: str, digits_only: bool) -> bool:
    if digits_only:
        return "0" <= char <= "9"
    return "!" <= char <= "~"  # GB/T 1988 printable characters, space excluded


def validate_drug_trace_code(value: str, *, digits_only: bool = True) -> DrugTraceCode:
    """Check the format of a 20-character drug trace code and split it.

    Raises :class:`IdentifierError` (``length``, or ``alphabet`` with the
    1-based position). The check characters are **not** verified (see the
    module docstring): the result says so in ``check_verified``.
    """
    if len(value) != LENGTH:
        raise IdentifierError(
            KIND,
            "length",
            f"expected {LENGTH} characters (the ISO/IEC 15459 form is checked as a GS1 key), found {len(value)}",
        )
    wanted = "a digit 0–9" if digits_only else "a printable ASCII character (GB/T 1988)"
    for position, char in enumerate(value, start=1):
        if not _acceptable(char, digits_only):
            raise IdentifierError(KIND, "alphabet", f"expected {wanted}, found {char!r}", position=position)
    return DrugTraceCode(product_code=value[:PRODUCT_CODE_LENGTH], rest=value[PRODUCT_CODE_LENGTH:])
