"""The in-container runner: the sandbox container's main process.

It is started as `python3 -u -c <this source>` (so the image needs nothing of medgym's), imports
the scientific stack once, then serves requests read as JSON lines on stdin and answers with
JSON lines on the original stdout, both carried by the container's attach stream.

Each `run` request executes its code in a fresh forked child with the semantics of
`python script.py`: fresh globals, `__name__ == "__main__"`, cwd `/workspace`, `sys.argv` set,
tracebacks with source lines. The child gets its own session and process group; when it ends
(or the timeout fires) every other process in the container is killed, so nothing a run starts
outlives it. Output is captured through pipes and capped while streaming (head and tail kept).
The child raises its OOM score so the kernel's OOM killer picks it (never the runner).

Only the standard library is used here: this file must run on any Python 3.9+.
"""

import json
import os
import select
import signal
import sys
import time

PROTOCOL = 1
PRELOAD_DEFAULT = "numpy,pandas"
TAIL_BYTES = 8192
SWEEP_SECONDS = 3.0


def _send(fd, message):
    data = (json.dumps(message, ensure_ascii=True) + "\n").encode("ascii")
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _preload(names):
    loaded, failed = [], []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        try:
            __import__(name)
            loaded.append(name)
        except Exception as exc:  # a missing optional package must not stop the runner
            failed.append("%s: %s" % (name, exc))
    return loaded, failed


def _oom_kills():
    """The container cgroup's OOM-kill counter (v1 or v2), or None when unreadable."""
    for path, key in (
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
    ):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == key:
                        return int(parts[1])
        except (OSError, ValueError):
            continue
    return None


def _other_pids():
    mine = {1, os.getpid()}
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in mine:
            pids.append(int(entry))
    return pids


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep():
    """SIGKILL every process in the container but init and the runner, until none is left."""
    deadline = time.monotonic() + SWEEP_SECONDS
    while True:
        pids = _other_pids()
        live = []
        for pid in pids:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state == "Z":  # a zombie is already dead; its parent (init or us) reaps it
                continue
            live.append(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap()
        if not live or time.monotonic() > deadline:
            return len(live)
        time.sleep(0.005)


class _Capture:
    """Keeps the first `head` bytes and the last `tail` bytes of a stream, counts the rest."""

    def __init__(self, cap):
        self.tail_cap = min(TAIL_BYTES, cap // 4)
        self.head_cap = cap - self.tail_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk):
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_cap:
            self.tail += chunk
            if len(self.tail) > self.tail_cap:
                del self.tail[: len(self.tail) - self.tail_cap]

    @property
    def truncated(self):
        return self.total > len(self.head) + len(self.tail)

    def text(self):
        head = bytes(self.head).decode("utf-8", "replace")
        if not self.truncated:
            return head + bytes(self.tail).decode("utf-8", "replace")
        omitted = self.total - len(self.head) - len(self.tail)
        marker = "\n[... medgym: %d bytes of output omitted ...]\n" % omitted
        return head + marker + bytes(self.tail).decode("utf-8", "replace")


def _child(code, filename, w_out, w_err):
    """In the forked child: become `python script.py` and never return."""
    status = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(w_out, 1)
        os.dup2(w_err, 2)
        os.closerange(3, 65536)
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(os.environ.get("MEDGYM_WORKDIR", "/workspace"))
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        status = _execute(code, filename)
    except BaseException:
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(status)


def _execute(code, filename):
    import atexit
    import builtins
    import linecache
    import threading
    import traceback

    lines = code.splitlines(True)
    linecache.cache[filename] = (len(code), None, lines, filename)
    sys.argv = [filename]
    sys.path[0] = os.getcwd()
    namespace = {"__name__": "__main__", "__file__": filename, "__builtins__": builtins,
                 "__doc__": None, "__package__": None, "__spec__": None, "__loader__": None}
    status = 0
    try:
        exec(compile(code, filename, "exec", dont_inherit=True), namespace)
    except SystemExit as exc:
        status = _exit_status(exc)
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != filename:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)
        status = 1
    try:
        threading._shutdown()  # like the interpreter at exit: wait for non-daemon threads
        atexit._run_exitfuncs()
    except BaseException:
        pass
    return status


def _exit_status(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def run(request, counter):
    code = request.get("code", "")
    timeout = float(request.get("timeout", 30.0))
    cap = int(request.get("max_output", 65536))
    filename = "/workspace/<run-%d>.py" % counter
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    oom_before = _oom_kills()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(r_out)
        os.close(r_err)
        _child(code, filename, w_out, w_err)
    os.close(w_out)
    os.close(w_err)
    captures = {r_out: _Capture(cap), r_err: _Capture(cap)}
    status, timed_out = _supervise(pid, captures, start + timeout)
    duration = time.monotonic() - start
    leftovers = sweep()
    _drain(captures, time.monotonic() + 1.0)
    for fd in captures:
        os.close(fd)
    oom_after = _oom_kills()
    exit_code = os.waitstatus_to_exitcode(status) if status is not None else -9
    killed = exit_code == -signal.SIGKILL
    if oom_before is not None and oom_after is not None:
        oom_killed = oom_after > oom_before and not timed_out
    else:
        oom_killed = killed and not timed_out
    out, err = captures[r_out], captures[r_err]
    return {
        "event": "result",
        "id": request.get("id"),
        "exit_code": exit_code,
        "stdout": out.text(),
        "stderr": err.text(),
        "stdout_bytes": out.total,
        "stderr_bytes": err.total,
        "duration_ms": round(duration * 1000.0, 3),
        "timed_out": timed_out,
        "oom_killed": oom_killed,
        "output_truncated": out.truncated or err.truncated,
        "leftover_processes": leftovers,
    }


def _supervise(pid, captures, deadline):
    """Stream output until the child exits or the deadline passes; returns (status, timed_out).

    The child's exit is watched through a pidfd, so a run returns as soon as it ends.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        return _watch(pid, pidfd, captures, deadline)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _watch(pid, pidfd, captures, deadline):
    open_fds = list(captures)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _kill_run(pid), True
        watched = open_fds + ([pidfd] if pidfd is not None else [])
        ready, _, _ = select.select(watched, [], [], remaining if pidfd is not None else min(remaining, 0.01))
        for fd in ready:
            if fd == pidfd:
                continue
            chunk = os.read(fd, 1 << 16)
            if chunk:
                captures[fd].add(chunk)
            else:
                open_fds.remove(fd)
        if pidfd is None or pidfd in ready:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status, False


def _kill_run(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        status = None
    sweep()
    return status


def _drain(captures, deadline):
    """Read what is left in the pipes after every writer is gone."""
    fds = list(captures)
    while fds and time.monotonic() < deadline:
        ready, _, _ = select.select(fds, [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                captures[fd].add(chunk)
            else:
                fds.remove(fd)


def main():
    proto = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # stray prints of preloaded modules must not corrupt the protocol
    loaded, failed = _preload(os.environ.get("MEDGYM_PRELOAD", PRELOAD_DEFAULT))
    _send(proto, {"event": "ready", "protocol": PROTOCOL, "pid": os.getpid(),
                  "preloaded": loaded, "preload_failed": failed})
    stdin = os.fdopen(0, "rb", buffering=1 << 16)
    counter = 0
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as exc:
            _send(proto, {"event": "error", "message": "bad request: %s" % exc})
            continue
        op = request.get("op")
        if op == "run":
            counter += 1
            _send(proto, run(request, counter))
        elif op == "ping":
            _send(proto, {"event": "pong", "id": request.get("id")})
        elif op == "exit":
            break
        else:
            _send(proto, {"event": "error", "id": request.get("id"), "message": "unknown op %r" % op})
    sweep()


if __name__ == "__main__":
    main()
