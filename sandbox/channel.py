"""The server's end of the runner protocol, over a container's attach stream.

Docker multiplexes the container's stdout and stderr on the attach socket as frames
(8-byte header: stream type, 3 zero bytes, big-endian payload length). The runner's protocol
messages are JSON lines on stdout; whatever it writes to stderr is logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
import time
from typing import Any

from medgym.errors import SandboxLostError, SandboxTimeoutError

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">BxxxI")


class RunnerChannel:
    """Send JSON requests to the runner and read its JSON replies, one at a time."""

    def __init__(self, sock: socket.socket, name: str):
        self._sock = sock
        self._name = name
        self._buffer = bytearray()
        self._stdout = bytearray()
        self._lock = threading.Lock()
        self.closed = False

    def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and wait for the reply (the runner serves one request at a time)."""
        with self._lock:
            self.send(message)
            return self.receive(timeout_s)

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self.closed = True
            raise SandboxLostError(f"sandbox {self._name}: the runner's input is closed ({exc})") from exc

    def receive(self, timeout_s: float) -> dict[str, Any]:
        """The next protocol message, skipping nothing but stderr frames (which are logged)."""
        deadline = time.monotonic() + timeout_s
        while True:
            newline = self._stdout.find(b"\n")
            if newline >= 0:
                line = bytes(self._stdout[:newline])
                del self._stdout[: newline + 1]
                reply: dict[str, Any] = json.loads(line)
                return reply
            self._read_frame(deadline)

    def _read_frame(self, deadline: float) -> None:
        header = self._read_exactly(_HEADER.size, deadline)
        stream, size = _HEADER.unpack(header)
        payload = self._read_exactly(size, deadline)
        if stream == 2:
            log.debug("sandbox %s runner stderr: %s", self._name, payload.decode(errors="replace").rstrip())
        else:
            self._stdout += payload

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxTimeoutError(f"sandbox {self._name}: the runner did not answer in time")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(max(65536, size - len(self._buffer)))
            except TimeoutError:
                continue
            except OSError as exc:
                self.closed = True
                raise SandboxLostError(f"sandbox {self._name}: connection to the runner lost ({exc})") from exc
            if not chunk:
                self.closed = True
                raise SandboxLostError(f"sandbox {self._name}: the runner exited or the container stopped")
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
