"""Fast path of :func:`schemas.identifiers.epc.canonical_epc` for the identifiers events carry most.

Handles, with ``str`` methods and slicing instead of the general machinery of :mod:`.epc` and
:mod:`.gs1`:

* EPC URNs ``urn:epc:id:sgtin|upui|grai|gdti|sgcn|sgln|sscc|pgln|gsrn|gsrnp|gsin|giai|ginc:…``
  and ``urn:epc:class:lgtin:…`` whose components are plain: digits, and serials (lots,
  extensions, references) of ``A-Z a-z 0-9 - . _`` only, so nothing is decoded or
  percent-encoded;
* GS1 Digital Link URIs ``http(s)://<host>/01/<GTIN-14>`` followed by the qualifiers
  ``22``/``10``/``21`` (in that order) or ``235``, with the same plain values and no
  trailing slash (a query string or fragment is ignored, as by the general path).

Everything else (patterns, escapes, other schemes, aliases, path prefixes, malformed values)
gives None, and the general path decides; so does every value whose validity is in any
doubt. For what it does handle, the answer is the string the general path builds.

Company prefix and reference repeat across events (the same product, asset type, location)
while serials rarely do, so the Digital Link head of each ``…:<scheme>:<company prefix>.<reference>``
(check digit included) is kept in a bounded table: an unseen serial of a known product costs an
``rpartition``, a dict lookup, a character check and a concatenation. Check digits are computed
from the digits' ASCII codes (two sums over the bytes, minus a precomputed bias per length).
"""

from __future__ import annotations

import re

from schemas.identifiers.gs1 import _mod10

__all__ = ["fast_canonical"]

_RESOLVER = "https://id.gs1.org/"
_PLAIN = re.compile(r"[A-Za-z0-9._-]+")
"""Serial-like values needing neither Tag Data Standard decoding nor Digital Link encoding."""
_HOST = re.compile(r"[^/?#\s]+")
_NO_SPACE = re.compile(r"\S*")
_TABLE_SIZE = 1 << 14

# form of the URN body after "<scheme>:"
_SERIAL = 0  # "<company prefix>.<reference>.<serial>": key from the first two, then the serial
_KEY = 1  # "<company prefix>.<reference>": the key's digits, check digit added
_ALNUM = 2  # "<company prefix>.<reference>": alphanumeric, 30 characters together
# what the serial may be
_ANY = 0  # plain characters
_EXT = 1  # plain characters; "0" means none (SGLN extension)
_NUM = 2  # digits (SGCN)

_Scheme = tuple[int, int, bool, str, str, int, int]
"""form, digits of company prefix + reference, whether the reference's first digit leads the key,
Digital Link path before the key, path between key and serial, longest serial, what the serial may be."""
_SCHEMES: dict[str, _Scheme] = {
    "sgtin": (_SERIAL, 13, True, "01/", "/21/", 20, _ANY),
    "upui": (_SERIAL, 13, True, "01/", "/235/", 28, _ANY),
    "grai": (_SERIAL, 12, False, "8003/0", "", 16, _ANY),
    "gdti": (_SERIAL, 12, False, "253/", "", 17, _ANY),
    "sgcn": (_SERIAL, 12, False, "255/", "", 12, _NUM),
    "sgln": (_SERIAL, 12, False, "414/", "/254/", 20, _EXT),
    "sscc": (_KEY, 17, True, "00/", "", 0, _ANY),
    "pgln": (_KEY, 12, False, "417/", "", 0, _ANY),
    "gsrn": (_KEY, 17, False, "8018/", "", 0, _ANY),
    "gsrnp": (_KEY, 17, False, "8017/", "", 0, _ANY),
    "gsin": (_KEY, 16, False, "402/", "", 0, _ANY),
    "giai": (_ALNUM, 0, False, "8004/", "", 0, _ANY),
    "ginc": (_ALNUM, 0, False, "401/", "", 0, _ANY),
}
"""``urn:epc:id:`` schemes."""
_LGTIN: _Scheme = (_SERIAL, 13, True, "01/", "/10/", 20, _ANY)
"""``urn:epc:class:lgtin``."""

_heads: dict[str, tuple[str, int, int]] = {}
"""``urn:epc:…:<scheme>:<company prefix>.<reference>`` of a serial scheme → (Digital Link up to the serial,
longest serial, what the serial may be); ``("", 0, 0)`` when company prefix or reference is not valid."""
_gtins: dict[str, str] = {}
"""Digital Link GTIN segment → ``https://id.gs1.org/01/<GTIN>``, "" when it is not 14 digits with their check digit."""
_hosts: dict[str, bool] = {}


def _plain(text: str, longest: int) -> bool:
    """1 to ``longest`` characters of ``A-Z a-z 0-9 - . _``."""
    return len(text) <= longest and (
        (text.isalnum() and text.isascii()) or (bool(text) and _PLAIN.fullmatch(text) is not None)
    )


_BIAS = [3 * 48 * ((size + 1) // 2) + 48 * (size // 2) for size in range(32)]
"""What the ASCII codes (48 + digit) of ``size`` digits add to their weighted sum (weights 3, 1, 3, …)."""


def _key(gcp: str, ref: str, total: int, lead: bool) -> str:
    """The key's digits with their GS1 mod-10 check digit; "" unless the company prefix has 6 to 12
    digits and the reference digits only, ``total`` digits together."""
    if not 6 <= len(gcp) <= 12 or len(gcp) + len(ref) != total:
        return ""
    data = ref[0] + gcp + ref[1:] if lead else gcp + ref
    if not (data.isdigit() and data.isascii()):
        return ""
    codes = data.encode()  # weights 3, 1, 3, … from the rightmost digit; check digit = -sum mod 10
    return data + "0987654321"[(3 * sum(codes[-1::-2]) + sum(codes[-2::-2]) - _BIAS[total]) % 10]


def _remember(table: dict[str, str], key: str, value: str) -> str:
    if len(table) >= _TABLE_SIZE:
        table.clear()
    table[key] = value
    return value


def _head(key: str, start: int, first: int, spec: _Scheme) -> tuple[str, int, int]:
    """The :data:`_heads` entry of ``key`` (``…:<company prefix>.<reference>``, the prefix from ``start``)."""
    _, total, lead, ai, tail, longest, rule = spec
    digits = _key(key[start:first], key[first + 1 :], total, lead)
    entry = (_RESOLVER + ai + digits + tail, longest, rule) if digits else ("", 0, 0)
    if len(_heads) >= _TABLE_SIZE:
        _heads.clear()
    _heads[key] = entry
    return entry


def fast_canonical(value: str) -> str | None:
    """The canonical Digital Link of a plain, common identifier; None to leave it to the general path."""
    if value.startswith("urn:epc:"):
        return _urn(value)
    if value.startswith("https://"):
        return _digital_link(value, 8)
    if value.startswith("http://"):
        return _digital_link(value, 7)
    return None


def _urn(value: str) -> str | None:
    prefix, _, serial = value.rpartition(".")
    known = _heads.get(prefix)  # the usual case: a known product (class, location) and a plain serial
    if known is not None and known[2] == _ANY and len(serial) <= known[1] and serial.isalnum() and serial.isascii():
        return known[0] + serial
    return _parse_urn(value)


def _parse_urn(value: str) -> str | None:
    if value.startswith("id:", 8):
        colon = value.find(":", 11)
        if colon < 0:
            return None
        spec = _SCHEMES.get(value[11:colon])
        if spec is None:
            return None
        start = colon + 1
    elif value.startswith("class:lgtin:", 8):
        spec, start = _LGTIN, 20
    else:
        return None
    form, total, lead, ai, tail, longest, rule = spec
    first = value.find(".", start)
    if first < 0:
        return None
    if form == _SERIAL:
        second = value.find(".", first + 1) + 1
        if second <= 0:
            return None
        head = _heads.get(value[: second - 1]) or _head(value[: second - 1], start, first, spec)
        serial = value[second:]
        if not head[0] or len(serial) > longest:
            return None
        if rule == _NUM:
            return head[0] + serial if serial.isdigit() and serial.isascii() else None
        if not (serial.isalnum() and serial.isascii()) and _PLAIN.fullmatch(serial) is None:
            return None
        return head[0][: -len(tail)] if rule == _EXT and serial == "0" else head[0] + serial
    gcp, ref = value[start:first], value[first + 1 :]
    if form == _KEY:
        key = _key(gcp, ref, total, lead)
        return _RESOLVER + ai + key if key else None
    if 6 <= len(gcp) <= 12 and gcp.isdigit() and gcp.isascii() and _plain(ref, 30 - len(gcp)):
        return _RESOLVER + ai + gcp + ref
    return None


_QUALIFIERS = {"22": 0, "10": 1, "21": 2}  # the order GS1 Digital Link allows after a GTIN


def _digital_link(value: str, start: int) -> str | None:
    """``http(s)://<host>/01/<GTIN-14>[/22/…][/10/…][/21/…]`` or ``…/01/<GTIN-14>/235/…``."""
    slash = value.find("/", start)
    if slash < 0 or not value.startswith("01/", slash + 1):
        return None
    host = value[start:slash]
    known = _hosts.get(host)
    if known is None:
        if len(_hosts) >= 256:
            _hosts.clear()
        known = _hosts[host] = _HOST.fullmatch(host) is not None
    if not known:
        return None
    end = len(value)
    for mark in ("?", "#"):
        found = value.find(mark, slash)
        if 0 <= found < end:
            end = found
    if end < len(value) and _NO_SPACE.fullmatch(value, end) is None:
        return None  # whitespace in the query or fragment: not a URI
    segments = value[slash + 4 : end].split("/")
    gtin = segments[0]
    link = _gtins.get(gtin)
    if link is None:
        valid = len(gtin) == 14 and gtin.isdigit() and gtin.isascii() and _mod10(gtin[:13]) == gtin[13]
        link = _remember(_gtins, gtin, _RESOLVER + "01/" + gtin if valid else "")
    if not link or len(segments) % 2 == 0:
        return None
    lot = serial = ""
    rank = -1
    for index in range(1, len(segments), 2):
        ai, text = segments[index], segments[index + 1]
        if ai == "235":
            if len(segments) != 3 or not _plain(text, 28):
                return None
            return link + "/235/" + text
        order = _QUALIFIERS.get(ai)
        if order is None or order <= rank or not _plain(text, 20):
            return None
        rank = order
        if order == 1:
            lot = text
        elif order == 2:
            serial = text
    if serial:
        return link + "/21/" + serial  # the finest level only (a lot or variant beside it is dropped)
    return link + "/10/" + lot if lot else link
