"""tracebus private URIs for codes that are not GS1 keys (``docs/private-uri-scheme.md``).

These strings are part of event hashes: the functions here are the only place
they are built, and their output for a given input must never change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote

from schemas.identifiers.errors import IdentifierError

PREFIX: Final = "urn:tracebus:"
KINDS: Final[dict[str, dict[str, int]]] = {
    # category → kind → number of value parts
    "id": {"tracecode": 1, "drugcode": 1},
    "class": {"batch": 2},
    "party": {"uscc": 1, "person": 1},
    "loc": {"region": 1, "plot": 2, "stall": 2},
    "doc": {
        "animal-quarantine": 1,
        "meat-quality": 1,
        "compliance": 1,
        "origin": 1,
        "test-report": 1,
        "import-quarantine": 1,
        "customs-declaration": 1,
        "voucher": 1,
        "sc-licence": 1,
    },
}
# (category, kind, part index) of parts that are USCCs or drug trace codes: upper-cased
_UPPER_CASE: Final = frozenset(
    {("id", "drugcode", 0), ("party", "uscc", 0), ("class", "batch", 0), ("loc", "plot", 0), ("loc", "stall", 0)}
)
# RFC 3986 unreserved characters stay; everything else, ":" included, is percent-encoded
_SAFE: Final = "-._~"


@dataclass(frozen=True, slots=True)
class PrivateUri:
    category: str
    kind: str
    values: tuple[str, ...]

    def __str__(self) -> str:
        return build(self.category, self.kind, *self.values)


def _encode(category: str, kind: str, index: int, value: str) -> str:
    text = value.strip()
    if not text:
        raise IdentifierError(f"{category}:{kind}", "empty", f"value part {index + 1} is empty")
    if (category, kind, index) in _UPPER_CASE:
        text = text.upper()
    return quote(text, safe=_SAFE, encoding="utf-8")


def build(category: str, kind: str, *values: str) -> str:
    """``build("class", "batch", uscc, "SL20261120A")`` → ``urn:tracebus:class:batch:<USCC>:SL20261120A``."""
    kinds = KINDS.get(category)
    if kinds is None:
        raise IdentifierError("tracebus-uri", "category", f"unknown category {category!r}; one of {sorted(KINDS)}")
    parts = kinds.get(kind)
    if parts is None:
        raise IdentifierError("tracebus-uri", "kind", f"unknown kind {kind!r} for {category}; one of {sorted(kinds)}")
    if len(values) != parts:
        raise IdentifierError(f"{category}:{kind}", "parts", f"takes {parts} value part(s), got {len(values)}")
    return PREFIX + f"{category}:{kind}:" + ":".join(_encode(category, kind, i, v) for i, v in enumerate(values))


def parse(uri: str) -> PrivateUri:
    """The inverse of :func:`build`; raises IdentifierError for anything else."""
    if not uri.startswith(PREFIX):
        raise IdentifierError("tracebus-uri", "prefix", f"does not start with {PREFIX}")
    pieces = uri[len(PREFIX) :].split(":")
    if len(pieces) < 3:
        raise IdentifierError("tracebus-uri", "parts", "needs category, kind and value")
    category, kind, values = pieces[0], pieces[1], tuple(unquote(p, encoding="utf-8") for p in pieces[2:])
    if build(category, kind, *values) != uri:
        raise IdentifierError("tracebus-uri", "canonical-form", f"{uri!r} is not in canonical form")
    return PrivateUri(category, kind, values)


def is_private_uri(value: str) -> bool:
    return value.startswith(PREFIX)
