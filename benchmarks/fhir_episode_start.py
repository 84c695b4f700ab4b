"""How long a FHIR episode takes to start: get_task, then the first run_code (`print(1)`), through
the MCP tools (in-process client), without a warm pool and with one.

    python benchmarks/fhir_episode_start.py [--episodes 8] [--home DIR]

Without a pool the first run_code starts the whole bundle: a network, the FHIR server (loading
the EHR: medgym_fhir's 8,400 resources) and the agent's sandbox. With a pool the bundle is
already running; between episodes the script waits until the pool has refilled, so each episode
after the first (which starts the pool) measures a hit; a client faster than the refill sees misses.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from mcp import Client

from mcp_server.app import ServerHandle, build_server
from mcp_server.settings import Settings
from task_store.pack.build import ensure_pack


async def measure(home: Path, pool_size: int, episodes: int) -> list[float]:
    handle = build_server(Settings(home=home, pack=True, pool_size=pool_size))
    times: list[float] = []
    async with Client(handle.mcp) as client:
        page = await client.call_tool("list_tasks", {"dataset": "medgym_fhir", "limit": 1})
        assert page.structured_content is not None
        task_id = page.structured_content["tasks"][0]["task_id"]
        for number in range(episodes):
            if pool_size and number:
                await _until_refilled(handle, pool_size)
            started = time.monotonic()
            view = await client.call_tool("get_task", {"task_id": task_id, "new_episode": True})
            assert view.structured_content is not None
            episode = view.structured_content["episode_id"]
            run = await client.call_tool("run_code", {"task_id": task_id, "code": "print(1)", "episode_id": episode})
            assert not run.is_error, run.content
            times.append((time.monotonic() - started) * 1000)
            await client.call_tool("reset_task", {"task_id": task_id, "episode_id": episode})
    return times


async def _until_refilled(handle: ServerHandle, size: int) -> None:
    """Wait until the pool holds `size` ready bundles (the first request starts the pool)."""
    assert handle.state is not None
    fhir = handle.state.fhir
    deadline = time.monotonic() + 180
    while (fhir is None or fhir.idle_count() < size) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--home", type=Path)
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="medgym-fhir-bench-"))
    ensure_pack(home)
    for pool_size in (0, 1):
        times = asyncio.run(measure(home, pool_size, args.episodes))
        if pool_size:
            times = times[1:]  # the first request starts the pool: a cold start, like "no pool"
        label = "no pool" if pool_size == 0 else f"pool of {pool_size}"
        print(f"{label:10}: median {statistics.median(times):7.0f} ms  min {min(times):7.0f}  max {max(times):7.0f}"
              f"  ({len(times)} episodes: get_task + first run_code)")


if __name__ == "__main__":
    main()
