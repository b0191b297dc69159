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
while serials rarely do, so the Digital Link head of each ``<scheme>:<company prefix>.<reference>.``
(check digit included) is kept in a bounded table: an unseen serial of a known product costs a
couple of ``find``\\s, a dict lookup, a character check and a concatenation.
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

# scheme → (digits of company prefix + reference, Digital Link head before the key, longest serial)
# Serial schemes: "<company prefix>.<reference>.<serial>".
_SERIAL_SCHEMES: dict[str, tuple[int, str, int]] = {
    "sgtin": (13, "01/", 20),  # GTIN, then /21/<serial>
    "upui": (13, "01/", 28),  # GTIN, then /235/<serial>
    "lgtin": (13, "01/", 20),  # (urn:epc:class:) GTIN, then /10/<lot>
    "grai": (12, "8003/0", 16),  # key, serial appended
    "gdti": (12, "253/", 17),
    "sgcn": (12, "255/", 12),  # serial: digits
    "sgln": (12, "414/", 20),  # GLN, then /254/<extension> unless the extension is 0
}
_SERIAL_TAILS = {"sgtin": "/21/", "upui": "/235/"}
# Keys without a serial: "<company prefix>.<reference>" → AI / digits + check digit.
_KEY_SCHEMES: dict[str, tuple[int, str]] = {
    "sscc": (17, "00/"),  # extension digit first
    "pgln": (12, "417/"),
    "gsrn": (17, "8018/"),
    "gsrnp": (17, "8017/"),
    "gsin": (16, "402/"),
}
_ALNUM_SCHEMES = {"giai": "8004/", "ginc": "401/"}  # "<company prefix>.<reference>", 30 characters together

_heads: dict[str, str] = {}
"""``urn:epc:…:<scheme>:<company prefix>.<reference>.`` → Digital Link head, "" when not plain and valid."""
_gtins: dict[str, str] = {}
"""Digital Link GTIN segment → ``https://id.gs1.org/01/<GTIN>``, "" when it is not 14 digits with their check digit."""
_hosts: dict[str, bool] = {}


def _digits(text: str) -> bool:
    return text.isdigit() and text.isascii()


def _plain(text: str, longest: int) -> bool:
    """1 to ``longest`` characters of ``A-Z a-z 0-9 - . _``."""
    return len(text) <= longest and (
        (text.isalnum() and text.isascii()) or (bool(text) and _PLAIN.fullmatch(text) is not None)
    )


def _split(gcp: str, ref: str, total: int) -> bool:
    """A company prefix of 6 to 12 digits and a reference of digits, ``total`` digits together."""
    return 6 <= len(gcp) <= 12 and len(gcp) + len(ref) == total and _digits(gcp) and (not ref or _digits(ref))


def _remember(table: dict[str, str], key: str, value: str) -> str:
    if len(table) >= _TABLE_SIZE:
        table.clear()
    table[key] = value
    return value


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
    if value.startswith("id:", 8):
        start = value.find(":", 11) + 1
        if start <= 0:
            return None
        scheme = value[11 : start - 1]
        if scheme == "lgtin":  # a class, never urn:epc:id:
            return None
    elif value.startswith("class:lgtin:", 8):
        start, scheme = 20, "lgtin"
    else:
        return None
    first = value.find(".", start)
    if first < 0:
        return None
    key = _KEY_SCHEMES.get(scheme)
    if key is not None:
        gcp, ref = value[start:first], value[first + 1 :]
        if not _split(gcp, ref, key[0]):
            return None
        data = ref[0] + gcp + ref[1:] if scheme == "sscc" else gcp + ref
        return _RESOLVER + key[1] + data + _mod10(data)
    if scheme in _ALNUM_SCHEMES:
        gcp, ref = value[start:first], value[first + 1 :]
        if not (6 <= len(gcp) <= 12 and _digits(gcp) and _plain(ref, 30 - len(gcp))):
            return None
        return _RESOLVER + _ALNUM_SCHEMES[scheme] + gcp + ref
    spec = _SERIAL_SCHEMES.get(scheme)
    second = value.find(".", first + 1) + 1
    if spec is None or second <= 0:
        return None
    head = _heads.get(value[:second])
    if head is None:
        gcp, ref = value[start:first], value[first + 1 : second - 1]
        head = ""
        if _split(gcp, ref, spec[0]):
            data = ref[0] + gcp + ref[1:] if spec[0] == 13 else gcp + ref
            head = _RESOLVER + spec[1] + data + _mod10(data)
        _remember(_heads, value[:second], head)
    if not head:
        return None
    serial = value[second:]
    if spec[0] == 13:  # GTIN + serial, lot or third-party controlled serial
        return head + _SERIAL_TAILS.get(scheme, "/10/") + serial if _plain(serial, spec[2]) else None
    if scheme == "sgln":
        if serial == "0":
            return head
        return head + "/254/" + serial if _plain(serial, 20) else None
    if scheme == "sgcn":
        return head + serial if _digits(serial) and len(serial) <= 12 else None
    return head + serial if _plain(serial, spec[2]) else None


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
        valid = len(gtin) == 14 and _digits(gtin) and _mod10(gtin[:13]) == gtin[13]
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
