"""Connector errors (the whole tree is drawn in :mod:`streams.errors`)."""

from __future__ import annotations

from schemas.errors import TracebusError


class ConnectorError(TracebusError):
    """A problem of a connector (source or sink)."""


class ConnectorConfigError(ConnectorError):
    """The connector's configuration was refused before start."""


class RetriableSinkError(ConnectorError):
    """The write failed but may succeed if the same batch is tried again (timeouts, 5xx, 429)."""


class SinkRejectedError(ConnectorError):
    """The target refused the batch for good (e.g. HTTP 400): retrying cannot help.

    ``reason`` is a short label used as the dead-letter reason and metric label.
    """

    def __init__(self, message: str, *, reason: str = "rejected") -> None:
        super().__init__(message)
        self.reason = reason
