"""Hostile code, through the MCP surface against the real engine: every attack is contained, the
result says which limit was hit, nothing is left behind, and the episode keeps working."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from sandbox.limits import Limits
from tests.conftest import IMAGE, own_containers

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready")]
TASK = "mimic_iii/train/75379177b6a56fb54e946591"  # answer: ["po", "po/ng"]
COUNT_PROCESSES = "import os\nprint(sum(p.isdigit() for p in os.listdir('/proc')))"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def client(shared_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    limits = Limits(memory_mb=512, pids=64, workspace_mb=32, tmp_mb=16, max_output_bytes=65536)
    settings = Settings(home=tmp_path_factory.mktemp("hostile"), data_dir=shared_dir, image=IMAGE, pack=False,
                        limits=limits)
    async with Client(build_server(settings).mcp) as connected:
        yield connected
    assert not own_containers(), "containers of finished episodes are left"


async def _run(client: Client, code: str, timeout_s: float = 10, **extra: Any) -> dict[str, Any]:
    result = await client.call_tool("run_code", {"task_id": TASK, "code": code, "timeout_s": timeout_s, **extra})
    assert not result.is_error, result.content
    return result.structured_content or {}


async def _still_fine(client: Client) -> None:
    """Nothing of the attack survives, and the same episode runs code normally."""
    assert (await _run(client, COUNT_PROCESSES))["stdout"].strip() == "2"  # the runner and this run
    assert (await _run(client, "print(6 * 7)"))["stdout"] == "42\n"


async def test_network_egress_tcp_udp_dns(client: Client) -> None:
    code = (
        "import socket\n"
        "def attempt(name, fn):\n"
        "    try:\n"
        "        fn(); print(name, 'OPEN')\n"
        "    except OSError as exc:\n"
        "        print(name, 'blocked', exc.errno)\n"
        "attempt('tcp', lambda: socket.create_connection(('1.1.1.1', 443), timeout=2))\n"
        "attempt('tcp-gateway', lambda: socket.create_connection(('172.17.0.1', 2375), timeout=2))\n"
        "attempt('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53)))\n"
        "attempt('dns', lambda: socket.getaddrinfo('example.com', 80))\n"
    )
    out = (await _run(client, code))["stdout"]
    assert "OPEN" not in out and out.count("blocked") == 4, out
    await _still_fine(client)


async def test_fork_bomb_hits_the_process_limit(client: Client) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = await _run(client, code, timeout_s=3)
    assert "processes" in result["limits_hit"] and result["timed_out"]
    await _still_fine(client)


async def test_filling_the_process_table(client: Client) -> None:
    code = ("import subprocess\nprocs = []\ntry:\n    while True:\n"
            "        procs.append(subprocess.Popen(['sleep', '600']))\nexcept OSError as exc:\n"
            "    print('stopped after', len(procs), exc.errno)\n")
    result = await _run(client, code, timeout_s=20)
    assert "processes" in result["limits_hit"] and "stopped after" in result["stdout"]
    await _still_fine(client)


async def test_memory_bomb_is_oom_killed(client: Client) -> None:
    result = await _run(client, "x = []\nwhile True:\n    x.append(bytearray(16 * 1024 * 1024))", timeout_s=30)
    assert result["oom_killed"] and "memory" in result["limits_hit"] and not result["timed_out"]
    await _still_fine(client)


@pytest.mark.parametrize("folder", ["/workspace", "/tmp"])
async def test_disk_fill_is_bounded(client: Client, folder: str) -> None:
    code = (f"import os\nf = open('{folder}/fill', 'wb')\ntry:\n    while True:\n"
            "        f.write(b'x' * 1024 * 1024); f.flush()\nexcept OSError as exc:\n    print('errno', exc.errno)\n")
    result = await _run(client, code, timeout_s=30)
    assert "errno 28" in result["stdout"] and "disk" in result["limits_hit"]  # ENOSPC, and it says so
    await _run(client, f"import os\nos.remove('{folder}/fill')")
    await _still_fine(client)
    assert "disk" not in (await _run(client, "print('space again')"))["limits_hit"]


async def test_cpu_spin_past_the_timeout(client: Client) -> None:
    started = time.monotonic()
    result = await _run(client, "while True:\n    pass", timeout_s=2)
    assert result["timed_out"] and result["limits_hit"] == ["timeout"] and time.monotonic() - started < 5
    await _still_fine(client)


async def test_children_that_try_to_outlive_the_timeout(client: Client) -> None:
    code = (
        "import os, signal, subprocess, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen(['sh', '-c', 'trap \"\" TERM; sleep 1000'])\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "        time.sleep(1000)\n"
        "    os._exit(0)\n"
        "time.sleep(1000)\n"
    )
    result = await _run(client, code, timeout_s=2)
    assert result["timed_out"]
    await _still_fine(client)


async def test_huge_and_unterminated_output(client: Client) -> None:
    big = await _run(client, "import sys\nfor _ in range(100):\n    sys.stdout.write('y' * 1_000_000 + '\\n')",
                     timeout_s=30)
    assert big["output_truncated"] and "output" in big["limits_hit"] and len(big["stdout"]) < 70_000
    endless = await _run(client, "import sys\nsys.stdout.write('z' * 5_000_000)")
    assert endless["output_truncated"] and endless["stdout"].startswith("zzz")
    binary = await _run(client, "import os\nos.write(1, bytes(range(256)) * 100)\nos.write(2, b'\\xff\\xfe\\x00')")
    assert binary["exit_code"] == 0 and "\ufffd" in binary["stdout"]
    await _still_fine(client)


async def test_no_writes_outside_the_scratch_space(client: Client) -> None:
    code = ("for path in ['/data/x', '/etc/passwd', '/usr/bin/python3', '/x']:\n    try:\n"
            "        open(path, 'a'); print('WROTE', path)\n"
            "    except OSError as exc:\n        print('denied', exc.errno)\n")
    out = (await _run(client, code))["stdout"]
    assert "WROTE" not in out and out.count("denied") == 4
    await _still_fine(client)


async def test_no_secrets_no_docker_socket_no_task_files(client: Client) -> None:
    code = (
        "import os\n"
        "try:\n"
        "    print(open('/proc/1/environ', 'rb').read().replace(b'\\0', b' ').decode())\n"
        "except OSError as exc:\n"
        "    print('runner environment unreadable', exc.errno)\n"
        "print(sorted(os.environ))\n"
        "print([p for p in ['/var/run/docker.sock', '/run/docker.sock'] if os.path.exists(p)])\n"
        "found = []\n"
        "for top, dirs, files in os.walk('/'):\n"
        "    if top.startswith(('/proc', '/sys', '/dev')):\n"
        "        dirs[:] = []\n"
        "        continue\n"
        "    found += [os.path.join(top, f) for f in files if 'task' in f.lower() and '.json' in f.lower()]\n"
        "print(found)\n"
    )
    environ, names, sockets, task_files = (await _run(client, code, timeout_s=60))["stdout"].splitlines()
    for secret in ("MEDGYM_", "DOCKER", "TOKEN", "KEY", "PASSWORD", "AWS_", "OPENAI"):
        assert secret not in environ and secret not in names
    assert sockets == "[]" and task_files == "[]"
    await _still_fine(client)


async def test_no_privilege_escalation(client: Client) -> None:
    code = (
        "import ctypes, os, subprocess\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('setuid', libc.setuid(0), ctypes.get_errno())\n"
        "print('ptrace', libc.ptrace(16, 1, None, None), ctypes.get_errno())\n"  # PTRACE_ATTACH to the runner
        "r = subprocess.run(['mount', '-t', 'tmpfs', 'none', '/mnt'], capture_output=True)\n"
        "print('mount', r.returncode)\n"
        "suid = subprocess.run(['find', '/', '-xdev', '-perm', '-4000', '-type', 'f'],\n"
        "                      capture_output=True, text=True)\n"
        "for path in suid.stdout.split():\n"
        "    r = subprocess.run([path, '--help'], capture_output=True)\n"
        "print('uid after setuid binaries', os.getuid(), os.geteuid())\n"
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
    )
    lines = (await _run(client, code, timeout_s=60))["stdout"].splitlines()
    assert lines[0].startswith("setuid -1") and lines[1].startswith("ptrace -1") and lines[2] != "mount 0"
    assert lines[3] == "uid after setuid binaries 1000 1000" and lines[4] == "0000000000000000"
    await _still_fine(client)


def _container_of(pid: str) -> str | None:
    """The id of the Docker container a host process runs in (None: not in a container)."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None
    found = re.search(r"[0-9a-f]{64}", text)
    return found.group(0) if found else None


async def test_after_the_battery_nothing_is_left_on_the_host(client: Client) -> None:
    await _still_fine(client)
    await anyio.sleep(0.5)  # a run's child reports before its (killed) process is torn down: let it finish
    host = subprocess.run(["ps", "-eo", "pid=,uid=,args="], capture_output=True, text=True).stdout.splitlines()
    ours = own_containers()
    strays = []
    for line in host:
        pid, uid, args = line.split(None, 2)
        container = _container_of(pid)
        mine_or_escaped = container is None or container in ours  # other processes' containers are theirs
        if uid == "1000" and mine_or_escaped and "python3 -u -c" not in args:
            strays.append(line)
    assert strays == [], strays  # only the runners of live sandboxes run as the sandbox user
