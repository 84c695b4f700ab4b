"""The sandbox contract, as ONE suite every `SandboxBackend` must pass (after inspect_ai's sandbox self_check).

`tests/test_conformance.py` runs it on each backend by subclassing `SandboxConformance` with a
class-scoped `harness` fixture. The checks use only the `Sandbox` and `SandboxBackend` protocols,
and code whose meaning is the same on every backend: relative paths (the workspace is the current
directory and $HOME), heartbeat files instead of process listings. What only a real isolating
backend can do (memory, process and disk limits, no network, read-only root) is not checked here
but in the backend's own tests (`tests/test_sandbox_docker.py`).
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import pytest

from medgym.errors import SandboxLostError
from sandbox.contract import ExecResult, Sandbox, SandboxBackend, SandboxSpec
from sandbox.labels import INSTANCE, MANAGED, OWNER, owner_label

EPISODE = "medgym.episode"


@dataclass
class Harness:
    """A backend under test: how to make more instances of it (other servers on the same engine),
    the spec its sandboxes start from, and which sandboxes of its instances are running."""

    new_backend: Callable[[], SandboxBackend]
    spec: SandboxSpec
    running_ids: Callable[[set[str]], set[str]]  # sandbox ids of these instance ids still running
    backends: list[SandboxBackend] = field(default_factory=list)

    def backend(self) -> SandboxBackend:
        backend = self.new_backend()
        self.backends.append(backend)
        return backend

    def running(self) -> set[str]:
        return self.running_ids({b.instance_id for b in self.backends})


def run(box: Sandbox, code: str, timeout: float = 20.0, cap: int = 65536) -> ExecResult:
    return box.run(code, timeout, cap)


@dataclass
class Closing:
    """A run closed under its feet (`close_mid_run`): what it gave, and when each step happened."""

    outcome: BaseException | ExecResult | None
    started: float  # close() called
    closed: float  # close() returned
    ended: float | None  # the run returned or raised (None: it was still going on)


def close_mid_run(box: Sandbox, run_timeout: float = 120.0, wait_s: float = 100.0) -> Closing:
    """Start a run that spins in a thread, close the sandbox half a second later, and wait (at most
    `wait_s`) for the run to end. `close` may take a while on a busy engine: the run must end at once."""
    outcome: list[BaseException | ExecResult] = []
    ended: list[float] = []

    def spin() -> None:
        try:
            outcome.append(run(box, "while True: pass", timeout=run_timeout))
        except BaseException as exc:
            outcome.append(exc)
        ended.append(time.monotonic())

    thread = threading.Thread(target=spin)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    box.close()
    closed = time.monotonic()
    thread.join(wait_s)
    return Closing(outcome[0] if outcome else None, started, closed, ended[0] if ended else None)


def heartbeat(name: str) -> str:
    """Python source of a loop that appends to the file `name` (in the workspace) every 20 ms."""
    return f"import time\nwhile True:\n    open({name!r}, 'a').write('.'); time.sleep(0.02)\n"


def wait_for(*names: str) -> str:
    """Python source that waits (at most 20 s) until every named heartbeat file exists."""
    return (f"import os, time\nfor _ in range(2000):\n    if all(os.path.exists(n) for n in {names!r}):\n"
            "        break\n    time.sleep(0.01)\n")


def beats(box: Sandbox, name: str) -> int:
    return int(run(box, f"import os\nprint(os.path.getsize({name!r}) if os.path.exists({name!r}) else -1)").stdout)


def assert_stopped(box: Sandbox, name: str) -> None:
    """The processes writing heartbeat file `name` exist no more: it grew before and stops growing."""
    first = beats(box, name)
    assert first > 0, "the heartbeat never started"
    time.sleep(0.3)
    assert beats(box, name) == first, "a process of an earlier run is still running"


@pytest.mark.timeout(90)
class SandboxConformance:
    """Every backend: subclass as `Test<Backend>` and provide a class-scoped `harness` fixture."""

    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, harness: Harness) -> SandboxBackend:
        return harness.backend()

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox(cls, harness: Harness, backend: SandboxBackend) -> Iterator[Sandbox]:
        box = backend.start(replace(harness.spec, labels={**harness.spec.labels, EPISODE: "conformance"}))
        yield box
        box.close()

    @pytest.fixture
    def fresh(self, harness: Harness, backend: SandboxBackend) -> Iterator[Callable[..., Sandbox]]:
        """Start more sandboxes for one test (closed after it)."""
        started: list[Sandbox] = []

        def start(labels: dict[str, str] | None = None, on: SandboxBackend | None = None) -> Sandbox:
            spec = replace(harness.spec, labels={**harness.spec.labels, **(labels or {})})
            started.append((on or backend).start(spec))
            return started[-1]

        yield start
        for box in started:
            box.close()

    @pytest.fixture(autouse=True)
    def _nothing_left_behind(self, harness: Harness, sandbox: Sandbox) -> Iterator[None]:
        before = harness.running()
        yield
        assert harness.running() <= before, "a check left a sandbox running"

    # -- running code --------------------------------------------------------------------------------
    def test_stdout_stderr_and_exit_code_round_trip(self, sandbox: Sandbox) -> None:
        result = run(sandbox, "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)")
        assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
        assert not (result.timed_out or result.oom_killed or result.output_truncated) and result.limits_hit == []
        assert result.duration_ms > 0

    def test_script_semantics(self, sandbox: Sandbox) -> None:
        code = "import os\nprint(__name__, os.getcwd() == os.path.realpath(os.environ['HOME']))"
        assert run(sandbox, code).stdout == "__main__ True\n"
        failing = run(sandbox, "x = 1\nundefined_name")
        assert failing.exit_code == 1 and "NameError" in failing.stderr and "undefined_name" in failing.stderr
        assert run(sandbox, "raise SystemExit('bye')").stderr == "bye\n"
        assert run(sandbox, "import os\nos._exit(7)").exit_code == 7
        assert run(sandbox, "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)").exit_code == -15

    def test_stdin_is_empty(self, sandbox: Sandbox) -> None:
        result = run(sandbox, "input()", timeout=10)
        assert result.exit_code == 1 and "EOFError" in result.stderr and not result.timed_out

    def test_unicode_round_trips(self, sandbox: Sandbox) -> None:
        text = "héllo ✓ 漢字 🙂 Ωμέγα"
        result = run(sandbox, f"import sys\nprint({text!r})\nprint({text!r}, file=sys.stderr)")
        assert (result.stdout, result.stderr) == (text + "\n", text + "\n")

    def test_undecodable_output_is_replaced_not_fatal(self, sandbox: Sandbox) -> None:
        result = run(sandbox, "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe end\\n' + bytes(range(256)))")
        assert result.exit_code == 0 and result.stdout.startswith("ok \ufffd\ufffd end\n")
        assert "\ufffd" in result.stdout[10:]
        assert run(sandbox, "print('\\udcff')").stdout == "\\udcff\n"  # a lone surrogate is escaped

    def test_globals_are_fresh_but_workspace_files_persist(self, sandbox: Sandbox) -> None:
        run(sandbox, "kept_var = 42\nopen('notes.txt', 'w').write('kept')")
        assert "NameError" in run(sandbox, "print(kept_var)").stderr
        assert run(sandbox, "print(open('notes.txt').read())").stdout == "kept\n"

    def test_a_run_changes_nothing_but_files(self, sandbox: Sandbox) -> None:
        run(sandbox, "import sys, os, json\njson.MARK = 1\nos.environ['LEAK'] = '1'\nos.chdir('/tmp')")
        result = run(sandbox, "import json, os\nprint(hasattr(json, 'MARK'), 'LEAK' in os.environ, os.getcwd() == "
                              "os.path.realpath(os.environ['HOME']))")
        assert result.stdout == "False False True\n"

    # -- limits every backend enforces ------------------------------------------------------------------
    def test_timeout_kills_the_whole_process_tree(self, sandbox: Sandbox) -> None:
        code = (
            "import os, subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', {heartbeat('beat-popen')!r}])\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        exec({heartbeat('beat-daemon')!r})\n"
            "    os._exit(0)\n"
            + wait_for("beat-popen", "beat-daemon") +
            "while True: time.sleep(1)\n"
        )
        started = time.monotonic()
        result = run(sandbox, code, timeout=3)
        assert result.timed_out and "timeout" in result.limits_hit and result.exit_code < 0
        assert time.monotonic() - started < 12
        assert_stopped(sandbox, "beat-daemon")
        assert_stopped(sandbox, "beat-popen")
        assert run(sandbox, "print('next')").stdout == "next\n"

    def test_processes_a_finished_run_leaves_behind_are_killed(self, sandbox: Sandbox) -> None:
        code = ("import subprocess, sys, time\n"
                f"subprocess.Popen([sys.executable, '-c', {heartbeat('beat-left')!r}], start_new_session=True)\n"
                + wait_for("beat-left") + "print('bye')")
        assert run(sandbox, code).stdout == "bye\n"
        assert_stopped(sandbox, "beat-left")

    def test_output_is_capped_keeping_head_and_tail(self, sandbox: Sandbox) -> None:
        started = time.monotonic()
        code = ("import sys\nprint('START')\nsys.stdout.write('x' * 20_000_000)\nprint('END')\n"
                "print('e' * 9000, file=sys.stderr)")
        result = run(sandbox, code, cap=8192)
        assert result.exit_code == 0 and result.output_truncated and "output" in result.limits_hit
        assert result.stdout.startswith("START\n") and result.stdout.endswith("END\n")
        assert "bytes of output omitted" in result.stdout and len(result.stdout) < 8192 + 200
        assert "bytes of output omitted" in result.stderr  # each stream is capped on its own
        assert time.monotonic() - started < 15
        small = run(sandbox, "print('y' * 8000)", cap=8192)
        assert not small.output_truncated and small.stdout == "y" * 8000 + "\n" and small.limits_hit == []

    # -- sandboxes and their lifecycle ------------------------------------------------------------------
    def test_workspaces_are_private_to_their_sandbox(self, fresh: Callable[..., Sandbox]) -> None:
        first, second = fresh(), fresh()
        assert first.sandbox_id != second.sandbox_id
        run(first, "open('mine.txt', 'w').write('first')")
        assert run(second, "import os\nprint(sorted(os.listdir('.')))").stdout == "[]\n"

    def test_alive_until_closed_and_close_is_idempotent(self, fresh: Callable[..., Sandbox]) -> None:
        box = fresh()
        assert box.alive()
        box.close()
        box.close()
        assert not box.alive()
        with pytest.raises(SandboxLostError):
            run(box, "print(1)")

    def test_closing_a_sandbox_mid_run_ends_the_run(self, fresh: Callable[..., Sandbox]) -> None:
        box = fresh()
        run(box, "print('ready')")
        closing = close_mid_run(box)
        assert closing.ended is not None and closing.ended - closing.started < 20, \
            "the run went on after its sandbox was closed"
        assert isinstance(closing.outcome, SandboxLostError), closing.outcome

    def test_a_sandbox_removed_from_outside_is_lost(self, backend: SandboxBackend,
                                                   fresh: Callable[..., Sandbox]) -> None:
        mark = "doomed-" + uuid.uuid4().hex
        doomed, kept = fresh({EPISODE: mark}), fresh()
        assert backend.remove_where(lambda labels: labels.get(EPISODE) == mark) == 1
        _until(lambda: not doomed.alive())
        with pytest.raises(SandboxLostError):
            run(doomed, "print(1)")
        assert kept.alive() and run(kept, "print('kept')").stdout == "kept\n"

    def test_labels_reach_the_engine(self, backend: SandboxBackend, fresh: Callable[..., Sandbox]) -> None:
        mark = uuid.uuid4().hex
        fresh({"medgym.task": mark})
        seen: list[dict[str, str]] = []

        def record(labels: object) -> bool:
            assert isinstance(labels, dict)
            if labels.get("medgym.task") == mark:
                seen.append(dict(labels))
            return False

        assert backend.remove_where(record) == 0
        (labels,) = seen
        assert labels[MANAGED] == "1" and labels[INSTANCE] == backend.instance_id and labels[OWNER] == owner_label()

    def test_remove_own_removes_this_instance_only(self, harness: Harness, fresh: Callable[..., Sandbox]) -> None:
        mine, theirs = harness.backend(), harness.backend()
        a, b, c = fresh(on=mine), fresh(on=mine), fresh(on=theirs)
        assert mine.remove_own() == 2
        _until(lambda: not a.alive() and not b.alive())
        assert c.alive() and run(c, "print('theirs')").stdout == "theirs\n"
        assert mine.remove_own() == 0
        assert theirs.remove_own() == 1

    def test_reap_orphans_removes_sandboxes_of_dead_servers_only(self, backend: SandboxBackend,
                                                                 fresh: Callable[..., Sandbox]) -> None:
        owner = subprocess.Popen(["sleep", "300"])  # a "server" of this host, alive while its sandbox starts
        try:
            orphan = fresh({OWNER: owner_label(owner.pid)})
        finally:
            owner.kill()
            owner.wait()
        live = fresh()
        assert backend.reap_orphans() >= 0  # (another medgym process on this host may reap it first)
        _until(lambda: not orphan.alive())
        assert live.alive()

    def test_engine_answers(self, harness: Harness, backend: SandboxBackend) -> None:
        backend.ping()
        assert backend.describe().strip()
        status = backend.image_status(harness.spec.image)
        assert status.present and status.image == harness.spec.image


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
