"""CBV vocabulary values in their three spellings, reduced to one.

EPCIS 2.0 JSON-LD uses bare names (``shipping``) or ``https://ref.gs1.org/cbv/BizStep-shipping``;
EPCIS 1.x and XML documents use ``urn:epcglobal:cbv:bizstep:shipping``. Routing
compares bare names; a value outside CBV (a user vocabulary URI) stays as given.
"""

from __future__ import annotations

from typing import Final

_PREFIXES: Final[dict[str, tuple[str, ...]]] = {
    "bizstep": (
        "urn:epcglobal:cbv:bizstep:",
        "https://ref.gs1.org/cbv/BizStep-",
        "cbv:BizStep-",
        "gs1:BizStep-",
    ),
    "disp": ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-", "cbv:Disp-", "gs1:Disp-"),
}


def bare_cbv(value: str | None, kind: str) -> str | None:
    """``urn:epcglobal:cbv:bizstep:shipping`` → ``shipping``; non-CBV values unchanged."""
    if value is None:
        return None
    for prefix in _PREFIXES[kind]:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value
