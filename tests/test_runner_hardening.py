"""The runner against code that attacks it, on the real engine: a forged exit status, signals sent
to PID 1, process trees that fork in a loop in new sessions, modules planted where code writes,
/dev/shm, and the server going away in the middle of a run."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from medgym.errors import SandboxError
from sandbox.contract import SandboxSpec
from sandbox.docker_backend import SHM_MB, DockerBackend, DockerSandbox
from sandbox.limits import Limits
from tests.conftest import IMAGE
from tools.inspection import _script

pytestmark = pytest.mark.usefixtures("no_leftover_containers")
COUNT = "import os\nprint(sum(p.isdigit() for p in os.listdir('/proc')))"


def _start(backend: DockerBackend, **limits: int) -> DockerSandbox:
    box = backend.start(SandboxSpec(image=IMAGE, limits=Limits(memory_mb=512, pids=128, **limits),
                                    labels={"medgym.episode": "runner-hardening"}))
    assert isinstance(box, DockerSandbox)
    return box


@pytest.fixture(scope="module")
def backend(docker_ready: None) -> DockerBackend:
    return DockerBackend("tests-runner-hardening")


@pytest.fixture(scope="module")
def sandbox(backend: DockerBackend) -> Iterator[DockerSandbox]:
    box = _start(backend)
    yield box
    box.close()


def _run(box: DockerSandbox, code: str, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    return box.run(code, timeout, 65536)


def _only_the_runner_and_this_run(box: DockerSandbox) -> None:
    assert _run(box, COUNT).stdout.strip() == "2"
    assert _run(box, "print('next')").stdout == "next\n"


def test_a_forged_exit_status_ends_the_run_and_everything_in_it(backend: DockerBackend, sandbox: DockerSandbox
                                                                ) -> None:
    """Code that reports "0" on the status pipe and keeps going: the run ends then, and every process
    of it is killed (nothing keeps writing, nothing is exempt from the sweep)."""
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"  # a helper in a session of its own that forks on
        "    os.setsid()\n"
        "    while True:\n"
        "        try:\n"
        "            if os.fork() == 0:\n"
        "                os.setsid()\n"
        "        except OSError:\n"
        "            time.sleep(0.001)\n"
        "time.sleep(0.3)\n"
        "os.write(4, b'0\\n')\n"
        "while True:\n"
        "    with open('/workspace/alive', 'a') as f:\n"
        "        f.write('x')\n"
        "    time.sleep(0.01)\n"
    )
    started = time.monotonic()
    result = _run(sandbox, code, timeout=20)
    assert time.monotonic() - started < 10 and not result.timed_out
    time.sleep(0.5)  # no request meanwhile: what still runs now outlived its run
    assert _processes(backend, sandbox) == 2  # the runner and the spare child waiting for the next run
    size = _run(sandbox, "import os\nprint(os.path.getsize('/workspace/alive'))").stdout
    time.sleep(0.3)
    assert _run(sandbox, "import os\nprint(os.path.getsize('/workspace/alive'))").stdout == size
    _only_the_runner_and_this_run(sandbox)


def test_a_forged_status_line_that_is_not_a_status_changes_nothing(sandbox: DockerSandbox) -> None:
    result = _run(sandbox, "import os, time\nos.write(4, b'garbage\\n')\ntime.sleep(0.2)\nprint('done')")
    assert result.exit_code == 0 and result.stdout == "done\n"
    _only_the_runner_and_this_run(sandbox)


def test_a_fork_loop_in_new_sessions_left_behind_is_killed(backend: DockerBackend, sandbox: DockerSandbox) -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    while True:\n"
        "        try:\n"
        "            if os.fork() == 0:\n"
        "                os.setsid()\n"
        "        except OSError:\n"
        "            time.sleep(0.001)\n"
        "time.sleep(0.5)\n"
        "print('leaving')\n"
    )
    result = _run(sandbox, code)
    assert result.exit_code == 0 and result.stdout == "leaving\n"
    time.sleep(0.5)
    assert _processes(backend, sandbox) == 2
    for _ in range(3):
        _only_the_runner_and_this_run(sandbox)


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT", "SIGALRM",
                                  "SIGPIPE", "SIGTSTP", "SIGTTIN", "SIGCONT", "SIGABRT", "SIGSEGV", "SIGXCPU"])
def test_signals_sent_to_the_runner_change_nothing(sandbox: DockerSandbox, name: str) -> None:
    result = _run(sandbox, f"import os, signal, time\nos.kill(1, signal.{name})\ntime.sleep(0.05)\nprint('sent')")
    assert result.exit_code == 0 and result.stdout == "sent\n"
    assert _run(sandbox, "print('still serving')").stdout == "still serving\n"


def test_runs_get_pythons_own_signal_dispositions(sandbox: DockerSandbox) -> None:
    """The runner ignores signals; the code it runs does not (like `python script.py`)."""
    code = (
        "import signal, subprocess\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler,\n"
        "      signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, signal.getsignal(signal.SIGHUP) == signal.SIG_DFL,\n"
        "      signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN)\n"
        "status = subprocess.run(['grep', '-E', 'SigIgn|SigBlk', '/proc/self/status'], capture_output=True, "
        "text=True)\n"
        "print(status.stdout.split())\n"
        "try:\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "except KeyboardInterrupt:\n"
        "    print('KeyboardInterrupt')\n"
    )
    lines = _run(sandbox, code).stdout.splitlines()
    assert lines == ["True True True True", "['SigBlk:', '0000000000000000', 'SigIgn:', '0000000000000000']",
                     "KeyboardInterrupt"]
    assert _run(sandbox, "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)").exit_code == -signal.SIGTERM


PLANTED = ["json", "select", "signal", "__future__", "collections", "difflib", "gzip", "sqlite3", "dataclasses",
           "typing", "csv", "traceback", "linecache", "ctypes", "threading", "atexit", "struct", "re"]


def test_modules_planted_where_code_writes_reach_neither_the_runner_nor_an_inspection(
        sandbox: DockerSandbox) -> None:
    plant = (
        "import os\n"
        f"for folder in ['/workspace', '/tmp']:\n"
        f"    for name in {PLANTED!r}:\n"
        "        with open(os.path.join(folder, name + '.py'), 'w') as f:\n"
        "            f.write(f\"open('/workspace/PLANTED-{name}', 'w').write('imported')\\n\")\n"
    )
    assert _run(sandbox, plant).exit_code == 0
    for _ in range(3):
        assert _run(sandbox, "print('plain run')").stdout == "plain run\n"
    inspection = _run(sandbox, _script("/data/none", "list_tables", {}, 65536), timeout=30)
    assert "<<medgym-inspect>>" in inspection.stdout, inspection.stderr
    assert _run(sandbox, "import sys\nprint(sys.path.count('/workspace'), '' in sys.path, '/tmp' in sys.path)"
                ).stdout == "1 False False\n"  # the script's own folder first, as `python script.py` has
    left = _run(sandbox, "import os\nprint(sorted(f for f in os.listdir('/workspace') if f.startswith('PLANTED')))")
    assert left.stdout == "[]\n"
    _run(sandbox, "import os\nfor d in ['/workspace', '/tmp']:\n    for f in os.listdir(d):\n"
                  "        f.endswith('.py') and os.remove(os.path.join(d, f))")


def test_dev_shm_is_bounded_and_reported(sandbox: DockerSandbox) -> None:
    code = (
        "import errno\n"
        "written = 0\n"
        "try:\n"
        "    with open('/dev/shm/fill', 'wb') as f:\n"
        "        for _ in range(1024):\n"
        "            f.write(b'x' * (1 << 20)); f.flush(); written += 1\n"
        "except OSError as exc:\n"
        "    print('stopped', errno.errorcode[exc.errno], written)\n"
    )
    result = _run(sandbox, code, timeout=30)
    words = result.stdout.split()
    assert words[:2] == ["stopped", "ENOSPC"] and int(words[2]) <= SHM_MB, result.stdout
    assert "disk" in result.limits_hit
    _run(sandbox, "import os\nos.remove('/dev/shm/fill')")
    assert "disk" not in _run(sandbox, "print(1)").limits_hit


CPUSET = (  # prints the CPUs the container may use (cgroup v2, then v1), as a sorted list
    "from pathlib import Path\n"
    "def cpuset():\n"
    "    for path in ('/sys/fs/cgroup/cpuset.cpus.effective', '/sys/fs/cgroup/cpuset/cpuset.effective_cpus'):\n"
    "        if Path(path).exists():\n"
    "            cpus = []\n"
    "            for part in Path(path).read_text().strip().split(','):\n"
    "                first, _, last = part.partition('-')\n"
    "                cpus += range(int(first), int(last or first) + 1)\n"
    "            return sorted(cpus)\n"
)


def test_runs_get_the_containers_cpus_and_the_usual_scheduling_policy(sandbox: DockerSandbox) -> None:
    """The spare is pinned to the runner's CPU just before it is given its code and takes the runner's
    CPUs back once it has read it: the code, and what it starts, run on every CPU the container may
    use, under SCHED_OTHER at nice 0, as any process there."""
    probe = ("import os; print(sorted(os.sched_getaffinity(0)), os.sched_getscheduler(0) == os.SCHED_OTHER, "
             "os.getpriority(os.PRIO_PROCESS, 0))")
    code = (f"{CPUSET}import subprocess, sys\nprint(cpuset())\nprobe = {probe!r}\nexec(probe)\n"
            "print(subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True).stdout, end='')\n")
    for _ in range(3):
        cpus, child, grandchild = _run(sandbox, code).stdout.splitlines()
        assert child == grandchild == f"{cpus} True 0"


def test_the_runner_takes_its_cpus_back_after_a_run(backend: DockerBackend, sandbox: DockerSandbox) -> None:
    """The runner is pinned to one CPU during a run only: between runs (seen from the host) it may run on
    every CPU of the container again."""
    cpus = _run(sandbox, f"{CPUSET}print(cpuset())").stdout.strip()
    pid = backend.client.api.inspect_container(sandbox._id)["State"]["Pid"]
    for _ in range(3):
        _run(sandbox, "print(1)")
        assert sandbox.alive()  # answered after the runner's work that follows a reply (it serves in turn)
        try:
            allowed = os.sched_getaffinity(pid)
        except OSError as exc:  # another user's process, on a host that says no
            pytest.skip(f"the runner's affinity cannot be read from here: {exc}")
        assert str(sorted(allowed)) == cpus


def test_code_that_scribbles_on_the_spares_ready_flag_changes_nothing(sandbox: DockerSandbox) -> None:
    """The runner shares one page with its spares (a spare marks itself set up there, so the runner pins
    only a sleeping one). Code can write that page too: it is read before a run only and reset before
    each fork, so the next runs are as before (output, CPUs)."""
    scribble = (
        "import ctypes\n"
        "for line in open('/proc/self/maps'):\n"
        "    fields = line.split()\n"
        "    if fields[1] == 'rw-s' and 'zero' in line:\n"
        "        start, end = (int(x, 16) for x in fields[0].split('-'))\n"
        "        ctypes.memset(start, 0xFF, end - start)\n"
        "        print('scribbled')\n"
    )
    assert _run(sandbox, scribble).stdout == "scribbled\n"
    check = f"{CPUSET}import os\nprint(cpuset() == sorted(os.sched_getaffinity(0)))"
    for _ in range(3):
        assert _run(sandbox, check).stdout == "True\n"
    _only_the_runner_and_this_run(sandbox)


def test_a_run_that_leaves_busy_processes_behind_reports_and_ends(sandbox: DockerSandbox) -> None:
    """Busy processes left behind, one more than there are CPUs, compete with the child's report and
    with its yield to the runner: the run still ends with its output, and the sweep kills them."""
    code = ("import os, subprocess, sys, time\n"
            "busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(os.cpu_count() + 1)]\n"
            "time.sleep(0.2)\nprint('left', len(busy) > 1)\n")
    result = _run(sandbox, code)
    assert (result.exit_code, result.stdout, result.timed_out) == (0, "left True\n", False)
    assert result.duration_ms < 5000, result.duration_ms
    _only_the_runner_and_this_run(sandbox)


def test_the_runner_stops_the_run_and_exits_when_the_server_goes_away(backend: DockerBackend) -> None:
    box = _start(backend)
    failure: list[BaseException] = []

    def long_run() -> None:
        try:
            box.run("import time\ntime.sleep(120)", 300, 65536)
        except BaseException as exc:  # the connection is closed under it
            failure.append(exc)

    thread = threading.Thread(target=long_run)
    thread.start()
    time.sleep(1.0)
    box._channel.close()  # what a SIGKILLed server leaves: the attach stream (the runner's stdin) closes
    thread.join(timeout=30)
    assert failure and isinstance(failure[0], SandboxError | OSError)
    deadline = time.monotonic() + 20
    while _exists(backend, box) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _exists(backend, box), "the container outlived its server by more than 20 s"
    box.close()


def _processes(backend: DockerBackend, box: DockerSandbox) -> int:
    """How many processes run in the sandbox's container, seen from the engine (no run needed)."""
    return len(backend.client.api.top(box._id)["Processes"])


def _exists(backend: DockerBackend, box: DockerSandbox) -> bool:
    running = backend.client.api.containers(filters={"id": box._id})
    return bool(running)
