"""The embedded broker: starts, answers, stops, and never leaves a process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from streams.errors import BrokerError
from streams.kafka.broker import EmbeddedBroker, free_loopback_port, wait_for_metadata

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still "exists" for kill(0): check its state
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


async def test_start_answers_metadata_and_stop_leaves_no_process() -> None:
    broker = EmbeddedBroker()
    bootstrap = await broker.start()
    pid = broker.pid
    assert pid is not None
    assert _alive(pid)
    assert bootstrap.startswith("127.0.0.1:")
    await wait_for_metadata(bootstrap, 5)
    broker.stop()
    assert not _alive(pid)
    broker.stop()  # idempotent


async def test_failed_start_raises_and_leaves_no_process() -> None:
    with socket_taken() as port:
        broker = EmbeddedBroker(port=port, startup_timeout_s=3)
        with pytest.raises(BrokerError):
            await broker.start()
        assert broker.pid is None


async def test_metadata_wait_gives_up_with_a_clear_error() -> None:
    port = free_loopback_port()
    with pytest.raises(BrokerError, match=f"127.0.0.1:{port} did not answer metadata within 0.5s"):
        await wait_for_metadata(f"127.0.0.1:{port}", 0.5)


def test_broker_dies_with_a_killed_parent() -> None:
    script = (
        "import asyncio, sys\n"
        "from streams.kafka.broker import EmbeddedBroker\n"
        "b = EmbeddedBroker()\n"
        "asyncio.run(b.start())\n"
        "print(b.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    broker_pid = int(parent.stdout.readline())
    assert _alive(broker_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(broker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(broker_pid), "the broker must not outlive a SIGKILLed parent"


class socket_taken:  # noqa: N801 - used like a function
    """Hold a loopback port so the broker cannot bind it."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
