"""Conformance kits: how the conformance suite drives one connector's *real* transport.

Every registered connector names its kit (``conformance="module:Class"`` in
:func:`connectors.registry.register`). The suite
(``tests/integration/test_conformance.py``) runs the same checks over every
kit, on the embedded broker and the machine's real services — never an
in-memory double:

* start and stop cleanly;
* a config error is refused before start, naming the key;
* a bad record ends in the dead-letter topic with its original bytes and context;
* killed (SIGKILL at a failpoint) and restarted, it resumes with no loss and
  repeats only records that were in flight, with the same identities.

A kit prepares the transport in ``setup`` (a directory, a table, a listening
server, a second broker) and undoes it in ``teardown``. Identities are what
the suite compares across a kill: for a source, the ``source_record`` of each
event it published (or the kit's own notion for pre-framed output); for a
sink, the ``event_id`` of each record found at the target, repeats included.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord

from schemas.codec import Deserializer


class ConformanceKit(abc.ABC):
    """Common part of source and sink kits."""

    connector_class: str
    """The registered name the kit exercises."""

    @abc.abstractmethod
    async def setup(self, workdir: Path, *, bootstrap_servers: str, namespace: str) -> None:
        """Prepare the real transport; ``workdir`` is empty and private to this kit instance."""

    async def teardown(self) -> None:  # noqa: B027 - optional hook
        """Undo ``setup`` (drop tables, stop servers); must not raise."""

    @abc.abstractmethod
    def config(self, name: str) -> dict[str, Any]:
        """A valid raw config (Kafka Connect key names) for an instance called ``name``."""

    @abc.abstractmethod
    def bad_config(self, name: str) -> tuple[dict[str, Any], str]:
        """An invalid raw config and the key its error must name (an unknown key is not enough: a bad value)."""


class SourceKit(ConformanceKit):
    """Puts native records on the source's transport and tells what must come out."""

    pushes_while_running = False
    """True when records can only be handed over while the connector runs (HTTP push): the suite calls
    ``put_good`` after start, and ``put_good`` itself retries across the connector's restart."""

    @abc.abstractmethod
    async def put_good(self, count: int, *, start: int = 0) -> list[str]:
        """Write ``count`` valid native records (numbered from ``start``); return their identities."""

    @abc.abstractmethod
    async def put_bad(self) -> bytes:
        """Write one record that cannot be mapped; return the original bytes its dead letter must carry."""

    def output_topic(self, namespace: str) -> str:
        """Where the source's output lands (``events.incoming`` for mapped sources)."""
        return f"{namespace}.events.incoming"

    async def identities(self, messages: list[ConsumerRecord], deserializer: Deserializer) -> list[str]:
        """The identity of each output message, in order, repeats included."""
        identities = []
        for message in messages:
            envelope = await deserializer.decode_any(message.value)
            identities.append(str(envelope["source_record"]))
        return identities


class SinkKit(ConformanceKit):
    """Reads back what a sink wrote to its target."""

    @abc.abstractmethod
    def config(self, name: str, topic: str = "") -> dict[str, Any]:
        """A valid raw config reading ``topic`` (a short topic name, without the namespace)."""

    @abc.abstractmethod
    def bad_config(self, name: str, topic: str = "") -> tuple[dict[str, Any], str]:
        """An invalid raw config and the key its error must name."""

    @abc.abstractmethod
    async def delivered(self) -> list[str]:
        """The ``event_id`` of every record at the target, in write order, repeats included."""
