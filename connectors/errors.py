"""Connector errors (the whole tree is drawn in :mod:`streams.errors`)."""

from __future__ import annotations

from schemas.errors import TracebusError


class ConnectorError(TracebusError):
    """A problem of a connector (source or sink)."""


class ConnectorConfigError(ConnectorError):
    """The connector's configuration was refused before start.

    ``problems`` lists each refused key with its reason (``("tasks.max", "must be ≥ 1")``),
    so the REST API and the CLI can report every problem at once.
    """

    def __init__(self, message: str, *, problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class UnknownConnectorError(ConnectorError):
    """No connector class, or no running connector, has that name."""


class SourceUnavailableError(ConnectorError):
    """The source's system cannot be read right now (database down, remote cluster unreachable).

    The runner retries with backoff and reports it as the connector's last error; nothing is skipped.
    """


class RetriableSinkError(ConnectorError):
    """The write failed but may succeed if the same batch is tried again (timeouts, 5xx, 429)."""


class SinkRejectedError(ConnectorError):
    """The target refused the batch for good (e.g. HTTP 400): retrying cannot help.

    ``reason`` is a short label used as the dead-letter reason and metric label.
    """

    def __init__(self, message: str, *, reason: str = "rejected") -> None:
        super().__init__(message)
        self.reason = reason
