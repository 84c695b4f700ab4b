"""A hung test fails the run; it never blocks it (a pytest plugin, loaded by tests/conftest.py).

pytest-timeout (signal method) fails a test that outlives its `timeout` and the run goes on. Two
ways a hang could still block CI are closed here:

- the main thread is stuck where no signal handler runs (a C call): a faulthandler backstop, armed
  for each test at its timeout plus `BACKSTOP_S`, dumps every thread's stack and exits the process;
- a timed-out test left a non-daemon thread behind (e.g. an anyio worker still in a blocking call):
  the interpreter would wait for it forever at exit, so a watchdog ends the process (with the
  session's result, or 1) when it is still exiting `LINGER_S` after the session.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
from collections.abc import Iterator

import pytest

BACKSTOP_S = 60.0
LINGER_S = 30.0
_stderr_fd: int | None = None
_exit_status = 0
_sessions = 0  # pytest sessions running in this process (a test may run pytest in-process)


def pytest_configure(config: pytest.Config) -> None:
    global _stderr_fd, _sessions
    _sessions += 1
    if _stderr_fd is None:
        stream = sys.stderr if hasattr(sys.stderr, "fileno") and sys.stderr.fileno() >= 0 else sys.__stderr__
        _stderr_fd = os.dup(stream.fileno()) if stream is not None else 2  # output capture is not active yet


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    timeout = _timeout_of(item)
    if timeout > 0 and _stderr_fd is not None:
        faulthandler.dump_traceback_later(timeout + BACKSTOP_S, exit=True, file=_stderr_fd)
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Watch the interpreter's exit: it waits for every non-daemon thread, and one left stuck by a
    timed-out test would make it wait forever."""
    global _sessions
    _sessions -= 1
    if _sessions > 0:
        return
    threading.Thread(target=_exit_if_still_here, name="medgym-tests-exit-watchdog", daemon=True).start()


def _exit_if_still_here() -> None:
    time.sleep(LINGER_S)
    stuck = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if not stuck:  # the process is still busy on its main thread (a pytest-xdist worker waits for its peers)
        return
    os.write(_stderr_fd or 2, f"\ntests left threads that never end ({', '.join(stuck)}); exiting\n".encode())
    os._exit(_exit_status or 1)
