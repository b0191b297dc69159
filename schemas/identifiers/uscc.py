"""Unified social credit code (统一社会信用代码, GB 32100-2015).

Eighteen characters::

    position  1     registration authority (登记管理部门代码)       alphabet character
    position  2     entity category (机构类别代码)                  alphabet character
    positions 3–8   GB/T 2260 area code of the registering office   digits
    positions 9–17  organisation code (GB 11714): 8-character body and its own check character
    position  18    check character over positions 1–17 (mod 31)

The alphabet is ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (I, O, S, V and Z are never
used), character values 0–30.

What is checked, in this order (the first failure is reported):

1. ``length``: exactly 18 characters.
2. ``alphabet``: every character is in the alphabet.
3. ``area-code``: positions 3–8 are digits. The area code is *not* looked up in
   the GB/T 2260 table: it is frozen when the code is issued, so a code issued
   in a county that has since been merged or renumbered stays valid.
4. ``organisation-code-check``: position 17 is the GB 11714 check character of
   positions 9–16 (weights 3 7 9 10 5 8 4 2; digits count 0–9, letters A=10 … Z=35;
   C = 11 − (Σ mod 11), where 10 is written ``X`` and 11 is written ``0``).
5. ``check-character``: position 18 is the GB 32100 check character
   (weights 3^i mod 31 for positions 1–17; C = (31 − Σ mod 31) mod 31).

Letters are allowed in positions 1 and 2: ``N`` (agriculture and rural affairs
departments, e.g. ``N2`` collective economic organisations) and ``Y`` (other
authorities) are in use. python-stdnum wrongly rejects them.

Input: lowercase letters are accepted and normalised to uppercase (the returned
string is the uppercase form). Nothing else is normalised: whitespace, hyphens
and full-width characters are rejected at their position, so an operator sees
exactly what is wrong with what was typed.

Error detection (for tests and readers): since 31 is prime and every weight
3^i mod 31 is non-zero, the mod-31 check detects *every* substitution of one
character by another character of the alphabet, anywhere in the 18 positions,
and every transposition of two adjacent, different characters among positions
1–17 (the sum changes by (a − b)·w_i·(1 − 3) ≢ 0 mod 31). The GB 11714 check is
weaker on letters (A=10 and L=21 differ by 11), which the mod-31 check covers.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.identifiers.errors import IdentifierError

KIND = "uscc"
LENGTH = 18
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_EXCLUDED = frozenset("IOSVZ")


@dataclass(frozen=True, slots=True)
class Uscc:
    """A unified social credit code split into its parts (positions are 1-based)."""

    value: str

    @property
    def registration_authority(self) -> str:
        """Position 1 (登记管理部门代码): ``1`` 机构编制, ``5`` 民政, ``9`` 市场监管, ``N`` 农业农村 …"""
        return self.value[0]

    @property
    def category(self) -> str:
        """Position 2 (机构类别代码), meaningful together with the authority."""
        return self.value[1]

    @property
    def area_code(self) -> str:
        """Positions 3–8: the GB/T 2260 code of the registering office, as it was at issue."""
        return self.value[2:8]

    @property
    def organisation_code(self) -> str:
        """Positions 9–17: the GB 11714 organisation code, its check character included."""
        return self.value[8:17]


def check_character(first17: str) -> str:
    """The GB 32100 check character (position 18) for 17 alphabet characters."""
    if len(first17) != 17:
        raise ValueError("the check character is computed over exactly 17 characters")
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def _organisation_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    return ord(char) - ord("A") + 10  # GB 11714: A=10 … Z=35, I and O included in the count


def organisation_check_character(body: str) -> str:
    """The GB 11714 check character for an 8-character organisation code body."""
    if len(body) != 8 or not all(c.isdigit() or "A" <= c <= "Z" for c in body):
        raise ValueError("an organisation code body is 8 digits or uppercase letters")
    total = sum(_organisation_value(char) * weight for char, weight in zip(body, ORGANISATION_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _describe(char: str) -> str:
    if char.isspace():
        return f"whitespace {char!r}"
    if char in _EXCLUDED:
        return f"{char!r} (I, O, S, V and Z are never used)"
    return repr(char)


def validate_uscc(value: str) -> str:
    """Check a unified social credit code and return it in uppercase.

    Raises :class:`IdentifierError` naming the failed check (``length``,
    ``alphabet``, ``area-code``, ``organisation-code-check``,
    ``check-character``), the 1-based position and what was expected.
    """
    if len(value) != LENGTH:
        raise IdentifierError(KIND, "length", f"expected {LENGTH} characters, found {len(value)}")
    code = "".join(char.upper() if "a" <= char <= "z" else char for char in value)
    for position, char in enumerate(code, start=1):
        if char not in _VALUES:
            raise IdentifierError(KIND, "alphabet", f"{_describe(char)} is not in {ALPHABET}", position=position)
    for position in range(3, 9):
        char = code[position - 1]
        if not char.isdigit():
            raise IdentifierError(
                KIND,
                "area-code",
                f"positions 3–8 are the GB/T 2260 area code (digits only), found {char!r}",
                position=position,
            )
    expected_org = organisation_check_character(code[8:16])
    if code[16] != expected_org:
        raise IdentifierError(
            KIND,
            "organisation-code-check",
            f"GB 11714 check character of positions 9–16 ({code[8:16]}) is {expected_org!r}, found {code[16]!r}",
            position=17,
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise IdentifierError(
            KIND,
            "check-character",
            f"GB 32100 check character of positions 1–17 is {expected!r}, found {code[17]!r}",
            position=18,
        )
    return code


def parse_uscc(value: str) -> Uscc:
    """Validate (see :func:`validate_uscc`) and split into parts."""
    return Uscc(validate_uscc(value))
