"""The identifier error: which check failed, where, and why."""

from __future__ import annotations

from schemas.errors import SchemaError


class IdentifierError(SchemaError, ValueError):
    """A code failed a check.

    ``kind`` names the code family (``gtin``, ``uscc``, ``sgtin`` …), ``check``
    the rule that failed (``length``, ``alphabet``, ``check-digit`` …) and
    ``position`` the 1-based character position concerned, when one is.
    """

    def __init__(self, kind: str, check: str, message: str, *, position: int | None = None) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{kind}: {check}{where}: {message}")
        self.kind = kind
        self.check = check
        self.position = position
        self.reason = message
