"""Streamable HTTP: handshake-era clients get sessions; sessionless clients pass episode_id back."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sandbox.docker_backend import DockerBackend
from tests.conftest import IMAGE

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready")]
TASK = "npowerai/train/1"
# the container's own id, from its cgroup path (cgroup v1: /docker/<id>; v2: .../docker-<id>.scope)
CONTAINER_ID = "import re\nprint(re.findall(r'[0-9a-f]{64}', open('/proc/self/cgroup').read())[0])"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server(tmp_path: Path, shared_dir: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "MEDGYM_HOME": str(tmp_path / "home"), "MEDGYM_IMAGE": IMAGE, "MEDGYM_PACK": "0"}
    medgym = str(Path(sys.executable).parent / "medgym")
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([medgym, "serve", "--transport", "http", "--port", str(port), "--data-dir",
                             str(shared_dir)], env=env, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    assert proc.wait(timeout=30) == 0, (tmp_path / "server.log").read_text()
    log.close()
    assert "its sandboxes are removed" in (tmp_path / "server.log").read_text()


def _instance_containers(before: set[str]) -> list[dict[str, Any]]:
    return [c for c in DockerBackend("tests").managed_containers() if c["Id"] not in before]


async def test_session_clients_need_no_episode_id(http_server: str) -> None:
    before = {c["Id"] for c in DockerBackend("tests").managed_containers()}
    async with Client(http_server, mode="legacy") as client:
        view = (await client.call_tool("get_task", {"task_id": TASK})).structured_content
        run = await client.call_tool("run_code", {"task_id": TASK, "code": "print(2 + 2)"})
        assert not run.is_error and run.structured_content["stdout"] == "4\n"
        assert run.structured_content["episode_id"] == view["episode_id"]
        whoami = await client.call_tool("run_code", {"task_id": TASK, "code": CONTAINER_ID})
        container = whoami.structured_content["stdout"].strip()
        assert container in {c["Id"] for c in _instance_containers(before)}
    # closing the session (HTTP DELETE) ends its episodes and removes their sandboxes
    deadline = time.monotonic() + 15
    while container in {c["Id"] for c in _instance_containers(before)}:
        assert time.monotonic() < deadline, "session end did not remove the sandbox"
        time.sleep(0.2)


async def test_sessionless_clients_pass_episode_id(http_server: str) -> None:
    async with Client(http_server) as client:
        missing = await client.call_tool("run_code", {"task_id": TASK, "code": "print(1)"})
        assert missing.is_error and "episode_id" in missing.content[0].text  # type: ignore[union-attr]
        view = (await client.call_tool("get_task", {"task_id": TASK})).structured_content
        episode = view["episode_id"]
        first = await client.call_tool("run_code", {"task_id": TASK, "code": "open('f', 'w').write('x')",
                                                    "episode_id": episode})
        assert not first.is_error
        second = await client.call_tool("run_code", {"task_id": TASK, "code": "print(open('f').read())",
                                                     "episode_id": episode})
        assert second.structured_content["stdout"] == "x\n"
        other = (await client.call_tool("get_task", {"task_id": TASK})).structured_content["episode_id"]
        assert other != episode
        isolated = await client.call_tool("run_code", {"task_id": TASK, "code": "import os; print(os.listdir())",
                                                       "episode_id": other})
        assert isolated.structured_content["stdout"] == "[]\n"
        verdict = await client.call_tool("submit_answer", {"task_id": TASK, "answer": 4, "episode_id": episode})
        assert verdict.structured_content["correct"] is True
