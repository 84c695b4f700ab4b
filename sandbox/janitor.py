"""A watcher that removes a process's containers when that process dies, however it dies.

A container is made in three engine calls (create, attach, start). A running container's runner
sees end of file when its owner goes, and the container removes itself; but an owner killed
between create and start (a warm pool refilling, a start in progress) leaves a container that
never ran, in the state "created", which nothing inside it can remove: until now it waited for
the next server (or Ray agent) on the host to reap it.

So before a process creates its first container or network on an engine, `guard` starts a small
janitor process for it, detached: in a session of its own (a signal to the owner's process group
does not reach it) and no longer its child (it forks once and the first process exits, so a Ray
worker, which kills its children when it is killed, does not take it along). The janitor blocks
on a pipe that only the owner writes to. When the pipe closes, the
owner is gone: the janitor removes every container, then every network, on that engine whose
`medgym.owner` label is the owner's, sweeps again one and three seconds later (an engine may
finish a create whose caller died), and exits. An owner that exits normally writes a byte first
(at exit): then one sweep, for whatever it left, and no wait. The janitor imports only the
standard library and two small modules of ours until it has work to do, and never touches a
container of another owner.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import IO, Any

from sandbox.containers import remove_container
from sandbox.labels import OWNER, owner_label

log = logging.getLogger(__name__)

EXITING = b"q"  # written by an owner that exits normally
SWEEPS_AFTER_CRASH_S = (0.0, 1.0, 3.0)  # delays of the sweeps after an owner died
SPAWN_TIMEOUT_S = 30.0

_hosts: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()
_janitors: dict[tuple[int, str | None], IO[bytes] | None] = {}  # (owner pid, engine) -> the pipe to its janitor
_lock = threading.Lock()


def note_engine(client: Any, docker_host: str | None) -> None:
    """Remember how `client` reached its engine (None: the environment's DOCKER_HOST or local socket)."""
    _hosts[client] = docker_host


def guard(client: Any) -> None:
    """Make sure a janitor watches this process's containers on `client`'s engine. Never raises: a
    janitor that cannot start only means the next server on the host reaps what a crash leaves."""
    host = _hosts.get(client)
    key = (os.getpid(), host)
    with _lock:
        if key in _janitors:
            return
        try:
            _janitors[key] = _spawn(owner_label(), host)
        except Exception as exc:  # not even started (no interpreter to run, no processes left)
            log.warning("no janitor for this process's containers (%s): a crash leaves them to the next reaper", exc)
            _janitors[key] = None  # tried once; not again


def _spawn(owner: str, host: str | None) -> IO[bytes]:
    """Start a detached janitor for `owner`; the write end of its pipe."""
    root = str(Path(__file__).resolve().parents[1])  # the directory holding the `sandbox` package
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    first = subprocess.Popen(
        [sys.executable, "-m", "sandbox.janitor", owner, host or ""], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd="/", start_new_session=True)
    assert first.stdin is not None
    try:
        first.wait(timeout=SPAWN_TIMEOUT_S)  # it forks the janitor and exits at once
    except (subprocess.TimeoutExpired, ChildProcessError) as exc:  # slow, or reaped by someone else
        log.warning("the janitor's first process did not exit in time (%s); keeping its pipe", exc)
    return first.stdin  # kept open whatever happened: closing it would start a sweep


def _release() -> None:
    """At a normal exit: tell this process's janitors to sweep once and go, without the crash's wait."""
    pid = os.getpid()
    with _lock:
        for (owner_pid, _), pipe in _janitors.items():
            if pipe is None or owner_pid != pid:
                continue
            try:
                pipe.write(EXITING)
                pipe.close()
            except OSError:
                pass


atexit.register(_release)


# -- the janitor process ---------------------------------------------------------------------
def _wait_for_owner() -> bool:
    """Block until the owner closes the pipe; True when it said it was exiting normally."""
    last = b""
    while chunk := os.read(0, 64):
        last = chunk
    return last.endswith(EXITING)


def sweep(client: Any, owner: str) -> int:
    """Remove the containers, then the networks, labelled with `owner`; how many were removed."""
    removed = 0
    wanted = {"label": [f"{OWNER}={owner}"]}
    try:
        for container in client.api.containers(all=True, filters=wanted):
            removed += remove_container(client, container["Id"])  # False: gone already (auto_remove)
        for network in client.api.networks(filters=wanted):
            try:
                client.api.remove_network(network["Id"])
                removed += 1
            except Exception:  # still in use: the next sweep, or the next reaper
                pass
    except Exception:  # the engine is gone: nothing to sweep on it
        pass
    return removed


def main(argv: list[str]) -> int:
    owner, host = argv[0], argv[1] or None
    if os.fork():
        os._exit(0)  # the owner waits for this first process; the janitor goes on as an orphan
    exiting = _wait_for_owner()
    import docker

    try:
        client = docker.DockerClient(base_url=host) if host else docker.from_env()
    except Exception:  # no engine: nothing to sweep
        return 0
    started = time.monotonic()
    for delay in (0.0,) if exiting else SWEEPS_AFTER_CRASH_S:
        time.sleep(max(0.0, started + delay - time.monotonic()))
        sweep(client, owner)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
