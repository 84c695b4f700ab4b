"""The warm pool: pre-started sandboxes, each handed to exactly one episode, never reused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready", "no_leftover_containers")]

WHOAMI = (
    "import os, re\n"
    "cid = re.findall(r'[0-9a-f]{64}', open('/proc/self/cgroup').read())[0]\n"
    "print(cid, sorted(os.listdir('/workspace')), sorted(os.listdir('/tmp')))\n"
)
MARK = "open('/workspace/marker', 'w').write('a'); open('/tmp/marker', 'w').write('a')"
TASKS = ["npowerai/train/1", "npowerai/train/2", "npowerai/train/3", "medcalcbench/test/6",
         "medcalcbench/test/13", "npowerai/train/4"]



async def _run(client: Client, task_id: str, code: str) -> dict[str, Any]:
    result = await client.call_tool("run_code", {"task_id": task_id, "code": code})
    assert not result.is_error, result.content
    return result.structured_content or {}


async def test_pool_containers_never_serve_two_episodes(tmp_path: Path, shared_dir: Path) -> None:
    from tests.conftest import IMAGE

    settings = Settings(home=tmp_path, data_dir=shared_dir, image=IMAGE, pack=False, pool_size=2)
    handle = build_server(settings)
    async with Client(handle.mcp) as client:
        assert handle.state is not None
        pool = handle.state.pool
        deadline = time.monotonic() + 60
        while pool.idle_count() < 2:
            assert time.monotonic() < deadline, "the pool did not warm up"
            await anyio.sleep(0.1)
        seen: set[str] = set()
        for task_id in TASKS:
            await _run(client, task_id, MARK)
            container, workspace, tmp = (await _run(client, task_id, WHOAMI))["stdout"].split(" ", 2)
            assert container not in seen, "a container served a second episode"
            seen.add(container)
            assert workspace == "['marker']" and "marker" in tmp  # only this episode's own marker
        # a reset episode gets a pristine container too
        await client.call_tool("reset_task", {"task_id": TASKS[0]})
        container, workspace, _ = (await _run(client, TASKS[0], WHOAMI))["stdout"].split(" ", 2)
        assert container not in seen and workspace == "[]"
        assert pool.hits >= 2
        # the reset episode's container is destroyed (in the background), never pooled again
        deadline = time.monotonic() + 10
        while len(seen - {c["Id"] for c in handle.state.backend.managed_containers()}) != 1:
            assert time.monotonic() < deadline, "the reset episode's container was not removed"
            await anyio.sleep(0.1)
