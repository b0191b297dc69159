"""GS1 identification keys: the mod-10 check digit, key validation, and GS1 Company Prefix lengths.

Every GS1 key that carries a check digit (GTIN-8/12/13/14, GLN, SSCC, GSRN,
GSIN, and the numeric part of GDTI, GCN and GRAI) uses the same rule (GS1
General Specifications, "check digit calculation"): weight the data digits 3,
1, 3, 1 … starting from the rightmost data digit, sum, and take
``(10 - sum mod 10) mod 10``.

A key does not say where its GS1 Company Prefix ends; that depends on what the
issuing GS1 Member Organisation allocated. Converting a GS1 Digital Link URI to
an EPC URN needs that split, so :class:`CompanyPrefixTable` holds it as
operator configuration (a prefix → length mapping with longest-match lookup,
like GS1's published GCP length table) loaded with
:meth:`CompanyPrefixTable.from_file`.

:func:`parse_digital_link` reads the path of a GS1 Digital Link URI (any host,
optional path prefix, query and fragment ignored): primary key, then key
qualifiers in the order the Digital Link grammar allows, each value
percent-decoded and checked (:func:`check_ai_value`: format, GS1 character set
82/39, length, check digit; GTINs come back as 14 digits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import unquote

import yaml

from schemas.identifiers.errors import IdentifierError

__all__ = [
    "KEY_LENGTHS",
    "KEY_NAMES",
    "QUALIFIER_ORDERS",
    "CompanyPrefixTable",
    "DigitalLink",
    "GS1KeyKind",
    "check_ai_value",
    "check_digit",
    "gtin14",
    "parse_digital_link",
    "validate_gs1_key",
    "verify_check_digit",
]

GS1KeyKind = Literal["gtin", "gtin8", "gtin12", "gtin13", "gtin14", "gln", "sscc"]

#: Allowed digit counts (check digit included) per key kind.
KEY_LENGTHS: Mapping[str, tuple[int, ...]] = {
    "gtin": (8, 12, 13, 14),
    "gtin8": (8,),
    "gtin12": (12,),
    "gtin13": (13,),
    "gtin14": (14,),
    "gln": (13,),
    "sscc": (18,),
}

_ASCII_WHITESPACE = " \t\r\n\f\v"
#: EPC URNs need a GS1 Company Prefix of 6 to 12 digits (EPC Tag Data Standard).
MIN_PREFIX_LENGTH = 6
MAX_PREFIX_LENGTH = 12


def _first_non_digit(value: str) -> int:
    """0-based index of the first character that is not an ASCII digit, or -1."""
    if value.isdigit() and value.isascii():
        return -1
    for index, char in enumerate(value):
        if not ("0" <= char <= "9"):
            return index
    return -1


def _mod10(digits: str) -> str:
    """Check digit over ASCII ``digits`` (already validated): weights 3,1,3,… from the right."""
    data = digits.encode("ascii")
    odd, even = data[-1::-2], data[-2::-2]  # weight 3 from the rightmost digit, then 1, 3, 1 …
    total = 3 * (sum(odd) - 48 * len(odd)) + sum(even) - 48 * len(even)
    return "0123456789"[-total % 10]


def check_digit(data: str) -> str:
    """The GS1 mod-10 check digit for ``data`` (the key's digits without their check digit).

    >>> check_digit("400638133393")
    '1'
    """
    if not data:
        raise IdentifierError("gs1", "length", "no digits to compute a check digit over")
    bad = _first_non_digit(data)
    if bad >= 0:
        raise IdentifierError("gs1", "alphabet", f"only digits 0-9 are allowed, found {data[bad]!r}", position=bad + 1)
    return _mod10(data)


def verify_check_digit(kind: str, digits: str, *, offset: int = 0) -> None:
    """Raise ``IdentifierError(kind, "check-digit", …)`` unless the last of ``digits`` is their check digit.

    ``digits`` must already be known to be ASCII digits (at least two). ``offset``
    shifts the reported 1-based position when ``digits`` sits inside a longer value.
    """
    expected = _mod10(digits[:-1])
    if digits[-1] != expected:
        raise IdentifierError(
            kind,
            "check-digit",
            f"expected check digit {expected}, found {digits[-1]} in {digits}",
            position=offset + len(digits),
        )


def validate_gs1_key(kind: GS1KeyKind, value: str) -> str:
    """Check a GTIN, GLN or SSCC and return it normalised (surrounding ASCII whitespace removed).

    ``gtin`` accepts 8, 12, 13 or 14 digits and returns them as given; use
    :func:`gtin14` for the 14-digit form. Raises :class:`IdentifierError` with
    check ``length``, ``alphabet`` (position of the first non-digit) or
    ``check-digit`` (expected vs found, position of the last digit). Positions are
    1-based in ``value`` as passed.
    """
    try:
        lengths = KEY_LENGTHS[kind]
    except KeyError:
        raise IdentifierError(
            str(kind), "kind", f"unknown GS1 key kind; expected one of {', '.join(KEY_LENGTHS)}"
        ) from None
    stripped = value.strip(_ASCII_WHITESPACE)
    offset = len(value) - len(value.lstrip(_ASCII_WHITESPACE))
    bad = _first_non_digit(stripped)
    if bad >= 0:
        raise IdentifierError(
            kind, "alphabet", f"only digits 0-9 are allowed, found {stripped[bad]!r}", position=offset + bad + 1
        )
    if len(stripped) not in lengths:
        allowed = " or ".join(", ".join(map(str, lengths)).rsplit(", ", 1))
        raise IdentifierError(kind, "length", f"must have {allowed} digits, got {len(stripped)}")
    verify_check_digit(kind, stripped, offset=offset)
    return stripped


def gtin14(value: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as 14 digits (left-padded with zeros)."""
    return validate_gs1_key("gtin", value).zfill(14)


# ---------------------------------------------------------------- GS1 Digital Link URIs

_CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_CSET39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset("0123456789ABCDEFabcdef")
_DL_RE = re.compile(r"(?i:https?)://([^/?#\s]+)((?:/[^/?#\s]*)+)(?:\?[^#\s]*)?(?:#\S*)?")


def _digits_ok(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _first_bad(text: str, literal: frozenset[str]) -> int:
    """Index of the first character that is neither allowed literally nor a ``%XX`` escape, else -1."""
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "%":
            if i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
                i += 3
                continue
            return i
        if char not in literal:
            return i
        i += 1
    return -1


_ALIASES = {  # convenience alphas of GS1 Digital Link 1.0/1.1 (deprecated since 1.2, still met in the field)
    "gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417", "gsrnp": "8017", "gsrn": "8018",
    "gcn": "255", "sscc": "00", "gdti": "253", "ginc": "401", "gsin": "402", "grai": "8003", "giai": "8004",
    "cpv": "22", "lot": "10", "ser": "21", "glnx": "254", "cpsn": "8011", "srin": "8019",
}  # fmt: skip
# primary key AI → allowed qualifier orders (GS1 Digital Link path grammar)
QUALIFIER_ORDERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "01": (("22", "10", "21"), ("235",)),
    "8006": (("22", "10", "21"),),
    "414": (("254",),),
    "8010": (("8011",),),
    "8017": (("8019",),),
    "8018": (("8019",),),
    **{ai: () for ai in ("00", "253", "255", "401", "402", "417", "8003", "8004")},
}
_TEXT_LIMITS = {"22": 20, "10": 20, "21": 20, "254": 20, "235": 28}
_DIGIT_LIMITS = {"8011": 12, "8019": 10}
KEY_NAMES = {
    "00": "sscc", "01": "gtin", "253": "gdti", "255": "gcn", "401": "ginc", "402": "gsin", "414": "gln",
    "417": "gln", "8003": "grai", "8004": "giai", "8006": "itip", "8010": "cpid", "8017": "gsrnp", "8018": "gsrn",
}  # fmt: skip


class DigitalLink(NamedTuple):
    """A parsed GS1 Digital Link path: primary key AI and value, key qualifiers in path order (decoded)."""

    ai: str
    value: str
    qualifiers: dict[str, str]


def _text(kind: str, ai: str, value: str, max_len: int, charset: frozenset[str] = _CSET82) -> str:
    if not 1 <= len(value) <= max_len:
        raise IdentifierError(kind, "length", f"AI {ai} value must have 1 to {max_len} characters, got {len(value)}")
    for index, char in enumerate(value):
        if char not in charset:
            raise IdentifierError(kind, "alphabet", f"AI {ai} value may not contain {char!r}", position=index + 1)
    return value


def _leading_key(kind: str, ai: str, value: str, size: int, *, lead: str = "") -> None:
    head = value[:size]
    if len(head) < size or not _digits_ok(head) or not head.startswith(lead):
        start = f" starting with {lead}" if lead else ""
        raise IdentifierError(kind, "syntax", f"AI {ai} value must begin with {size} digits{start}: {value!r}")
    verify_check_digit(kind, head)


def check_ai_value(ai: str, value: str) -> str:
    """Validate a decoded Digital Link value for ``ai`` and return its canonical form."""
    kind = KEY_NAMES.get(ai, "digital-link")
    if ai == "01":
        return gtin14(value)
    if ai in ("414", "417"):
        _leading_key(kind, ai, value, 13)
        _text(kind, ai, value, 13)
    elif ai in ("00", "8017", "8018", "402", "8006"):
        size = 17 if ai == "402" else 18
        _leading_key(kind, ai, value, 14 if ai == "8006" else size)
        if len(value) != size or not _digits_ok(value):
            raise IdentifierError(kind, "length", f"AI {ai} value must be exactly {size} digits, got {value!r}")
    elif ai in ("253", "255"):
        _leading_key(kind, ai, value, 13)
        serial = value[13:]
        if serial:
            if ai == "255" and not _digits_ok(serial):
                raise IdentifierError(kind, "alphabet", "GCN serial must be digits", position=14)
            _text(kind, ai, serial, 17 if ai == "253" else 12)
    elif ai == "8003":
        _leading_key(kind, ai, value, 14, lead="0")
        if len(value) > 14:
            _text(kind, ai, value[14:], 16)
    elif ai in ("8004", "401"):
        _text(kind, ai, value, 30)
    elif ai == "8010":
        _text(kind, ai, value, 30, _CSET39)
    elif ai in _DIGIT_LIMITS:
        if not _digits_ok(value) or len(value) > _DIGIT_LIMITS[ai]:
            raise IdentifierError(kind, "syntax", f"AI {ai} value must be 1 to {_DIGIT_LIMITS[ai]} digits: {value!r}")
    else:
        _text(kind, ai, value, _TEXT_LIMITS[ai])
    return value


def _decode_segment(segment: str) -> str:
    if "%" not in segment:
        return segment
    if _first_bad(segment, frozenset(segment) - {"%"}) >= 0:
        raise IdentifierError("digital-link", "syntax", f"malformed percent-encoding in {segment!r}")
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError as exc:
        raise IdentifierError("digital-link", "alphabet", f"{segment!r} does not decode to UTF-8 text") from exc


def parse_digital_link(url: str) -> DigitalLink | None:
    """Parse a Digital Link URI; None when ``url`` has no GS1 primary key path; raises when one is invalid."""
    match = _DL_RE.fullmatch(url)
    if match is None:
        return None
    segments = match.group(2).split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash is tolerated
    names = [_ALIASES.get(segment, segment) for segment in segments]
    first_error: IdentifierError | None = None
    for start in range(len(names) - 1):
        if names[start] not in QUALIFIER_ORDERS or (len(names) - start) % 2 or "" in segments[start:]:
            continue
        try:
            return _link_at(url, names, segments, start)
        except IdentifierError as exc:  # a path prefix may look like an AI; a later start may still parse
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return None


def _link_at(url: str, names: list[str], segments: list[str], start: int) -> DigitalLink:
    ai = names[start]
    value = check_ai_value(ai, _decode_segment(segments[start + 1]))
    orders = QUALIFIER_ORDERS[ai]
    qualifiers: dict[str, str] = {}
    for index in range(start + 2, len(names), 2):
        qualifier = names[index]
        if not any(qualifier in order for order in orders) or qualifier in qualifiers:
            raise IdentifierError(KEY_NAMES[ai], "qualifier", f"AI {qualifier} is not a key qualifier of AI {ai} here")
        qualifiers[qualifier] = check_ai_value(qualifier, _decode_segment(segments[index + 1]))
    if qualifiers and not any(list(qualifiers) == [q for q in order if q in qualifiers] for order in orders):
        expected = " or ".join("/".join(order) for order in orders)
        raise IdentifierError(
            KEY_NAMES[ai], "qualifier-order", f"qualifiers of AI {ai} must appear in the order {expected}: {url}"
        )
    return DigitalLink(ai, value, qualifiers)


class CompanyPrefixTable:
    """GS1 Company Prefix lengths: which leading digits of a key are the company prefix.

    Built from ``lengths`` (prefix → GCP length, e.g. ``{"690": 7}``: every key
    whose company-prefix digits start with 690 has a 7-digit prefix) and/or
    ``prefixes`` (complete company prefixes, e.g. ``["4012345"]``, each its own
    length). Lookup takes the longest matching prefix. "Company-prefix digits"
    are the key's digits where a GS1 Company Prefix starts: after the indicator
    digit of a GTIN, after the extension digit of an SSCC, after the leading 0 of
    a GRAI, from the first digit for the other keys.

    The table is operator configuration: nothing is built in. Load it with
    :meth:`from_file` (YAML or JSON with the keys ``lengths`` and ``prefixes``).
    """

    __slots__ = ("_lengths", "_longest", "source")

    def __init__(
        self,
        lengths: Mapping[str, int] | None = None,
        prefixes: Iterable[str] = (),
        *,
        source: str = "<memory>",
    ) -> None:
        table: dict[str, int] = {}
        for prefix, length in (lengths or {}).items():
            self._add(table, prefix, length, source)
        for prefix in prefixes:
            self._add(table, prefix, len(prefix) if isinstance(prefix, str) else 0, source)
        self._lengths = table
        self._longest = max(map(len, table), default=0)
        self.source = source

    @staticmethod
    def _add(table: dict[str, int], prefix: object, length: object, source: str) -> None:
        if not isinstance(prefix, str) or not prefix or _first_non_digit(prefix) >= 0:
            hint = " (quote it: YAML reads unquoted digits as a number and drops leading zeros)"
            raise IdentifierError(
                "company-prefix-table",
                "config",
                f"{source}: prefix {prefix!r} must be a string of digits{hint if not isinstance(prefix, str) else ''}",
            )
        if len(prefix) > MAX_PREFIX_LENGTH:
            raise IdentifierError(
                "company-prefix-table", "config", f"{source}: prefix {prefix} is longer than {MAX_PREFIX_LENGTH} digits"
            )
        if (
            isinstance(length, bool)
            or not isinstance(length, int)
            or not MIN_PREFIX_LENGTH <= length <= MAX_PREFIX_LENGTH
        ):
            raise IdentifierError(
                "company-prefix-table",
                "config",
                f"{source}: length for prefix {prefix} must be an integer from {MIN_PREFIX_LENGTH} to "
                f"{MAX_PREFIX_LENGTH}, got {length!r}",
            )
        if table.get(prefix, length) != length:
            raise IdentifierError(
                "company-prefix-table",
                "config",
                f"{source}: prefix {prefix} is listed with two lengths ({table[prefix]} and {length})",
            )
        table[prefix] = length

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<memory>") -> CompanyPrefixTable:
        """Build from parsed configuration ``{"lengths": {prefix: length}, "prefixes": [prefix, …]}``."""
        if not isinstance(data, Mapping):
            raise IdentifierError("company-prefix-table", "config", f"{source}: expected a mapping at the top level")
        unknown = set(data) - {"lengths", "prefixes"}
        if unknown:
            raise IdentifierError(
                "company-prefix-table",
                "config",
                f"{source}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: lengths, prefixes",
            )
        lengths = data.get("lengths") or {}
        prefixes = data.get("prefixes") or []
        if not isinstance(lengths, Mapping):
            raise IdentifierError("company-prefix-table", "config", f"{source}: 'lengths' must map prefix to length")
        if not isinstance(prefixes, list):
            raise IdentifierError("company-prefix-table", "config", f"{source}: 'prefixes' must be a list")
        return cls(lengths, prefixes, source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> CompanyPrefixTable:
        """Load a table from a YAML (``.yaml``/``.yml``) or JSON (``.json``) file."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise IdentifierError(
                "company-prefix-table", "config", f"cannot read {file}: {exc.strerror or exc}"
            ) from exc
        try:
            data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise IdentifierError("company-prefix-table", "config", f"{file}: not valid YAML/JSON: {exc}") from exc
        return cls.from_mapping(data if data is not None else {}, source=str(file))

    def length_for(self, digits: str) -> int | None:
        """The GCP length for a key whose company-prefix digits are ``digits`` (longest match), or None."""
        lengths = self._lengths
        for size in range(min(self._longest, len(digits)), 0, -1):
            length = lengths.get(digits[:size])
            if length is not None:
                return length
        return None

    def require(self, kind: str, key: str, digits: str, room: int = MAX_PREFIX_LENGTH) -> int:
        """The GCP length for ``key`` (company-prefix digits ``digits``), at most ``room``; raises when unknown."""
        length = self.length_for(digits)
        if length is None:
            raise IdentifierError(
                kind,
                "company-prefix",
                f"GS1 Company Prefix length unknown for {kind.upper()} {key}: no entry in the company prefix table "
                f"({self.source}) matches its digits {digits}; add the company prefix to that table",
            )
        if length > room:
            raise IdentifierError(
                kind,
                "company-prefix",
                f"{self.source} gives a {length}-digit company prefix, too long for {kind.upper()} {key}",
            )
        return length

    def __len__(self) -> int:
        return len(self._lengths)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(sorted(self._lengths.items()))

    def __repr__(self) -> str:
        return f"CompanyPrefixTable({len(self._lengths)} prefixes from {self.source})"
