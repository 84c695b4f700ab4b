"""One run of a `FakeSandbox` (tests only): what the in-container runner does for one request, on the host.

Started by `tests/fake_backend.py` as `python fake_supervisor.py` with the request as JSON on stdin;
answers with the runner's result message as JSON on stdout. It makes itself a child subreaper
(prctl PR_SET_CHILD_SUBREAPER), so every process the run starts, even one that called setsid and
double-forked, is re-parented to it when its parent dies: when the run ends or times out it kills
them all, as the runner's sweep does inside a container. The output is captured with the real
runner's own head-and-tail cap (`_Capture`), so truncation looks the same on both backends.
SIGTERM (the sandbox is closed or lost mid-run) kills the run's processes and exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

from sandbox.incontainer import runner

Capture: Any = runner._Capture  # the real runner's head-and-tail output cap (an untyped, stdlib-only module)

PR_SET_CHILD_SUBREAPER = 36
SWEEP_SECONDS = 3.0


class Stop(Exception):
    """SIGTERM: the sandbox is closing."""


def _stop(signum: int, frame: object) -> None:
    raise Stop


def _children() -> list[int]:
    """Live (non-zombie) processes whose parent is this supervisor."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            found.append(int(entry))
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep() -> int:
    """SIGKILL every descendant (they are all re-parented here as their parents die) until none is left."""
    deadline = time.monotonic() + SWEEP_SECONDS
    while True:
        live = _children()
        for pid in live:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _reap()
        if not live or time.monotonic() > deadline:
            return len(live)
        time.sleep(0.001)


def _start(request: dict[str, Any]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", request["code"]], cwd=request["workdir"], env=request["env"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _read(fd: int, captures: dict[int, Any], open_fds: list[int]) -> None:
    chunk = os.read(fd, 1 << 16)
    if chunk:
        captures[fd].add(chunk)
    else:
        open_fds.remove(fd)


def _watch(pid: int, captures: dict[int, Any], deadline: float) -> tuple[int, bool]:
    """(exit code, timed out): returns when the run's own process exits (its output may still flow)."""
    pidfd = os.pidfd_open(pid)
    open_fds = list(captures)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _kill(pid), True
            ready, _, _ = select.select([*open_fds, pidfd], [], [], remaining)
            for fd in ready:
                if fd in captures:
                    _read(fd, captures, open_fds)
            if pidfd in ready:
                _, status = os.waitpid(pid, 0)
                return os.waitstatus_to_exitcode(status), False
    finally:
        os.close(pidfd)


def _kill(pid: int) -> int:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _drain(captures: dict[int, Any], deadline: float) -> None:
    """What is left in the pipes once every writer is gone."""
    open_fds = list(captures)
    while open_fds and time.monotonic() < deadline:
        ready, _, _ = select.select(open_fds, [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return
        for fd in ready:
            _read(fd, captures, open_fds)


def run(request: dict[str, Any]) -> dict[str, Any]:
    cap = int(request["max_output"])
    started = time.monotonic()
    child = _start(request)
    assert child.stdout is not None and child.stderr is not None
    out, err = Capture(cap), Capture(cap)
    captures = {child.stdout.fileno(): out, child.stderr.fileno(): err}
    try:
        exit_code, timed_out = _watch(child.pid, captures, started + float(request["timeout"]))
        child.returncode = exit_code
        duration = time.monotonic() - started
    finally:
        sweep()
    _drain(captures, time.monotonic() + 1.0)
    limits = [name for name, hit in (("timeout", timed_out), ("output", out.truncated or err.truncated)) if hit]
    return {"event": "result", "exit_code": exit_code, "stdout": out.text(), "stderr": err.text(),
            "duration_ms": round(duration * 1000.0, 3), "timed_out": timed_out, "oom_killed": False,
            "output_truncated": out.truncated or err.truncated, "limits_hit": limits}


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"fake supervisor: prctl(PR_SET_CHILD_SUBREAPER) failed: errno {ctypes.get_errno()}")
    request = json.loads(sys.stdin.buffer.read())
    try:
        reply = run(request)
    except Stop:
        sweep()
        sys.exit(3)
    sys.stdout.write(json.dumps(reply))


if __name__ == "__main__":
    main()
