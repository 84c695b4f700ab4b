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

import atexit
import base64
import builtins
import gc
import json
import linecache
import os
import select
import signal
import stat
import sys
import threading
import time
import traceback

PROTOCOL = 1
WORKSPACE = "/workspace"
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


def _set_dumpable(flag):
    """prctl(PR_SET_DUMPABLE): a non-dumpable runner cannot be ptrace-attached (or have its /proc
    files read) by the code it runs, although that code runs under the same uid."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, int(flag), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _pids_max_events():
    """How often the container hit its process limit (cgroup v1 or v2), or None when unreadable."""
    for path in ("/sys/fs/cgroup/pids.events", "/sys/fs/cgroup/pids/pids.events"):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == "max":
                        return int(parts[1])
        except (OSError, ValueError):
            continue
    return None


def _full_filesystems(paths=("/workspace", "/tmp")):
    """The writable filesystems that are (nearly) full after a run."""
    full = []
    for path in paths:
        try:
            stats = os.statvfs(path)
        except OSError:
            continue
        if stats.f_blocks and stats.f_bavail * stats.f_frsize < 64 * 1024:
            full.append(path)
    return full


def _other_pids(exclude=None):
    mine = {1, os.getpid(), exclude}
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


def sweep(exclude=None):
    """SIGKILL every process in the container but the runner (and `exclude`), until none is left."""
    deadline = time.monotonic() + SWEEP_SECONDS
    while True:
        pids = _other_pids(exclude)
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
        time.sleep(0.0005)


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


class Spare:
    """A child forked ahead of time, set up and waiting for its code: a run starts without a fork.

    File descriptors in the child: 0 /dev/null, 1 and 2 the output pipes, 3 the code pipe (read
    until EOF, then closed), 4 the status pipe (the exit status is written there just before exit,
    after stdout and stderr are closed, so the runner can answer without waiting for teardown).
    """

    def __init__(self):
        code_r, self.code_w = os.pipe()
        self.status_r, status_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.err_r, err_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            _child(code_r, status_w, out_w, err_w)
        for fd in (code_r, status_w, out_w, err_w):
            os.close(fd)

    def send(self, payload):
        view = memoryview(payload)
        while view:
            view = view[os.write(self.code_w, view):]
        os.close(self.code_w)

    def discard(self):
        for fd in (self.code_w, self.status_r, self.out_r, self.err_r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass


def _child(code_r, status_w, out_w, err_w):
    """In the forked child: set up, wait for the code, run it as `python script.py`, never return."""
    status = 1
    try:
        _set_dumpable(1)  # the child is an ordinary process again (its own /proc files, its OOM score)
        os.setsid()
        os.dup2(code_r, 3)
        os.dup2(status_w, 4)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(5, 65536)
        os.set_inheritable(4, False)
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(os.environ.get("SANDBOX_WORKDIR", "/workspace"))
        request = _read_all(3)
        os.close(3)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        message = json.loads(request.decode("utf-8"))
        status = _execute(message["code"], message["filename"])
    except BaseException:
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.write(4, b"%d\n" % status)
        except BaseException:
            pass
        os._exit(status)


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _execute(code, filename):
    lines = code.splitlines(True)
    linecache.cache[filename] = (len(code), None, lines, filename)
    sys.argv = [filename]
    sys.path.insert(0, os.getcwd())  # like `python script.py`: the script's folder first
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


class Runner:
    """Serves run requests one at a time, always keeping one spare child ready."""

    def __init__(self):
        self.counter = 0
        self.pending = None  # (pid, pidfd) of the last run's child, exiting on its own after reporting
        self.spare = Spare()

    def _take_spare(self, payload):
        """The spare child, given its code (a spare that died meanwhile is replaced)."""
        for _ in range(2):
            spare, self.spare = self.spare or Spare(), None
            try:
                spare.send(payload)
                return spare
            except OSError:
                spare.discard()
        raise RuntimeError("could not start a child process")

    def run(self, request):
        self.counter += 1
        timeout = float(request.get("timeout", 30.0))
        cap = int(request.get("max_output", 65536))
        filename = "/workspace/<run-%d>.py" % self.counter
        payload = json.dumps({"code": request.get("code", ""), "filename": filename}).encode("utf-8")
        self._retire_pending()
        oom_before = _oom_kills()
        pids_before = _pids_max_events()
        start = time.monotonic()
        child = self._take_spare(payload)
        captures = {child.out_r: _Capture(cap), child.err_r: _Capture(cap)}
        pidfd = _pidfd(child.pid)
        outcome = _watch_loop(child, pidfd, captures, start + timeout)
        duration = time.monotonic() - start
        sweep(exclude=child.pid if outcome.reported else None)
        if outcome.reported:
            self.pending = (child.pid, pidfd)
        elif pidfd is not None:
            os.close(pidfd)
        _drain(captures, time.monotonic() + 1.0)
        for fd in (child.out_r, child.err_r, child.status_r):
            os.close(fd)
        oom_killed = False
        if not outcome.reported and not outcome.timed_out:
            oom_after = _oom_kills()
            if oom_before is not None and oom_after is not None:
                oom_killed = oom_after > oom_before
            else:
                oom_killed = outcome.exit_code == -signal.SIGKILL
        out, err = captures[child.out_r], captures[child.err_r]
        pids_after = _pids_max_events()
        limits = [name for name, hit in (
            ("timeout", outcome.timed_out), ("memory", oom_killed),
            ("processes", pids_before is not None and pids_after is not None and pids_after > pids_before),
            ("disk", bool(_full_filesystems())), ("output", out.truncated or err.truncated)) if hit]
        return {
            "event": "result",
            "id": request.get("id"),
            "exit_code": outcome.exit_code,
            "stdout": out.text(),
            "stderr": err.text(),
            "stdout_bytes": out.total,
            "stderr_bytes": err.total,
            "duration_ms": round(duration * 1000.0, 3),
            "timed_out": outcome.timed_out,
            "oom_killed": oom_killed,
            "output_truncated": out.truncated or err.truncated,
            "limits_hit": limits,
        }

    def after_reply(self):
        """Off the critical path: kill what the run left behind, fork the next spare, and reap the run's
        own child once it has torn down its address space (a few ms; if it takes longer, e.g. because
        something impersonated it, it is killed at the next run)."""
        sweep(exclude=self.pending[0] if self.pending else None)
        if self.spare is None:
            self.spare = Spare()
        if self.pending is not None and self.pending[1] is not None:
            pid, pidfd = self.pending
            ready, _, _ = select.select([pidfd], [], [], 0.05)
            if ready:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                os.close(pidfd)
                self.pending = None

    def _retire_pending(self):
        """SIGKILL the previous run's child through its pidfd (safe against pid reuse): it is
        exiting anyway, unless something that inherited its status pipe impersonated it."""
        if self.pending is None:
            return
        pid, pidfd = self.pending
        self.pending = None
        if pidfd is not None:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
            select.select([pidfd], [], [], SWEEP_SECONDS)  # normally already exited: returns at once
            os.close(pidfd)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        _reap()


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class _Outcome:
    def __init__(self, exit_code, reported, timed_out):
        self.exit_code = exit_code
        self.reported = reported  # the child wrote its status (it is exiting on its own)
        self.timed_out = timed_out


def _watch_loop(child, pidfd, captures, deadline):
    open_fds = list(captures)
    status_open = True
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _Outcome(_kill_run(child.pid), False, True)
        watched = open_fds + ([child.status_r] if status_open else []) + ([pidfd] if pidfd is not None else [])
        ready, _, _ = select.select(watched, [], [], remaining if pidfd is not None else min(remaining, 0.01))
        for fd in ready:
            if fd in captures:
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    captures[fd].add(chunk)
                else:
                    open_fds.remove(fd)
        if status_open and child.status_r in ready:
            data = os.read(child.status_r, 64)
            status_open = False
            if data.strip().isdigit():
                return _Outcome(int(data), True, False)
        if pidfd is None or pidfd in ready:
            done, status = os.waitpid(child.pid, os.WNOHANG)
            if done:
                return _Outcome(os.waitstatus_to_exitcode(status), False, False)


def _kill_run(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        code = -signal.SIGKILL
    sweep()
    return code


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


def read_file(request):
    """A regular file under /workspace, base64-encoded, or why it cannot be read. Runs between runs,
    when every process the code started has been killed, so nothing can swap the file meanwhile.
    Links are resolved first and must stay in /workspace; opening never follows a link, blocks on a
    FIFO or takes a terminal; at most `max_bytes` are read."""
    reply = {"event": "file", "id": request.get("id")}
    limit = int(request.get("max_bytes", 0))
    real = os.path.realpath(str(request.get("path", "")))
    if not real.startswith(WORKSPACE + "/"):
        reply["error"] = "outside"
        return reply
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except (FileNotFoundError, NotADirectoryError):
        reply["error"] = "missing"
        return reply
    except PermissionError:
        reply["error"] = "unreadable"
        return reply
    except OSError:
        reply["error"] = "not_a_file"
        return reply
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            reply["error"] = "not_a_file"
            return reply
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        reply["error"] = "unreadable"
        return reply
    finally:
        os.close(fd)
    if size > limit:
        reply["error"] = "too_large"
        return reply
    reply["data"] = base64.b64encode(b"".join(chunks)).decode("ascii")
    return reply


def main():
    if os.getpid() != 1:
        # Outside its container the runner's process sweep would SIGKILL every process it can see.
        sys.stderr.write("medgym runner: refusing to start: it must be the container's main process (PID 1)\n")
        sys.exit(2)
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # the runner itself never imports from /workspace (agent runs put it back, see _execute)
    _set_dumpable(0)
    proto = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # stray prints of preloaded modules must not corrupt the protocol
    loaded, failed = _preload(os.environ.get("SANDBOX_PRELOAD", PRELOAD_DEFAULT))
    _send(proto, {"event": "ready", "protocol": PROTOCOL, "pid": os.getpid(),
                  "preloaded": loaded, "preload_failed": failed})
    gc.freeze()  # keep the preloaded heap shared with forked children (no copy-on-write by the GC)
    runner = Runner()
    stdin = os.fdopen(0, "rb", buffering=1 << 16)
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
            _send(proto, runner.run(request))
            runner.after_reply()
        elif op == "ping":
            _send(proto, {"event": "pong", "id": request.get("id")})
        elif op == "read_file":
            _send(proto, read_file(request))
        elif op == "exit":
            break
        else:
            _send(proto, {"event": "error", "id": request.get("id"), "message": "unknown op %r" % op})
    sweep()


if __name__ == "__main__":
    main()
