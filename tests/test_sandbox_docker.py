"""What only the Docker backend does: isolation flags, limits, the runner as PID 1 of its container.

The contract every backend honours (round trips, timeouts, output caps, workspace, lifecycle) is
checked by the conformance suite (`tests/conformance.py`, run on Docker by `tests/test_conformance.py`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sandbox.contract import SandboxSpec
from sandbox.docker_backend import DockerBackend, DockerSandbox
from sandbox.limits import Limits
from tests.conformance import close_mid_run
from tests.conftest import IMAGE

pytestmark = [pytest.mark.usefixtures("no_leftover_containers"), pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def sandbox(docker_ready: None) -> Iterator[DockerSandbox]:
    backend = DockerBackend("tests-conformance")
    box = backend.start(SandboxSpec(image=IMAGE, limits=Limits(memory_mb=512, pids=128),
                                    labels={"medgym.episode": "conformance"}))
    yield box
    box.close()


def _run(box: DockerSandbox, code: str, timeout: float = 10.0, cap: int = 65536):  # type: ignore[no-untyped-def]
    return box.run(code, timeout, cap)


def _live_processes(box: DockerSandbox) -> int:
    """Processes in the container that are not zombies (dead, waiting to be reaped by the runner)."""
    code = ("import os\nstates = [open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0]\n"
            "          for p in os.listdir('/proc') if p.isdigit()]\nprint(len(states) - states.count('Z'))")
    return int(_run(box, code).stdout)


def test_runs_as_the_sandbox_user_in_workspace(sandbox: DockerSandbox) -> None:
    result = _run(sandbox, "import os, sys\nprint(__name__, os.getcwd(), os.getuid(), sys.argv[0])")
    assert result.stdout.startswith("__main__ /workspace 1000 /workspace/<run-")
    failing = _run(sandbox, "x = 1\nundefined_name")
    assert 'line 2, in <module>' in failing.stderr and "    undefined_name" in failing.stderr  # the source line


def test_nothing_a_run_started_survives_it_in_the_container(sandbox: DockerSandbox) -> None:
    """Stronger than the conformance check: the container's process table holds only the runner."""
    _run(sandbox, "import subprocess\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)\nprint('bye')")
    assert _live_processes(sandbox) == 2
    code = "import os, subprocess\nsubprocess.Popen(['sleep', '1000'])\nif os.fork() == 0:\n    os.setsid()\n" \
           "    if os.fork() == 0:\n        while True: pass\n    os._exit(0)\nwhile True: pass\n"
    assert _run(sandbox, code, timeout=2).timed_out
    assert _live_processes(sandbox) == 2


def test_no_network(sandbox: DockerSandbox) -> None:
    code = (
        "import socket\n"
        "for target in [('1.1.1.1', 80), ('127.0.0.1', 80)]:\n"
        "    try:\n"
        "        socket.create_connection(target, timeout=2)\n"
        "        print('CONNECTED', target)\n"
        "    except OSError as exc:\n"
        "        print('blocked', type(exc).__name__)\n"
        "import os; print(sorted(os.listdir('/sys/class/net')))\n"
    )
    result = _run(sandbox, code)
    assert "CONNECTED" not in result.stdout
    assert result.stdout.count("blocked") == 2
    assert "['lo']" in result.stdout


def test_read_only_root_and_writable_scratch(sandbox: DockerSandbox) -> None:
    code = (
        "for path in ['/data/x', '/usr/x', '/etc/x', '/x']:\n"
        "    try:\n"
        "        open(path, 'w'); print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print('denied', path, exc.errno)\n"
        "open('/tmp/ok', 'w').write('1'); print('tmp ok')\n"
    )
    result = _run(sandbox, code)
    assert "WROTE" not in result.stdout and result.stdout.count("denied") == 4 and "tmp ok" in result.stdout


def test_unprivileged(sandbox: DockerSandbox) -> None:
    code = (
        "import os\n"
        "print(os.getuid(), os.getgid())\n"
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
        "print(open('/proc/self/status').read().split('NoNewPrivs:')[1].split()[0])\n"
    )
    assert _run(sandbox, code).stdout.split() == ["1000", "1000", "0000000000000000", "1"]


def test_memory_limit_kills_the_run_not_the_sandbox(sandbox: DockerSandbox) -> None:
    result = _run(sandbox, "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))", timeout=30)
    assert result.oom_killed and not result.timed_out
    assert _run(sandbox, "print('alive')").stdout == "alive\n"


def test_crashes_do_not_break_the_runner(sandbox: DockerSandbox) -> None:
    assert _run(sandbox, "import os\nos._exit(7)").exit_code == 7
    assert _run(sandbox, "import ctypes\nctypes.string_at(0)").exit_code == -11
    assert _run(sandbox, "import os, signal\nos.kill(1, signal.SIGKILL)\nprint('still here')").exit_code == 0
    assert _run(sandbox, "print('ok')").stdout == "ok\n"


def test_scientific_stack_is_installed(sandbox: DockerSandbox) -> None:
    code = "import numpy, pandas, scipy, sklearn, statsmodels, Bio\nprint('ok')"
    assert _run(sandbox, code, timeout=60).stdout == "ok\n"


def test_each_run_has_fresh_random_state(sandbox: DockerSandbox) -> None:
    """As `python script.py` would: neither `random` nor numpy's global generator (numpy is preloaded by
    the runner, whose forked children would share its state) repeats its sequence from run to run."""
    code = "import random, numpy\nprint(random.random(), numpy.random.rand())"
    draws = [_run(sandbox, code).stdout.split() for _ in range(3)]
    assert len({d[0] for d in draws}) == 3 and len({d[1] for d in draws}) == 3, draws


def test_forked_children_do_not_break_the_next_run(sandbox: DockerSandbox) -> None:
    code = (
        "import os, time\n"
        "for _ in range(5):\n"
        "    if os.fork() == 0:\n"
        "        print('child output', flush=True)\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "print('parent done')\n"
    )
    result = _run(sandbox, code)
    assert result.exit_code == 0 and "parent done" in result.stdout
    assert _live_processes(sandbox) == 2


def test_a_forged_exit_status_cannot_outlive_the_run(sandbox: DockerSandbox) -> None:
    """A process that inherited the status pipe may end the run early, but is killed right after."""
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.write(4, b'0\\n')\n"
        "    os._exit(0)\n"
        "time.sleep(30)\n"
    )
    started = time.monotonic()
    _run(sandbox, code, timeout=20)
    assert time.monotonic() - started < 10
    assert _live_processes(sandbox) == 2
    assert _run(sandbox, "print('fine')").stdout == "fine\n"




def test_a_run_ends_when_its_sandbox_is_closed_even_if_the_engine_is_slow(
        docker_ready: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing a sandbox mid-run ends the run at once, however long the engine then takes to remove the
    container (a busy engine took over 20 s in CI): the run's error does not wait on the engine."""
    import sandbox.docker_backend as docker_backend
    from medgym.errors import SandboxLostError

    box = DockerBackend("tests-conformance").start(SandboxSpec(image=IMAGE, limits=Limits(memory_mb=512, pids=128),
                                                               labels={"medgym.episode": "slow-close"}))
    remove = docker_backend.remove_container

    def slow_remove(client, container_id):  # type: ignore[no-untyped-def]
        time.sleep(5)
        return remove(client, container_id)

    def slow_inspect(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(30)
        raise AssertionError("the engine was asked why a sandbox this server closed stopped")

    monkeypatch.setattr(docker_backend, "remove_container", slow_remove)
    monkeypatch.setattr(box._client.api, "inspect_container", slow_inspect)
    closing = close_mid_run(box, run_timeout=60, wait_s=60)
    assert closing.ended is not None and closing.ended < closing.closed and closing.ended - closing.started < 4, closing
    assert isinstance(closing.outcome, SandboxLostError) and "was closed" in str(closing.outcome), closing.outcome
