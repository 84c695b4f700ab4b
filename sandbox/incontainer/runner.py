"""The in-container runner: the sandbox container's main process (PID 1 of its PID namespace).

It is started as `python3 -u -c <this source>` (so the image needs nothing of medgym's), imports
the scientific stack once, then serves requests read as JSON lines and answers with JSON lines:
over the unix socket the server listens on (`SANDBOX_CHANNEL`, a path in a read-only mount that
only this container has; the runner connects before any code runs, and the server accepts that
one connection, then removes the socket file), or, when there is none or it cannot be reached
(a remote Docker engine), on stdin and the original stdout, carried by the container's attach
stream. The `ready` message always goes to stdout and says which channel is in use.

Each `run` request executes its code in a fresh forked child with the semantics of
`python script.py`: fresh globals, `__name__ == "__main__"`, cwd `/workspace`, `sys.argv` set,
tracebacks with source lines. The child is forked ahead of time (a spare, set up and waiting
for its code) so a run starts without a fork. Output is captured through pipes and capped while
streaming (head and tail kept). The child raises its OOM score so the kernel's OOM killer picks
it (never the runner).

A run ends when its child exits, when the timeout fires, when the child reports its exit status
on the status pipe (just before it exits, so the reply need not wait for the teardown of its
address space), or when the server goes away (its channel closes: the runner kills the run and
exits at once). Whichever comes first, every other process in the container is then SIGKILLed at once
(`kill_all`), so nothing a run starts outlives it. The status pipe is inherited by the code
(nothing inside a process can hide it from that process), so reporting a status is made to mean
exactly "end this run now": code that writes one ends its own run, as `os._exit` would.

A run's hand-offs stay on one CPU: the runner and the spare are pinned to the runner's CPU just
before the spare is given its code, if the spare is set up and sleeping (it says so in one byte of a
page it shares with the runner); the child takes the container's CPUs back once it has read it,
the runner once it has answered; and the child yields to the runner after its report, ahead of
its teardown. (On a virtual machine whose idle CPUs halt, waking a process on another CPU costs up
to a millisecond.)

The runner blocks every signal it can (they stay pending, never acted on), so code that signals
PID 1 cannot stop it (the kernel drops SIGKILL and SIGSTOP from inside the namespace for its init);
children unblock them, with Python's own dispositions, as `python script.py` has them.

Only the standard library is used here: this file must run on any Python 3.9+.
"""

import __future__  # noqa: F401 - loaded here, so a `from __future__` in a run never looks in /workspace

import atexit
import base64
import builtins
import gc
import json
import linecache
import mmap
import os
import resource
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
UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}  # SIGCHLD: the runner waits for its children


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


class _EventCounter:
    """One counter of a cgroup events file (v2 or v1 path, the first that opens), read with pread on a
    descriptor the runner keeps open: a re-read costs one system call, not an open, read and close.
    (Forked children close it with every descriptor above 4.)"""

    def __init__(self, candidates):
        self.fd, self.key = None, None
        for path, key in candidates:
            try:
                self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            self.key = key.encode("ascii")
            return

    def read(self):
        """The counter's value now, or None when unreadable."""
        if self.fd is None:
            return None
        try:
            data = os.pread(self.fd, 8192, 0)
        except OSError:
            return None
        for line in data.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == self.key:
                try:
                    return int(parts[1])
                except ValueError:
                    return None
        return None


_COUNTER_FILES = {  # counter -> (events file, key) candidates: cgroup v2, then v1
    "oom_kill": (("/sys/fs/cgroup/memory.events", "oom_kill"),
                 ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill")),
    "pids_max": (("/sys/fs/cgroup/pids.events", "max"), ("/sys/fs/cgroup/pids/pids.events", "max")),
}
_COUNTERS = {}  # name -> _EventCounter, opened on first use


def _counter(name):
    if name not in _COUNTERS:
        _COUNTERS[name] = _EventCounter(_COUNTER_FILES[name])
    return _COUNTERS[name].read()


def _oom_kills():
    """The container cgroup's OOM-kill counter (v1 or v2), or None when unreadable."""
    return _counter("oom_kill")


def _libc(_loaded=[]):  # noqa: B006 - loaded once, by the runner (children inherit it)
    """The C library, through ctypes, or None when it cannot be loaded."""
    if not _loaded:
        try:
            import ctypes

            _loaded.append(ctypes.CDLL(None, use_errno=True))
        except (OSError, ImportError):
            _loaded.append(None)
    return _loaded[0]


def _set_dumpable(flag):
    """prctl(PR_SET_DUMPABLE): a non-dumpable runner cannot be ptrace-attached (or have its /proc
    files read) by the code it runs, although that code runs under the same uid."""
    try:
        _libc().prctl(4, int(flag), 0, 0, 0)
    except AttributeError:  # no C library, or no prctl in it
        pass


def _current_cpu():
    """The CPU this process runs on now, or None when unknown."""
    try:
        cpu = _libc().sched_getcpu()
    except AttributeError:
        return None
    return cpu if cpu >= 0 else None


def _pin(pid):
    """Pin the runner and a spare that is set up (it sleeps) to the CPU the runner runs on, just before
    the spare is handed its code; return the runner's CPUs (for the child to take back at once, see
    `_unpin`), or None when not pinned. The runner takes its own back once it has answered
    (`_unpin_runner`).

    Every hand-off of the run is then a switch on this CPU, not a wake-up of another CPU (which, on
    a virtual machine whose idle CPUs halt, costs up to a millisecond): the spare runs as soon as the
    runner waits for it, and the child's report wakes the runner here, where the child then yields
    to it (`sched_yield`) before the teardown of its address space."""
    cpu = _current_cpu()
    if cpu is None:
        return None
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(pid, [cpu])
        os.sched_setaffinity(0, [cpu])
    except (AttributeError, OSError):
        return None
    _RUNNER_CPUS[:] = cpus
    return cpus


_RUNNER_CPUS = []  # the runner's own CPUs while it is pinned for a run
# One byte shared with the spare: 1 once it is set up and sleeps, waiting for its code. Only then is
# it pinned (`_pin`): moving a process that is running on another CPU waits for that CPU to stop it.
# (The runner reads it before a run only, and resets it before each fork: nothing of a run is left.)
_SPARE_READY = mmap.mmap(-1, mmap.PAGESIZE)


def _unpin(cpus):
    """This process's CPUs back after `_pin` (`cpus`: what it returned; nothing when None). The child
    does it once it has read its code (the code and the processes it starts run wherever the
    container may, as without `_pin`), the runner once it has answered (`_unpin_runner`)."""
    if cpus:
        try:
            os.sched_setaffinity(0, cpus)
        except (AttributeError, OSError, TypeError, ValueError):
            pass


def _unpin_runner():
    _unpin(_RUNNER_CPUS)
    del _RUNNER_CPUS[:]


def _pids_max_events():
    """How often the container hit its process limit (cgroup v1 or v2), or None when unreadable."""
    return _counter("pids_max")


def _full_filesystems(paths=("/workspace", "/tmp", "/dev/shm")):
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
    """Every process of the container (zombies included) but the runner and `exclude`."""
    mine = {1, os.getpid(), exclude}
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and int(entry) not in mine]


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_all():
    """SIGKILL every process in the container but the runner.

    kill(-1) from PID 1 reaches every other process of its PID namespace (they all run as the
    runner's user) and none outside it. The kernel signals them all at once, under the lock that
    fork() takes to add a process, and a fork interrupted by a fatal signal creates nothing: unlike
    a scan of /proc, nothing escapes by forking in a loop or leaving its session or process group.
    (A cgroup kill is not possible here: the container's cgroup filesystem is read-only and the
    runner has no capabilities; a PID namespace of its own per run needs CAP_SYS_ADMIN.)
    """
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:  # ESRCH: no other process
        pass


def settle(keep=None, last_child=None):
    """After `kill_all`: wait until no process but the runner (and `keep`, the next spare) is left,
    reaping what it inherits. `last_child` is the (pid, pidfd) of the run's child, waited for first.
    Returns how many processes were still there at the deadline (0 normally)."""
    deadline = time.monotonic() + SWEEP_SECONDS
    if last_child is not None:
        pid, pidfd = last_child
        if pidfd is not None:
            select.select([pidfd], [], [], SWEEP_SECONDS)
            os.close(pidfd)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    pause = 0.0001
    while True:
        _reap()
        left = _other_pids(keep)
        if not left or time.monotonic() > deadline:
            return len(left)
        for pid in left:  # stragglers only (zombies not yet reparented, or teardowns): kill_all is the rule
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def block_signals():
    """Block every signal that can be blocked (but SIGCHLD): one sent to the runner stays pending and
    is never acted on. Returns the mask to give children back: one call in each child, which keeps
    Python's own dispositions (the runner never changes them) and so runs code like `python script.py`."""
    return signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - UNCATCHABLE)


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
    until EOF, then closed), 4 the status pipe (the exit status and the child's own timings are
    written there just before exit, after stdout and stderr are closed).
    """

    def __init__(self, signals):
        _SPARE_READY[0] = 0  # set by the spare once it is set up (then it only waits for its code)
        code_r, self.code_w = os.pipe()
        self.status_r, status_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.err_r, err_w = os.pipe()
        try:
            self.pid = os.fork()
        except OSError:  # e.g. the process limit, still held by the last run's dying processes
            for fd in (code_r, self.code_w, self.status_r, status_w, self.out_r, out_w, self.err_r, err_w):
                os.close(fd)
            raise
        if self.pid == 0:
            _child(code_r, status_w, out_w, err_w, signals)
        for fd in (code_r, status_w, out_w, err_w):
            os.close(fd)
        self.pidfd = _pidfd(self.pid)

    def send(self, payload):
        view = memoryview(payload)
        while view:
            view = view[os.write(self.code_w, view):]
        os.close(self.code_w)
        self.code_w = None

    def close_pipes(self):
        for fd in (self.code_w, self.status_r, self.out_r, self.err_r):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def discard(self):
        self.close_pipes()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass
        if self.pidfd is not None:
            os.close(self.pidfd)


def _child(code_r, status_w, out_w, err_w, signals):
    """In the forked child: set up, wait for the code, run it as `python script.py`, never return."""
    status, times = 1, [0.0, 0.0, 0.0, 0, 0]
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
            oom = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(oom, b"1000")
            finally:
                os.close(oom)
        except OSError:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, signals)
        os.chdir(os.environ.get("SANDBOX_WORKDIR", "/workspace"))
        sys.stdin, sys.stdout, sys.stderr = _STDIO or _stdio()
        _warm()
        _reseed()
        times[0], times[3] = time.monotonic(), _faults()  # set up: from here on the spare waits for its code
        _SPARE_READY[0] = 1
        request = _read_all(3)
        os.close(3)
        times[1] = time.monotonic()
        message = json.loads(request.decode("utf-8"))
        _unpin(message.get("cpus"))
        status = _execute(message["code"], message["filename"])
    except BaseException:
        status = 1
    finally:
        times[2], times[4] = time.monotonic(), _faults()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.write(4, b"%d %.6f %.6f %.6f %d %d\n" % (status, *times))
            os.sched_yield()  # to the runner, woken on this CPU (`_pin`), ahead of this process's teardown
        except BaseException:
            pass
        os._exit(status)


_STDIO = []  # the children's sys.stdin, stdout and stderr, made once by the runner (unused there)


def _stdio():
    """Text streams on descriptors 0, 1 and 2, as a child's `sys.stdin`, `stdout` and `stderr`. The
    runner makes them once, before any fork (`main`): each child inherits its own copy, unused, of
    objects it would otherwise build itself (about a hundred page faults, a third of a millisecond)."""
    return [open(0, closefd=False),
            open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False),
            open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)]


def _warm():
    """Before the code arrives, do what every run does first (read a request, compile, execute, write):
    the pages of the runner's heap this touches are copied (copy-on-write) now, not while a run waits."""
    try:
        message = json.loads(json.dumps({"code": "pass\n", "filename": "<warm-up>"}))
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        exec(compile(message["code"], message["filename"], "exec", dont_inherit=True), namespace)
        sys.stdout.write("")
        sys.stdout.flush()
    except Exception:
        pass


def _reseed():
    """Fresh random state, as a new interpreter has: `os.fork` reseeds `random`, but numpy's global
    generator (seeded when the runner preloaded numpy) would repeat its sequence in every run. Its
    new key is 624 words from the OS (as many bits as the state holds), set directly: a third of the
    cost of `numpy.random.seed()`, which derives one through a seed sequence."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.set_state(("MT19937", numpy.frombuffer(os.urandom(2496), dtype=numpy.uint32), 624))
        except Exception:
            try:
                numpy.random.seed()
            except Exception:
                pass


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


class Input:
    """The runner's channel in (the socket, or stdin): requests as JSON lines. End of file means the
    server is gone."""

    def __init__(self, fd=0):
        self.fd = fd
        self.buffer = bytearray()
        self.closed = False

    def fill(self):
        chunk = os.read(self.fd, 1 << 20)
        if chunk:
            self.buffer += chunk
        else:
            self.closed = True

    def next_line(self):
        """The next complete line (blocking until one arrives), or None at end of file."""
        while True:
            newline = self.buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self.buffer[:newline])
                del self.buffer[: newline + 1]
                return line
            if self.closed:
                return None
            self.fill()


class ServerGone(Exception):
    """The runner's input closed during a run: the server is gone (or killed)."""


class Runner:
    """Serves run requests one at a time, always keeping one spare child ready."""

    def __init__(self, stdin, signals):
        self.stdin = stdin
        self.signals = signals
        self.counter = 0
        self.last_child = None  # (pid, pidfd) of the last run's child, killed, reaped by `after_reply`
        self.busy_ms = 0.0  # how long the next request may have waited for `after_reply` (diagnostics)
        self.after_ms = {}  # where `after_reply` spent its time, reported with the next reply (diagnostics)
        self.counters = None  # (OOM kills, process-limit hits) of the container, read while idle
        self.spare = Spare(signals)

    def _take_spare(self, payload):
        """The spare child, given its code (a spare that died meanwhile is replaced)."""
        for _ in range(2):
            spare, self.spare = self.spare or Spare(self.signals), None
            try:
                spare.send(payload)
                return spare
            except OSError:
                spare.discard()
        raise RuntimeError("could not start a child process")

    def run(self, request):
        received = time.monotonic()
        self.counter += 1
        timeout = float(request.get("timeout", 30.0))
        cap = int(request.get("max_output", 65536))
        filename = "/workspace/<run-%d>.py" % self.counter
        oom_before, pids_before = self.counters or _counters()
        self.counters = None
        cpus = _pin(self.spare.pid) if self.spare is not None and _SPARE_READY[0] else None
        payload = json.dumps({"code": request.get("code", ""), "filename": filename, "cpus": cpus}).encode("utf-8")
        start = time.monotonic()
        child = self._take_spare(payload)
        captures = {child.out_r: _Capture(cap), child.err_r: _Capture(cap)}
        outcome = _watch_loop(child, captures, start + timeout, self.stdin)
        duration = time.monotonic() - start
        kill_all()  # the run is over, whatever its child said: nothing it started outlives it
        if outcome.server_gone:
            raise ServerGone()
        if outcome.timed_out:  # the child's status once it is dead
            outcome.exit_code = _exit_code(child.pid)
            child.pidfd = _close(child.pidfd)
        if outcome.reported:  # the child is dying now: `after_reply` reaps it
            self.last_child, child.pidfd = (child.pid, child.pidfd), None
        _drain(captures, time.monotonic() + 1.0)
        child.close_pipes()
        reply = self._reply(request, outcome, captures[child.out_r], captures[child.err_r], duration,
                            oom_before, pids_before)
        reply["timings"] = _timings(outcome, start, received, start + duration)
        reply["timings"]["busy_ms"], self.busy_ms = self.busy_ms, 0.0
        reply["timings"].update(self.after_ms)
        return reply

    def _reply(self, request, outcome, out, err, duration, oom_before, pids_before):
        oom_killed = False
        if not outcome.reported and not outcome.timed_out:
            oom_after = _oom_kills()
            if oom_before is not None and oom_after is not None:
                oom_killed = oom_after > oom_before
            else:
                oom_killed = outcome.exit_code == -signal.SIGKILL
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
        """Off the critical path: fork the next spare (its set-up overlaps what follows), then wait
        until every process of the last run is gone (killed already; this reaps them)."""
        last, self.last_child = self.last_child, None
        _unpin_runner()
        began = time.monotonic()
        if self.spare is None:
            try:
                self.spare = Spare(self.signals)
            except OSError:  # the dying processes still hold the process limit: after `settle`
                pass
        forked = time.monotonic()
        settle(keep=self.spare.pid if self.spare else None, last_child=last)
        settled = time.monotonic()
        if self.spare is None:
            self.spare = Spare(self.signals)
        self.counters = _counters()  # nothing runs until the next request: the next run's starting values
        self.after_ms = {"after_fork_ms": _ms(forked - began), "after_settle_ms": _ms(settled - forked),
                         "after_counters_ms": _ms(time.monotonic() - settled)}

    def note_busy(self, since):
        """If the next request already waits, it waited (at most) this long for `after_reply`: its
        reply says so (`busy_ms`), to show whether back-to-back runs wait for the runner."""
        waiting = bool(self.stdin.buffer) or bool(select.select([self.stdin.fd], [], [], 0)[0])
        self.busy_ms = round((time.monotonic() - since) * 1000.0, 3) if waiting else 0.0

    def recover(self):
        """After a failure of the runner itself: end whatever runs; the next run forks a new spare."""
        _unpin_runner()
        kill_all()
        last, self.last_child = self.last_child, None
        settle(last_child=last)
        spare, self.spare = self.spare, None
        if spare is not None:
            spare.close_pipes()
            _close(spare.pidfd)


def _counters():
    return _oom_kills(), _pids_max_events()


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _close(fd):
    if fd is not None:
        os.close(fd)


def _exit_code(pid):
    """The exit status of a child being killed (blocks until it is dead)."""
    try:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        return -signal.SIGKILL


def _timings(outcome, start, received, over):
    """Where the run's time went, in ms, for the server's stage log (diagnostics only: the child
    reports its side of it on the status pipe, which its code could write too)."""
    now = time.monotonic()
    timings = {"runner_ms": _ms(now - received), "prepare_ms": _ms(start - received), "collect_ms": _ms(now - over)}
    if outcome.child_times is not None:
        ready, began, ended, faults_ready, faults_end = outcome.child_times
        timings["spare_wait_ms"] = _ms(ready - start)
        timings["start_ms"] = _ms(began - max(start, ready))
        timings["exec_ms"] = _ms(ended - began)
        timings["report_ms"] = _ms(over - ended)  # the child's exit status written, and the runner woken
        timings["faults_setup"], timings["faults_run"] = faults_ready, faults_end - faults_ready
    return timings


def _ms(seconds):
    return round(max(0.0, seconds) * 1000.0, 3)


def _faults():
    """Page faults of this process so far (mostly copy-on-write copies of the runner's pages)."""
    try:
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except (OSError, ValueError):
        return 0


class _Outcome:
    def __init__(self, exit_code=None, reported=False, timed_out=False, server_gone=False, child_times=None):
        self.exit_code = exit_code
        self.reported = reported  # the child wrote its status (the run ended then)
        self.timed_out = timed_out
        self.server_gone = server_gone
        self.child_times = child_times  # (set up, code received, code done), from the child's status line


def _watch_loop(child, captures, deadline, stdin):
    """Stream the run's output until its child reports, exits, the timeout fires, or the channel closes."""
    open_fds = list(captures)
    status_open = True
    pidfd = child.pidfd
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _Outcome(timed_out=True)
        watched = open_fds + [fd for fd, on in ((child.status_r, status_open), (pidfd, pidfd is not None),
                                                (stdin.fd, not stdin.closed)) if on]
        ready, _, _ = select.select(watched, [], [], remaining if pidfd is not None else min(remaining, 0.01))
        for fd in ready:
            if fd in captures:
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    captures[fd].add(chunk)
                else:
                    open_fds.remove(fd)
        if stdin.fd in ready:
            stdin.fill()  # a request sent meanwhile waits in the buffer; end of file ends everything
            if stdin.closed:
                return _Outcome(server_gone=True)
        if status_open and child.status_r in ready:
            status_open = False
            reported = _parse_status(os.read(child.status_r, 256))
            if reported is not None:
                return _Outcome(reported[0], reported=True, child_times=reported[1])
        if pidfd is None or pidfd in ready:
            done, status = os.waitpid(child.pid, os.WNOHANG)
            if done:
                child.pidfd = _close(pidfd)
                return _Outcome(os.waitstatus_to_exitcode(status))


def _parse_status(data):
    """(exit status, child timings or None) from a status line, or None when it is not one."""
    parts = data.split()
    if not parts or not parts[0].isdigit():
        return None
    try:
        times = tuple(float(p) for p in parts[1:6])
    except ValueError:
        times = ()
    return int(parts[0]) & 0xFF, times if len(times) == 5 else None


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


def _connect_channel(path):
    """The server's unix socket at `path` (mounted read-only into the container, listening for this
    runner alone), as a file descriptor; or (None, why) when it cannot be reached (e.g. the Docker
    engine runs on another machine): then the protocol stays on stdin and stdout."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        return None, "%s: %s" % (path, exc.strerror or exc)
    return sock.detach(), None


def main():
    if os.getpid() != 1:
        # Outside its container the runner's kill(-1) would SIGKILL every process its user owns.
        sys.stderr.write("medgym runner: refusing to start: it must be the container's main process (PID 1)\n")
        sys.exit(2)
    writable = ("", ".", os.getcwd(), "/workspace", "/tmp")
    sys.path[:] = [p for p in sys.path if p not in writable]  # the runner never imports from where code writes
    signals = block_signals()
    _set_dumpable(0)
    channel, channel_error = None, None
    if os.environ.get("SANDBOX_CHANNEL"):  # connected before any code runs in the container
        channel, channel_error = _connect_channel(os.environ["SANDBOX_CHANNEL"])
    proto = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # stray prints of preloaded modules must not corrupt the protocol
    loaded, failed = _preload(os.environ.get("SANDBOX_PRELOAD", PRELOAD_DEFAULT))
    ready = {"event": "ready", "protocol": PROTOCOL, "pid": os.getpid(), "preloaded": loaded,
             "preload_failed": failed, "channel": "socket" if channel is not None else "stdio"}
    if channel_error:
        ready["channel_error"] = channel_error
    _send(proto, ready)  # on stdout, always: the server reads it from the attach stream
    if channel is not None:  # from here on requests and replies go over the socket; stdin is not read
        os.close(proto)
        proto = channel
    _STDIO[:] = _stdio()
    gc.freeze()  # keep the preloaded heap shared with forked children (no copy-on-write by the GC)
    serve(Runner(Input(channel if channel is not None else 0), signals), proto)
    kill_all()


def serve(runner, proto):
    while True:
        line = runner.stdin.next_line()
        if line is None:
            return
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as exc:
            _send(proto, {"event": "error", "message": "bad request: %s" % exc})
            continue
        op = request.get("op")
        if op == "run":
            try:
                reply = runner.run(request)
            except ServerGone:
                return
            except Exception as exc:  # e.g. no process could be forked: say so, and carry on
                _send(proto, {"event": "error", "id": request.get("id"), "message": "runner failure: %r" % exc})
                runner.recover()
                continue
            _send(proto, reply)
            finished = time.monotonic()
            try:
                runner.after_reply()
            except OSError:  # no spare could be forked now: the next run tries again
                pass
            runner.note_busy(finished)
        elif op == "ping":
            _send(proto, {"event": "pong", "id": request.get("id")})
        elif op == "read_file":
            _send(proto, read_file(request))
        elif op == "exit":
            return
        else:
            _send(proto, {"event": "error", "id": request.get("id"), "message": "unknown op %r" % op})


if __name__ == "__main__":
    main()
