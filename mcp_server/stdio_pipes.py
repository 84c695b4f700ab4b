"""stdio on the event loop: the MCP SDK's stdio transport with non-blocking pipe I/O, no worker threads.

The SDK's `stdio_server` reads and writes through `anyio.wrap_file`, so every message costs three
hops to a worker thread of the shared pool (read a line, write it, flush) and back: about a third
of the no-op tool call's server CPU on a small machine, and a stdio server whose pool is busy with
blocking work could not even read its next request. When the server's stdin and stdout are pipes or
sockets (how MCP clients spawn servers), `pipe_streams` serves them from the event loop instead:
non-blocking reads split into lines, writes that wait for the pipe to drain.

As the SDK does, it claims descriptors 0 and 1 while serving: the protocol moves to private
duplicates, fd 0 reads the null device and fd 1 writes to stderr, so stray output of any code in
the process (or of a child it starts) cannot corrupt the protocol; both are restored on exit. Any
other stdin or stdout (a terminal, a file), and Windows, are left to the SDK's own transport.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import anyio

if sys.platform != "win32":  # pragma: no branch - POSIX only (Windows keeps the SDK's transport)
    import fcntl

READ_CHUNK = 1 << 16
log = logging.getLogger(__name__)


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class PipeLines:
    """The lines read from a non-blocking descriptor, as text (what the SDK iterates over on stdin).
    Bytes that are not UTF-8 are replaced, as the SDK's own transport does; a last line without a
    newline is still returned at end of file."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._eof = False

    def __aiter__(self) -> PipeLines:
        return self

    async def __anext__(self) -> str:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[: newline + 1])
                del self._buffer[: newline + 1]
                return line.decode("utf-8", errors="replace")
            if self._eof:
                if self._buffer:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    return line.decode("utf-8", errors="replace")
                raise StopAsyncIteration
            try:
                chunk = os.read(self.fd, READ_CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(self.fd)
                continue
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True


class PipeWriter:
    """Text written to a non-blocking descriptor, whole: a write waits while the pipe is full."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    async def write(self, text: str) -> int:
        view = memoryview(text.encode("utf-8"))
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                await anyio.wait_writable(self.fd)
        return len(text)

    async def flush(self) -> None:
        """Nothing is buffered here: every write has reached the pipe when it returns."""


@dataclass
class _Claim:
    fd: int
    private: int
    flags: int


def _claim(fd: int, diversion: int) -> _Claim:
    """Serve `fd`'s pipe from a private non-blocking duplicate, and point `fd` at `diversion`."""
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    try:
        flags = fcntl.fcntl(private, fcntl.F_GETFL)
        fcntl.fcntl(private, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        try:
            os.dup2(diversion, fd)
        except OSError:
            fcntl.fcntl(private, fcntl.F_SETFL, flags)
            raise
    except OSError:
        os.close(private)
        raise
    return _Claim(fd, private, flags)


def _release(claim: _Claim) -> None:
    with contextlib.suppress(OSError):
        fcntl.fcntl(claim.private, fcntl.F_SETFL, claim.flags)  # the pipe is shared with the client
        os.dup2(claim.private, claim.fd)
    with contextlib.suppress(OSError):
        os.close(claim.private)


def _null(flags: int) -> int:
    """The null device, opened on a descriptor above the standard three (one of which may be closed)."""
    fd = os.open(os.devnull, flags | os.O_CLOEXEC)
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    finally:
        os.close(fd)


def _writable_stream(fd: int) -> bool:
    """Whether `fd` is open for writing on a file, pipe, device or socket (a process started with fd 2
    closed may have anything there by now, e.g. its event loop's epoll descriptor)."""
    try:
        mode = os.fstat(fd).st_mode
        access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:
        return False
    kinds = (stat.S_ISREG, stat.S_ISFIFO, stat.S_ISCHR, stat.S_ISSOCK)
    return access in (os.O_WRONLY, os.O_RDWR) and any(kind(mode) for kind in kinds)


def _stdout_diversion() -> int:
    """Where fd 1 points while serving: stderr, or the null device when there is no stderr."""
    if _writable_stream(2):
        return fcntl.fcntl(2, fcntl.F_DUPFD_CLOEXEC, 3)
    return _null(os.O_WRONLY)


@contextlib.contextmanager
def pipe_streams() -> Iterator[tuple[PipeLines, PipeWriter] | None]:
    """The protocol's reader and writer on stdin and stdout when both are pipes or sockets, with fds
    0 and 1 diverted meanwhile; None otherwise, or when the descriptors cannot be claimed (the
    caller then uses the SDK's transport)."""
    if sys.platform == "win32" or not (_is_pipe(0) and _is_pipe(1)):
        yield None
        return
    claims: list[_Claim] = []
    diversions: list[int] = []
    try:
        try:
            diversions.append(stdout_to := _stdout_diversion())
            diversions.append(stdin_from := _null(os.O_RDONLY))
            claims.append(_claim(0, stdin_from))
            claims.append(_claim(1, stdout_to))
        except OSError as exc:
            log.warning("stdio: serving with the SDK's transport (cannot claim fds 0 and 1: %s)", exc)
            for claim in reversed(claims):
                _release(claim)
            claims.clear()
        yield (PipeLines(claims[0].private), PipeWriter(claims[1].private)) if claims else None
    finally:
        for claim in reversed(claims):
            _release(claim)
        for fd in diversions:
            with contextlib.suppress(OSError):
                os.close(fd)
