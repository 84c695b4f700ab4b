"""Sandbox conformance against the real Docker engine: isolation, limits, timeouts, output caps."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sandbox.contract import SandboxSpec
from sandbox.docker_backend import DockerBackend, DockerSandbox
from sandbox.limits import Limits
from tests.conftest import IMAGE

pytestmark = pytest.mark.usefixtures("no_leftover_containers")


@pytest.fixture(scope="module")
def sandbox(docker_ready: None) -> Iterator[DockerSandbox]:
    backend = DockerBackend("tests-conformance")
    box = backend.start(SandboxSpec(image=IMAGE, limits=Limits(memory_mb=512, pids=128),
                                    labels={"medgym.episode": "conformance"}))
    yield box
    box.close()


def _run(box: DockerSandbox, code: str, timeout: float = 10.0, cap: int = 65536):  # type: ignore[no-untyped-def]
    return box.run(code, timeout, cap)


def test_round_trip_and_script_semantics(sandbox: DockerSandbox) -> None:
    result = _run(sandbox, "import os, sys\nprint(__name__, os.getcwd(), os.getuid())\nprint('err', file=sys.stderr)")
    assert result.exit_code == 0
    assert result.stdout == "__main__ /workspace 1000\n"
    assert result.stderr == "err\n"
    assert _run(sandbox, "raise SystemExit(3)").exit_code == 3
    failing = _run(sandbox, "x = 1\nundefined_name")
    assert failing.exit_code == 1 and "NameError" in failing.stderr and "undefined_name" in failing.stderr


def test_fresh_globals_but_files_persist(sandbox: DockerSandbox) -> None:
    _run(sandbox, "secret_var = 42\nopen('/workspace/notes.txt', 'w').write('kept')")
    assert "NameError" in _run(sandbox, "print(secret_var)").stderr
    assert _run(sandbox, "print(open('/workspace/notes.txt').read())").stdout == "kept\n"


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


def test_timeout_kills_every_process(sandbox: DockerSandbox) -> None:
    code = (
        "import os, subprocess, time\n"
        "subprocess.Popen(['sleep', '1000'])\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        while True: pass\n"
        "    os._exit(0)\n"
        "while True: pass\n"
    )
    started = time.monotonic()
    result = _run(sandbox, code, timeout=2)
    assert result.timed_out and time.monotonic() - started < 5
    assert result.exit_code < 0
    survivors = _run(sandbox, "import os\nprint([p for p in os.listdir('/proc') if p.isdigit()])")
    pids = eval(survivors.stdout)
    assert len(pids) == 2, survivors.stdout
    assert _run(sandbox, "print('next')").stdout == "next\n"


def test_processes_left_by_a_finished_run_are_killed(sandbox: DockerSandbox) -> None:
    _run(sandbox, "import subprocess\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)\nprint('bye')")
    listing = _run(sandbox, "import os\nprint(sum(p.isdigit() for p in os.listdir('/proc')))")
    assert listing.stdout.strip() == "2"


def test_output_is_capped(sandbox: DockerSandbox) -> None:
    started = time.monotonic()
    result = _run(sandbox, "import sys\nsys.stdout.write('x' * 50_000_000)\nprint('END')", cap=65536)
    assert result.output_truncated and result.exit_code == 0
    assert len(result.stdout) < 70_000 and result.stdout.endswith("END\n")
    assert "bytes of output omitted" in result.stdout
    assert time.monotonic() - started < 10
    binary = _run(sandbox, "import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4)")
    assert binary.exit_code == 0 and "\ufffd" in binary.stdout
    assert _run(sandbox, "print('after')").stdout == "after\n"


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
    count = _run(sandbox, "import os\nprint(sum(p.isdigit() for p in os.listdir('/proc')))")
    assert count.stdout.strip() == "2"


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
    count = _run(sandbox, "import os\nprint(sum(p.isdigit() for p in os.listdir('/proc')))")
    assert count.stdout.strip() == "2"
    assert _run(sandbox, "print('fine')").stdout == "fine\n"


def test_run_isolation_semantics(sandbox: DockerSandbox) -> None:
    _run(sandbox, "import sys\nsys.modules['json'].MARK = 1\nimport os\nos.environ['LEAK'] = '1'\nos.chdir('/tmp')")
    result = _run(sandbox, "import json, os\nprint(hasattr(json, 'MARK'), 'LEAK' in os.environ, os.getcwd())")
    assert result.stdout == "False False /workspace\n"
