"""Capacity and back-pressure: a fair queue for sandbox slots (with the caller's place), a start
throttle that ramps up and backs off, and an episode start that waits instead of failing."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from medgym.errors import QuotaError
from tests.conftest import IMAGE
from tools.capacity import Capacity

pytestmark = pytest.mark.anyio


async def test_slots_are_granted_round_robin_across_clients() -> None:
    capacity = Capacity(max_sandboxes=1, wait_s=30)
    await capacity.reserve("hog")
    served: list[str] = []

    async def start(client: str) -> None:
        await capacity.reserve(client)
        served.append(client)

    async with anyio.create_task_group() as group:
        for client in ("hog", "hog", "hog", "other"):
            group.start_soon(start, client)
            await anyio.sleep(0.01)
        assert capacity.waiting == 4
        for _ in range(4):
            capacity.release()
            await anyio.sleep(0.01)
    assert served[:2] == ["hog", "other"]  # the other client does not wait behind all of hog's starts


async def test_a_waiter_is_told_its_place_and_gives_up_in_time() -> None:
    capacity = Capacity(max_sandboxes=1, wait_s=2.5)
    await capacity.reserve("a")
    told: list[str] = []

    async def progress(done: float, total: float | None, message: str) -> None:
        told.append(message)

    with pytest.raises(QuotaError, match="in use"):
        await capacity.reserve("b", progress)
    assert told and "number 1 in the queue" in told[0]
    assert capacity.waiting == 0 and capacity.held == 1


async def test_the_start_throttle_ramps_up_and_backs_off() -> None:
    capacity = Capacity(max_sandboxes=8, max_starts=3)
    assert capacity.stats()["starts_at_once"] == 1
    for _ in range(3):
        async with capacity.starting():
            pass
    assert capacity.stats()["starts_at_once"] == 3
    capacity._note(30.0)  # a slow start
    assert capacity.stats()["starts_at_once"] == 2


async def test_an_episode_start_waits_for_a_free_sandbox(tmp_path: Path, shared_dir: Path,
                                                         docker_ready: None) -> None:
    settings = Settings(home=tmp_path, data_dir=shared_dir, image=IMAGE, pack=False, pool_size=0, max_sandboxes=1)
    async with Client(build_server(settings).mcp) as client:
        first = (await client.call_tool("get_task", {"task_id": "npowerai/train/1"})).structured_content
        second = (await client.call_tool("get_task", {"task_id": "npowerai/train/2"})).structured_content
        await client.call_tool("run_code", {"task_id": "npowerai/train/1", "code": "print(1)",
                                            "episode_id": first["episode_id"]})
        told: list[str] = []

        async def progress(done: float, total: float | None, message: str | None) -> None:
            told.append(message or "")

        async def finish_first() -> None:
            await anyio.sleep(4)
            await client.call_tool("submit_answer", {"task_id": "npowerai/train/1", "answer": 4,
                                                     "episode_id": first["episode_id"]})

        async with anyio.create_task_group() as group:
            group.start_soon(finish_first)
            waited = await client.call_tool("run_code", {"task_id": "npowerai/train/2", "code": "print(2)",
                                                         "episode_id": second["episode_id"]},
                                            progress_callback=progress)
        assert not waited.is_error and waited.structured_content["stdout"] == "2\n"
        assert any("waiting for a sandbox" in m for m in told)


def test_status_of_a_running_server(http_server: str, docker_ready: None) -> None:
    import json
    import subprocess
    import sys

    medgym = str(Path(sys.executable).parent / "medgym")
    shown = subprocess.run([medgym, "status", "--url", http_server, "--json"], capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr
    (node,) = json.loads(shown.stdout)["nodes"]
    assert node["node"] == "local" and node["sandboxes_free"] >= 1 and node["starts_waiting"] == 0
    table = subprocess.run([medgym, "status", "--url", http_server], capture_output=True, text=True, timeout=120)
    assert "running" in table.stdout and "local" in table.stdout


def test_the_warm_pool_grows_with_demand_and_shrinks_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from sandbox import pool as pool_module
    from sandbox.contract import SandboxSpec
    from sandbox.limits import Limits
    from sandbox.pool import WarmPool

    class Box:
        sandbox_id = "x"

        def alive(self) -> bool:
            return True

        def close(self) -> None:
            pass

    refills = threading.Event()

    def start(spec: SandboxSpec) -> Box:
        if threading.current_thread().name == "medgym-pool":  # the pool's own refills wait for the demand below
            refills.wait(timeout=5)
        return Box()

    monkeypatch.setattr(pool_module, "SHRINK_AFTER_S", 0.4)
    pool = WarmPool(start, size=1, max_size=3)  # type: ignore[arg-type]
    spec = SandboxSpec(image="i", limits=Limits())
    try:
        for _ in range(4):  # faster than the pool refills: each miss makes it keep one more ready
            pool.acquire(spec)
        refills.set()
        deadline = time.monotonic() + 5
        while pool.stats()[0] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.stats() == (3, 3)
        deadline = time.monotonic() + 10
        while pool.stats()[1] > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool.stats() == (1, 1)  # nobody asked: back to its base size
    finally:
        pool.close()
