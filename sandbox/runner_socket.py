"""The direct channel to a sandbox's runner: a unix socket the server listens on.

Docker's attach stream carries every message through dockerd and the container's shim (about a
millisecond per round trip, and their CPU). When the engine runs on this machine, the server
instead listens on a unix socket in a fresh directory of its own, mounted read-only into that one
container at `MOUNT`. The runner connects to it as its first act, before any code can run in the
container; the server accepts that one connection once the runner says it is ready, then closes
the listener and removes the socket file and its directory, so nothing can connect afterwards.

Who can reach the socket: the directory lives in a per-process directory only the server's user
can enter (mode 0700), so no other user of the host can; inside the container it is the only thing
in a read-only mount, and only the runner exists when it connects. The connection itself is the
runner's descriptor, which the code it runs cannot reach (the runner is not dumpable, and its
children close every descriptor they inherit).

When the engine is elsewhere (`DOCKER_HOST=tcp://…`, ssh) or the path cannot be reached from the
container (a server that runs in a container of its own), the runner says so in its ready message
and the attach stream carries the protocol as before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

MOUNT = "/run/medgym"
SOCKET_NAME = "runner.sock"
LOCAL_ENGINE = "http+docker://localhost"  # the docker SDK's base URL for an engine on a unix socket
_MAX_PATH = 100  # sockaddr_un holds 108 bytes
_PREFIX = "medgym-channels-"  # + the pid of the process whose directory it is

_base_lock = threading.Lock()
_base: list[Path] = []


def engine_is_local(client: object) -> bool:
    """True when the docker SDK client talks to an engine on this machine's unix socket."""
    return getattr(getattr(client, "api", None), "base_url", None) == LOCAL_ENGINE


def _base_dir() -> Path:
    """This process's directory of channel directories (private, removed at exit; those of processes
    that died without removing theirs are removed here)."""
    with _base_lock:
        if not _base:
            _remove_stale(Path(tempfile.gettempdir()))
            path = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))  # mode 0700
            atexit.register(_remove_own, path, os.getpid())
            _base.append(path)
        return _base[0]


def _remove_own(path: Path, creator: int) -> None:
    """At exit, in the process that made `path` (not in a forked child that inherited the handler)."""
    if os.getpid() == creator:
        shutil.rmtree(path, ignore_errors=True)


def _remove_stale(tmp: Path) -> None:
    """Remove the channel directories of this user's medgym processes that are gone (SIGKILLed)."""
    for path in tmp.glob(f"{_PREFIX}*-*"):
        pid = path.name[len(_PREFIX):].split("-", 1)[0]
        try:
            if path.stat().st_uid != os.getuid() or not pid.isdigit():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive under another user (EPERM), or vanished meanwhile
            continue


class ChannelListener:
    """One sandbox's listening socket and its directory, until its runner connects."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="c-", dir=_base_dir()))
        self.path = self.dir / SOCKET_NAME
        self._sock: socket.socket | None = None
        try:
            if len(str(self.path)) > _MAX_PATH:
                raise OSError(f"socket path too long: {self.path}")
            os.chmod(self.dir, 0o711)  # the container's user may pass through it (the parent keeps others out)
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.bind(str(self.path))
            os.chmod(self.path, 0o666)  # connecting needs write permission; the container's user is not ours
            self._sock.listen(1)
        except OSError:
            self.close()
            raise

    @property
    def environment(self) -> dict[str, str]:
        return {"SANDBOX_CHANNEL": f"{MOUNT}/{SOCKET_NAME}"}

    def accept(self, timeout_s: float) -> socket.socket:
        """The runner's connection (it connected before saying it was ready); then nothing else can connect."""
        assert self._sock is not None
        try:
            self._sock.settimeout(timeout_s)
            conn, _ = self._sock.accept()
        finally:
            self.close()
        conn.settimeout(None)
        return conn

    def close(self) -> None:
        """Stop listening and remove the socket file and its directory. Idempotent."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            self.dir.rmdir()
