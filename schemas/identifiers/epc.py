"""EPC URNs ↔ GS1 Digital Link URIs, and the canonical form the CBV 2.0 event hash uses.

Sources: EPC Tag Data Standard (pure-identity, class and pattern URN grammar),
GS1 Digital Link URI Syntax (path order, percent-encoding), CBV 2.0 "EPCIS
event hash ID" rules 17 and 18 (EPC URNs become canonical Digital Link URIs on
``https://id.gs1.org``; Digital Link URIs are constrained to that domain, no
query string, and the most fine-grained identification level).

Schemes: SGTIN, SSCC, SGLN, GRAI, GIAI, GSRN, GSRNP, GDTI, CPI, SGCN, GINC,
GSIN, ITIP, UPUI, PGLN (``urn:epc:id:…``), LGTIN (``urn:epc:class:…``) and their
``urn:epc:idpat:…`` patterns. A pattern that wildcards only its last component
(the serial) of SGTIN, UPUI, GRAI, GDTI, SGCN, CPI or ITIP names a class-level
GS1 key and maps to it (``urn:epc:idpat:sgtin:4012345.012345.*`` →
``https://id.gs1.org/01/04012345123456``), as the CBV 2.0 reference vectors
show; a pattern without wildcards maps like the EPC it matches; every other
pattern (more wildcards, or a scheme whose key has no serial-free form such as
SSCC or SGLN) has no Digital Link form.

Percent-encoding: URN components use the Tag Data Standard escapes (``%22 %25
%26 %2F %3C %3E %3F`` in serials, ``%2F %23`` in CPI references); values are
decoded, checked against the GS1 character sets (82 and 39), and re-encoded for
the Digital Link with every character except ``A-Z a-z 0-9 - . _`` as ``%XX``
(upper-case hex), which is what the Digital Link grammar requires.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, unquote

from schemas.identifiers.epc_fast import fast_canonical
from schemas.identifiers.errors import IdentifierError
from schemas.identifiers.gs1 import (
    _CSET39,
    _CSET82,
    KEY_NAMES,
    CompanyPrefixTable,
    DigitalLink,
    _first_bad,
    _mod10,
    parse_digital_link,
)

__all__ = [
    "CANONICAL_IDS",
    "GS1_RESOLVER",
    "CanonicalIds",
    "CompanyPrefixTable",
    "canonical_epc",
    "digital_link_to_urn",
    "is_epc_urn",
    "urn_to_digital_link",
]

GS1_RESOLVER = "https://id.gs1.org"

Elements = tuple[tuple[str, str], ...]  # Digital Link path: (AI, unencoded value) pairs in order

_GS3A3_LITERAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!'()*+,-.:;=_")
_CPREF_LITERAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_GS3A3_PLAIN = re.compile(r"[A-Za-z0-9!'()*+,\-.:;=_]+")
_CPREF_PLAIN = re.compile(r"[A-Z0-9\-]+")

_URN_RE = re.compile(r"(?i:urn:epc:)(id|class|idpat):([a-z0-9]+):(.*)", re.S)
_BASE_RE = re.compile(r"(?i:https?)://[^/?#\s]+(?:/[^?#\s]*)?")
_CANDIDATE = re.compile(r"(?i:urn:epc:|https?://)")
_DL_SAFE = re.compile(r"[A-Za-z0-9._-]*")
_URN_ESCAPES = str.maketrans({'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"})
_CPI_ESCAPES = str.maketrans({"/": "%2F", "#": "%23"})


# ---------------------------------------------------------------- URN components


class _Starts:
    """1-based positions of the URN components, computed only when an error needs one."""

    __slots__ = ("_base", "_parts")

    def __init__(self, parts: list[str], base: int) -> None:
        self._parts, self._base = parts, base

    def __getitem__(self, index: int) -> int:
        return self._base + sum(len(part) + 1 for part in self._parts[:index])


def _component(kind: str, comp: str, s: _Starts, i: int, what: str, max_len: int, *, cpi: bool = False) -> str:
    """Decode a serial-like URN component (GS3A3, or CPI reference when ``cpi``) and check it."""
    if len(comp) <= max_len and (_CPREF_PLAIN if cpi else _GS3A3_PLAIN).fullmatch(comp):
        return comp  # the common case: no escapes, nothing to decode
    literal, charset = (_CPREF_LITERAL, _CSET39) if cpi else (_GS3A3_LITERAL, _CSET82)
    if not comp:
        raise IdentifierError(kind, "length", f"{what} is empty", position=s[i])
    bad = _first_bad(comp, literal)
    if bad >= 0:
        raise IdentifierError(kind, "alphabet", f"{what} may not contain {comp[bad]!r}", position=s[i] + bad)
    value = unquote(comp, errors="replace")
    for char in value:
        if char not in charset:
            where = comp.find("%")
            raise IdentifierError(
                kind, "alphabet", f"{what} decodes to {char!r}, outside the GS1 character set", position=s[i] + where
            )
    if len(value) > max_len:
        raise IdentifierError(
            kind, "length", f"{what} may have at most {max_len} characters, got {len(value)}", position=s[i]
        )
    return value


def _numeric(kind: str, comp: str, s: _Starts, i: int, what: str) -> str:
    if comp and not (comp.isdigit() and comp.isascii()):
        bad = next(j for j, c in enumerate(comp) if not "0" <= c <= "9")
        raise IdentifierError(kind, "alphabet", f"{what} must be digits, found {comp[bad]!r}", position=s[i] + bad)
    return comp


def _gcp(kind: str, comp: str, s: _Starts, i: int = 0) -> str:
    _numeric(kind, comp, s, i, "GS1 Company Prefix")
    if not 6 <= len(comp) <= 12:
        raise IdentifierError(
            kind, "length", f"GS1 Company Prefix must have 6 to 12 digits, got {len(comp)}", position=s[i]
        )
    return comp


def _pair(kind: str, parts: list[str], s: _Starts, total: int, what: str) -> tuple[str, str]:
    gcp = _gcp(kind, parts[0], s)
    ref = _numeric(kind, parts[1], s, 1, what)
    if len(gcp) + len(ref) != total:
        raise IdentifierError(
            kind,
            "length",
            f"GS1 Company Prefix and {what} must have {total} digits together, got {len(gcp) + len(ref)}",
            position=s[1],
        )
    return gcp, ref


def _gtin_of(gcp: str, ref: str) -> str:
    data = ref[0] + gcp + ref[1:]
    return data + _mod10(data)


def _key(data: str) -> str:
    return data + _mod10(data)


# ---------------------------------------------------------------- URN → Digital Link elements

Builder = Callable[[str, list[str], _Starts, bool], Elements]


def _gtin_scheme(ai: str, what: str, max_len: int) -> Builder:
    """SGTIN (21), LGTIN (10), UPUI (235): GTIN plus one qualifier."""

    def build(kind: str, p: list[str], s: _Starts, whole: bool) -> Elements:
        gtin = _gtin_of(*_pair(kind, p, s, 13, "indicator digit and item reference"))
        if not whole:
            return (("01", gtin),)
        return (("01", gtin), (ai, _component(kind, p[2], s, 2, what, max_len)))

    return build


def _serial13_scheme(ai: str, lead: str, what: str, max_len: int, *, numeric: bool = False) -> Builder:
    """GRAI (8003), GDTI (253), SGCN (255): 12 data digits + check digit, then the serial appended."""

    def build(kind: str, p: list[str], s: _Starts, whole: bool) -> Elements:
        base = lead + _key("".join(_pair(kind, p, s, 12, what)))
        if not whole:
            return ((ai, base),)
        if numeric:
            serial = _numeric(kind, p[2], s, 2, "serial")
            if not 1 <= len(serial) <= max_len:
                raise IdentifierError(kind, "length", f"serial must have 1 to {max_len} digits", position=s[2])
        else:
            serial = _component(kind, p[2], s, 2, "serial", max_len)
        return ((ai, base + serial),)

    return build


def _plain_scheme(ai: str, total: int, what: str, *, extension_first: bool = False) -> Builder:
    """SSCC (00), GSRN (8018), GSRNP (8017), GSIN (402), PGLN (417): digits + check digit."""

    def build(kind: str, p: list[str], s: _Starts, whole: bool) -> Elements:
        gcp, ref = _pair(kind, p, s, total, what)
        data = ref[0] + gcp + ref[1:] if extension_first else gcp + ref
        return ((ai, _key(data)),)

    return build


def _alnum_scheme(ai: str, what: str) -> Builder:
    """GIAI (8004), GINC (401): company prefix + alphanumeric reference, 30 characters at most."""

    def build(kind: str, p: list[str], s: _Starts, whole: bool) -> Elements:
        gcp = _gcp(kind, p[0], s)
        return ((ai, gcp + _component(kind, p[1], s, 1, what, 30 - len(gcp))),)

    return build


def _sgln(kind: str, p: list[str], s: _Starts, whole: bool) -> Elements:
    gln = _key("".join(_pair(kind, p, s, 12, "location reference")))
    ext = _component(kind, p[2], s, 2, "extension", 20)
    return (("414", gln),) if ext == "0" else (("414", gln), ("254", ext))


def _cpi(kind: str, p: list[str], s: _Starts, whole: bool) -> Elements:
    gcp = _gcp(kind, p[0], s)
    cpid = gcp + _component(kind, p[1], s, 1, "component/part reference", 30 - len(gcp), cpi=True)
    if not whole:
        return (("8010", cpid),)
    serial = _numeric(kind, p[2], s, 2, "serial")
    if not 1 <= len(serial) <= 12 or (len(serial) > 1 and serial[0] == "0"):
        raise IdentifierError(kind, "length", "serial must be 1 to 12 digits without leading zeros", position=s[2])
    return (("8010", cpid), ("8011", serial))


def _itip(kind: str, p: list[str], s: _Starts, whole: bool) -> Elements:
    gtin = _gtin_of(*_pair(kind, p, s, 13, "indicator digit and item reference"))
    for index, what in ((2, "piece number"), (3, "total count")):
        if len(_numeric(kind, p[index], s, index, what)) != 2:
            raise IdentifierError(kind, "length", f"{what} must have 2 digits", position=s[index])
    itip = gtin + p[2] + p[3]
    if not whole:
        return (("8006", itip),)
    return (("8006", itip), ("21", _component(kind, p[4], s, 4, "serial", 20)))


# scheme → (number of components, builder, whether "<key>.*" patterns have a class-level key)
_ID_SCHEMES: dict[str, tuple[int, Builder, bool]] = {
    "sgtin": (3, _gtin_scheme("21", "serial", 20), True),
    "upui": (3, _gtin_scheme("235", "third-party controlled serial", 28), True),
    "sscc": (2, _plain_scheme("00", 17, "extension digit and serial reference", extension_first=True), False),
    "sgln": (3, _sgln, False),
    "pgln": (2, _plain_scheme("417", 12, "party reference"), False),
    "grai": (3, _serial13_scheme("8003", "0", "asset type", 16), True),
    "gdti": (3, _serial13_scheme("253", "", "document type", 17), True),
    "sgcn": (3, _serial13_scheme("255", "", "coupon reference", 12, numeric=True), True),
    "giai": (2, _alnum_scheme("8004", "individual asset reference"), False),
    "ginc": (2, _alnum_scheme("401", "consignment reference"), False),
    "gsrn": (2, _plain_scheme("8018", 17, "service reference"), False),
    "gsrnp": (2, _plain_scheme("8017", 17, "service reference"), False),
    "gsin": (2, _plain_scheme("402", 16, "shipper reference"), False),
    "cpi": (3, _cpi, True),
    "itip": (5, _itip, True),
}
_CLASS_SCHEMES: dict[str, tuple[int, Builder, bool]] = {"lgtin": (3, _gtin_scheme("10", "lot", 20), False)}


def _urn_elements(urn: str) -> Elements | None:
    """Digital Link elements for an EPC URN; None for a valid pattern that has no Digital Link form."""
    match = _URN_RE.fullmatch(urn)
    if match is None:
        raise IdentifierError("epc", "syntax", f"not an EPC URN (urn:epc:id|class|idpat:<scheme>:…): {urn!r}")
    form, scheme, body = match.groups()
    spec = (_CLASS_SCHEMES if form == "class" else _ID_SCHEMES).get(scheme)
    if spec is None:
        known = ", ".join(_CLASS_SCHEMES if form == "class" else _ID_SCHEMES)
        raise IdentifierError(
            scheme, "scheme", f"urn:epc:{form}:{scheme} is not a GS1 EPC scheme handled here ({known})"
        )
    count, build, has_class = spec
    parts = body.split(".", count - 1)
    if len(parts) != count:
        raise IdentifierError(
            scheme,
            "syntax",
            f"expected {count} dot-separated components, got {len(parts)}",
            position=match.start(3) + 1,
        )
    starts = _Starts(parts, match.start(3) + 1)
    if form != "idpat":
        return build(scheme, parts, starts, True)
    wild = len(parts) - next((i for i in range(len(parts), 0, -1) if parts[i - 1] != "*"), 0)
    if "*" in parts[: len(parts) - wild]:
        bad = parts.index("*")
        raise IdentifierError(scheme, "pattern", "a wildcard may only be followed by wildcards", position=starts[bad])
    if wild == 0:
        return build(scheme, parts, starts, True)
    if wild == 1 and has_class:
        return build(scheme, parts, starts, False)
    if parts[0] != "*":
        _gcp(scheme, parts[0], starts)
    return None


def _build(base: str, elements: Elements) -> str:
    link = base
    for ai, value in elements:
        link += "/" + ai + "/" + (value if _DL_SAFE.fullmatch(value) else quote(value, safe=""))
    return link


def urn_to_digital_link(urn: str, *, base: str = GS1_RESOLVER) -> str:
    """The GS1 Digital Link URI for an EPC URN (check digits computed, values percent-encoded).

    ``base`` replaces ``https://id.gs1.org`` (e.g. a brand's own resolver).
    Raises :class:`IdentifierError` for a malformed URN, or for a pattern URN
    that has no Digital Link form (check ``pattern``).
    """
    if base != GS1_RESOLVER:
        if _BASE_RE.fullmatch(base) is None:
            raise IdentifierError("digital-link", "base", f"base must be an http(s) URI without query: {base!r}")
        base = base.rstrip("/")
    elements = _urn_elements(urn)
    if elements is None:
        raise IdentifierError(
            urn.split(":")[3],
            "pattern",
            f"{urn} has no GS1 Digital Link form: only a pattern that wildcards the serial alone "
            "(sgtin, upui, grai, gdti, sgcn, cpi, itip) names a class-level GS1 key",
        )
    return _build(base, elements)


def is_epc_urn(value: str) -> bool:
    """True for a well-formed GS1 EPC pure-identity, class or pattern URN (see the module docstring)."""
    if _URN_RE.match(value) is None:
        return False
    try:
        _urn_elements(value)
    except IdentifierError:
        return False
    return True


def _finest(link: DigitalLink) -> Elements:
    """The constrained canonical path: primary key plus the one qualifier an EPC carries (CBV 2.0 rule 18)."""
    quals = link.qualifiers
    kept: tuple[str, ...] = ()
    if link.ai in ("01", "8006"):
        kept = next(((q,) for q in ("21", "235", "10") if q in quals), ())
    elif link.ai in ("414", "8010") and quals:
        kept = tuple(quals)
    return ((link.ai, link.value), *((q, quals[q]) for q in kept))


# ---------------------------------------------------------------- Digital Link → URN


def digital_link_to_urn(url: str, prefix_lengths: CompanyPrefixTable) -> str:
    """The EPC URN for a GS1 Digital Link URI (any host; query string ignored).

    The result is the URN of the most fine-grained identification in the URI:
    serial over lot (``/01/…/10/…/21/…`` → SGTIN), a GTIN alone → its
    ``urn:epc:idpat:sgtin:…*`` pattern. ``prefix_lengths`` supplies where the
    GS1 Company Prefix ends; a key it does not cover raises ``IdentifierError``
    with check ``company-prefix``.
    """
    link = parse_digital_link(url)
    if link is None:
        raise IdentifierError("digital-link", "syntax", f"not a GS1 Digital Link URI with a primary key: {url!r}")
    ai, value, quals = link
    kind = KEY_NAMES[ai]
    table = prefix_lengths
    if ai in ("01", "8006"):
        gtin = value[:14]
        size = table.require(kind, value, gtin[1:13], 12)
        gcp, ref = gtin[1 : 1 + size], gtin[0] + gtin[1 + size : 13]
        if ai == "8006":
            head = f"{gcp}.{ref}.{value[14:16]}.{value[16:18]}"
            if "21" in quals:
                return f"urn:epc:id:itip:{head}.{quals['21'].translate(_URN_ESCAPES)}"
            if "10" in quals:
                raise IdentifierError(kind, "no-urn", f"an ITIP with a lot and no serial has no EPC URN: {url}")
            return f"urn:epc:idpat:itip:{head}.*"
        for qualifier, prefix in (("21", "id:sgtin"), ("235", "id:upui"), ("10", "class:lgtin")):
            if qualifier in quals:
                return f"urn:epc:{prefix}:{gcp}.{ref}.{quals[qualifier].translate(_URN_ESCAPES)}"
        return f"urn:epc:idpat:sgtin:{gcp}.{ref}.*"
    if ai == "00":
        size = table.require(kind, value, value[1:17], 12)
        return f"urn:epc:id:sscc:{value[1 : 1 + size]}.{value[0]}{value[1 + size : 17]}"
    if ai in ("414", "417", "253", "255", "8003"):
        digits = value[1:13] if ai == "8003" else value[:12]
        size = table.require(kind, value, digits, 12)
        head = f"{digits[:size]}.{digits[size:]}"
        if ai == "414":
            return f"urn:epc:id:sgln:{head}.{quals.get('254', '0').translate(_URN_ESCAPES)}"
        if ai == "417":
            return f"urn:epc:id:pgln:{head}"
        scheme = {"253": "gdti", "255": "sgcn", "8003": "grai"}[ai]
        serial = value[14:] if ai == "8003" else value[13:]
        if not serial:
            return f"urn:epc:idpat:{scheme}:{head}.*"
        return f"urn:epc:id:{scheme}:{head}.{serial.translate(_URN_ESCAPES)}"
    if ai in ("8017", "8018", "402"):
        digits = value[:-1]
        size = table.require(kind, value, digits, 12)
        return f"urn:epc:id:{kind}:{digits[:size]}.{digits[size:]}"
    # 8004 GIAI, 401 GINC, 8010 CPID: the company prefix is the leading digits of an alphanumeric value
    lead = len(value) - len(value.lstrip("0123456789"))
    size = table.require(kind, value, value[: min(lead, 12)], min(lead, len(value) - 1))
    gcp, rest = value[:size], value[size:]
    if ai == "8010":
        rest = rest.translate(_CPI_ESCAPES)
        return (
            f"urn:epc:id:cpi:{gcp}.{rest}.{quals['8011']}" if "8011" in quals else f"urn:epc:idpat:cpi:{gcp}.{rest}.*"
        )
    return f"urn:epc:id:{'giai' if ai == '8004' else 'ginc'}:{gcp}.{rest.translate(_URN_ESCAPES)}"


# ---------------------------------------------------------------- the event-hash entry point


def canonical_epc(value: str) -> str:
    """The canonical identifier the CBV 2.0 event hash uses for ``value``.

    An EPC URN → its Digital Link URI on ``https://id.gs1.org``; a GS1 Digital
    Link URI (any host) → the constrained canonical form (``https://id.gs1.org``,
    no query string, GTIN as 14 digits, only the most fine-grained level:
    ``/01/…/10/…/21/…`` → ``/01/…/21/…``); anything else, including malformed
    keys and patterns without a Digital Link form, unchanged. Never raises.
    """
    if _CANDIDATE.match(value) is None:
        return value
    return CANONICAL_IDS[value]


def _general(value: str) -> str:
    """:func:`canonical_epc` of a non-empty value, by the general machinery."""
    try:
        if value[0] in "uU":
            elements = _urn_elements(value)
        else:
            link = parse_digital_link(value)
            elements = None if link is None else _finest(link)
    except IdentifierError:
        return value
    return value if elements is None else _build(GS1_RESOLVER, elements)


class CanonicalIds(dict[str, str]):
    """``ids[value]`` is :func:`canonical_epc` of ``value`` (any non-empty string), remembered.

    One bounded table (emptied when full, so a long run of unique serials cannot grow it
    without end): the hand-written fast path (:mod:`.epc_fast`) first, the general path when it
    declines. ``cache_clear()`` empties it (benchmarks start cold).
    """

    __slots__ = ()
    maxsize = 65_536

    def __missing__(self, value: str) -> str:
        result = fast_canonical(value)
        if result is None:
            result = _general(value)
        if len(self) >= self.maxsize:
            self.clear()
        self[value] = result
        return result

    def cache_clear(self) -> None:
        self.clear()


CANONICAL_IDS = CanonicalIds()
"""The process's table of canonical identifiers (used by :func:`canonical_epc` and the event hash)."""
