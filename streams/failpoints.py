"""Failpoints for crash tests: named places in the stream core where a process can SIGKILL itself.

Off unless ``TRACEBUS_FAILPOINTS`` is set when this module is imported. The
variable lists ``name:count`` pairs separated by commas, e.g.
``router.after-send:3,sink.during-delivery:5``: the *count*-th time this
process reaches the point *name*, it writes one line to stderr
(``tracebus failpoint <name> reached (<count>): SIGKILL``) and sends itself
``SIGKILL`` — no cleanup, no flush, no offset commit, as in a power cut of the
process. Unset (production), :func:`reach` is one global lookup and a return.

The points (each is one call in the named place):

``router.after-send``
    :meth:`streams.router_service.RouterService.process`, after every output of
    the batch (subscription topics, provenance) was acknowledged by Kafka and
    before the dead letters, the state changelog and the input offsets are
    written. A restart re-processes the batch from its first offset and sends
    its outputs again (redeliveries with the same identities).
``router.after-state``
    the same method, after the batch's state was acknowledged on the changelog
    and applied locally, before the input offsets are committed. A restart
    re-reads a batch whose state says "seen, delivered": nothing of it is sent
    again (its undecodable records are dead-lettered again).
``sink.during-delivery``
    :meth:`streams.sinks.SinkRunner._write_once` (either lane: the main one or the retry topic's), after the sink's
    ``write`` returned (for the webhook sink: the subscriber answered 2xx) and
    before the runner commits the batch's offsets. A restart delivers the batch
    again (the subscriber sees the same ``Idempotency-Key`` and identities).

``source.after-publish``
    :meth:`connectors.runtime.source_runner.SourceRunner.publish`, after a
    poll's events, messages and dead letters were acknowledged and before the
    source's positions are saved. A restart reads those records again and
    publishes them again with the same identities.

A malformed variable (an entry without ``:``, a count that is not a positive
integer) raises :class:`ValueError` at import: a crash test that silently ran
without its crashes would prove nothing.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from typing import Final

ENVIRONMENT_VARIABLE: Final = "TRACEBUS_FAILPOINTS"
POINTS: Final = ("router.after-send", "router.after-state", "sink.during-delivery", "source.after-publish")


def parse(value: str) -> dict[str, int]:
    """``"a:3,b:2"`` → ``{"a": 3, "b": 2}``; blanks around entries are ignored."""
    armed: dict[str, int] = {}
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, colon, count = entry.rpartition(":")
        name = name.strip()
        if not colon or not name or not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"{ENVIRONMENT_VARIABLE}: {entry!r} is not name:count with a count of 1 or more")
        if name not in POINTS:
            raise ValueError(f"{ENVIRONMENT_VARIABLE}: unknown failpoint {name!r} (known: {', '.join(POINTS)})")
        armed[name] = int(count)
    return armed


_ARMED: Final[Mapping[str, int]] = parse(os.environ.get(ENVIRONMENT_VARIABLE, ""))
_reached: dict[str, int] = {}


def reach(name: str) -> None:
    """Count one pass through ``name``; SIGKILL this process on the armed pass (no-op when unarmed)."""
    if not _ARMED:
        return
    target = _ARMED.get(name)
    if target is None:
        return
    count = _reached.get(name, 0) + 1
    _reached[name] = count
    if count == target:
        sys.stderr.write(f"tracebus failpoint {name} reached ({count}): SIGKILL\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
