"""The server's end of the runner protocol: over a unix socket the runner connected to, or over a
container's attach stream.

The runner's protocol messages are JSON lines. On a unix socket (`framed=False`) they are the
bytes themselves. On the attach stream Docker multiplexes the container's stdout and stderr as
frames (8-byte header: stream type, 3 zero bytes, big-endian payload length): the messages are
on stdout, and whatever the runner writes to stderr is logged.

Two ways to make a request, over the same socket and buffers: `request` blocks (for threads: a
sandbox starting, the warm pool's liveness ping, `medgym certify`), `request_async` runs on the
event loop with non-blocking socket I/O, so a `run_code` needs no worker thread. Every request
carries an id that the runner echoes; a reply to another id (never expected) is skipped.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread

from medgym.errors import SandboxLostError, SandboxTimeoutError

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">BxxxI")
OnWait = Callable[[float], Awaitable[None]]
_READ_SIZE = 1 << 16


class RunnerChannel:
    """Send JSON requests to the runner and read its JSON replies, one at a time."""

    def __init__(self, sock: socket.socket, name: str, framed: bool = True):
        self._sock = sock
        self._name = name
        self._framed = framed  # Docker's attach framing, or plain bytes (a unix socket)
        self._buffer = bytearray()  # raw bytes from the socket, not yet parsed into frames
        self._stdout = bytearray()  # the runner's stdout, not yet split into lines
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.closed = False
        self._closed_here = False  # by `close`, rather than by the runner's end

    # -- blocking -------------------------------------------------------------------------------
    def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and wait for its reply (the runner serves one request at a time)."""
        with self._lock:
            message_id = next(self._ids)
            self.send({**message, "id": message_id}, timeout_s)
            return self._reply_to(message_id, lambda: self.receive(timeout_s))

    def send(self, message: dict[str, Any], timeout_s: float) -> None:
        self._sock.settimeout(timeout_s)
        try:
            self._sock.sendall(_encode(message))
        except TimeoutError:
            raise self._timeout() from None
        except OSError as exc:
            raise self._lost(f"the runner's input is closed ({exc})") from exc

    def receive(self, timeout_s: float) -> dict[str, Any]:
        """The next protocol message, skipping nothing but stderr frames (which are logged)."""
        deadline = time.monotonic() + timeout_s
        while (reply := self._next_message()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout()
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(_READ_SIZE)
            except TimeoutError:
                continue
            except OSError as exc:
                raise self._lost(f"connection to the runner lost ({exc})") from exc
            self._take(chunk)
        return reply

    # -- on the event loop ----------------------------------------------------------------------
    async def request_async(self, message: dict[str, Any], timeout_s: float, on_wait: OnWait | None = None,
                            every_s: float = 5.0) -> dict[str, Any]:
        """`request` without a worker thread; `on_wait(elapsed_s)` is awaited every `every_s` seconds
        while the reply is awaited (e.g. to report progress). Not cancellable, like a blocking request
        in a thread: a reply left unread would belong to nobody, so a cancelled caller waits for it."""
        if not self._lock.acquire(blocking=False):  # never contended in practice: be correct anyway
            await anyio.to_thread.run_sync(self._lock.acquire)
        try:
            with anyio.CancelScope(shield=True):
                reply = await self._exchange_async(message, timeout_s, _Ticks(on_wait, every_s))
        finally:
            self._lock.release()
        return reply

    async def _exchange_async(self, message: dict[str, Any], timeout_s: float, ticks: _Ticks) -> dict[str, Any]:
        message_id = next(self._ids)
        deadline = time.monotonic() + timeout_s
        with anyio.move_on_after(timeout_s) as sending:
            await self._send_async(_encode({**message, "id": message_id}))
        if sending.cancelled_caught:
            raise self._timeout()
        reply = await self._receive_async(deadline, ticks)
        while reply.get("id") not in (message_id, None):
            self._skipped(reply)
            reply = await self._receive_async(deadline, ticks)
        return reply

    async def _send_async(self, data: bytes) -> None:
        self._sock.setblocking(False)
        view = memoryview(data)
        while view:
            try:
                view = view[self._sock.send(view):]
            except BlockingIOError:
                await anyio.wait_writable(self._sock)
            except OSError as exc:
                raise self._lost(f"the runner's input is closed ({exc})") from exc

    async def _receive_async(self, deadline: float, ticks: _Ticks) -> dict[str, Any]:
        self._sock.setblocking(False)
        while (reply := self._next_message()) is None:
            try:
                chunk = self._sock.recv(_READ_SIZE)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timeout() from None
                with anyio.move_on_after(min(remaining, ticks.until_next())):
                    await anyio.wait_readable(self._sock)
                await ticks.tick()
                continue
            except OSError as exc:
                raise self._lost(f"connection to the runner lost ({exc})") from exc
            self._take(chunk)
        return reply

    # -- framing --------------------------------------------------------------------------------
    def _reply_to(self, message_id: int, receive: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        reply = receive()
        while reply.get("id") not in (message_id, None):
            self._skipped(reply)
            reply = receive()
        return reply

    def _skipped(self, reply: dict[str, Any]) -> None:
        log.warning("sandbox %s: skipped a reply to an earlier request (%r)", self._name, reply.get("id"))

    def _take(self, chunk: bytes) -> None:
        if not chunk:
            raise self._lost("the runner exited or the container stopped")
        if self._framed:
            self._buffer += chunk
        else:
            self._stdout += chunk

    def _next_message(self) -> dict[str, Any] | None:
        """The next complete JSON line of the runner's stdout, parsing whatever frames are buffered."""
        while (newline := self._stdout.find(b"\n")) < 0:
            if not self._next_frame():
                return None
        line = bytes(self._stdout[:newline])
        del self._stdout[: newline + 1]
        message: dict[str, Any] = json.loads(line)
        return message

    def _next_frame(self) -> bool:
        if len(self._buffer) < _HEADER.size:
            return False
        stream, size = _HEADER.unpack_from(self._buffer)
        end = _HEADER.size + size
        if len(self._buffer) < end:
            return False
        payload = bytes(self._buffer[_HEADER.size:end])
        del self._buffer[:end]
        if stream == 2:
            log.debug("sandbox %s runner stderr: %s", self._name, payload.decode(errors="replace").rstrip())
        else:
            self._stdout += payload
        return True

    def _lost(self, why: str) -> SandboxLostError:
        if self._closed_here:  # `close` was called, from another thread, while a request was in flight
            why = "the channel to the runner was closed"
        self.closed = True
        return SandboxLostError(f"sandbox {self._name}: {why}")

    def _timeout(self) -> SandboxTimeoutError:
        return SandboxTimeoutError(f"sandbox {self._name}: the runner did not answer in time")

    def close(self) -> None:
        self._closed_here = True
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


class _Ticks:
    """Calls `on_wait(elapsed)` at every multiple of `every_s` seconds since it was made (when awaited)."""

    def __init__(self, on_wait: OnWait | None, every_s: float):
        self._on_wait = on_wait
        self._every = every_s
        self._start = time.monotonic()
        self._count = 0

    def until_next(self) -> float:
        if self._on_wait is None:
            return float("inf")
        return max(0.0, self._start + (self._count + 1) * self._every - time.monotonic())

    async def tick(self) -> None:
        if self._on_wait is None or self.until_next() > 0:
            return
        self._count += 1
        with anyio.move_on_after(self._every):  # a peer that does not read must not hold up the run
            await self._on_wait(self._count * self._every)


def _encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()
