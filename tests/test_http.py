"""Streamable HTTP: handshake-era clients get sessions; sessionless clients pass episode_id back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from mcp import Client

from sandbox.docker_backend import DockerBackend

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready")]
TASK = "npowerai/train/1"
# the container's own id, from its cgroup path (cgroup v1: /docker/<id>; v2: .../docker-<id>.scope)
CONTAINER_ID = "import re\nprint(re.findall(r'[0-9a-f]{64}', open('/proc/self/cgroup').read())[0])"



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
