"""The Ray backend against the local Docker backend, side by side in one run: run_code latency, episode
start, and where Ray placed the episodes.

Both servers run in this process and are driven over MCP in memory (the same tool path as any client).
The Ray side is a two-node cluster started here on this machine (`tests/ray_cluster.py`: the head on the
default Docker engine, a second node on a second `dockerd`), so it measures medgym's own overhead (one Ray
call per run, a placement group per sandbox), not a network between machines. Needs root and Docker.

Workloads, local and Ray interleaved call by call so that the machine's load (other containers, other
processes) falls on both alike: (a) a trivial `print(1)`, `--runs` times, in a local episode and in a
Ray episode on each node; (b) episode start: a new episode's first `run_code` (its sandbox from the warm
pool, or started), `--episodes` times, a pause between so the pools can refill; (c) how many episodes
each node got, one after another and `--concurrent` open at once.

usage: python benchmarks/ray_vs_local.py [--runs 100] [--episodes 12] [--pause 2.0] [--concurrent 6]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp_server.app import build_server
from mcp_server.settings import Settings
from tests.ray_cluster import RayCluster, start_cluster, start_engine2, stop_engine

IMAGE = Settings().image
SHARED = Path(__file__).resolve().parents[2] / "shared" / "medagentgym"
WHOAMI = "import re\nprint(re.findall(r'[0-9a-f]{64}', open('/proc/self/cgroup').read())[0])"
Where = Callable[[str], str]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(client: Client, task: str, code: str, episode: str | None = None) -> dict[str, Any]:
    arguments = {"task_id": task, "code": code, **({"episode_id": episode} if episode else {})}
    result = await client.call_tool("run_code", arguments)
    assert not result.is_error, result.content
    return result.structured_content or {}


class Side:
    """One server (local Docker or Ray) driven over MCP, with the episodes it has open."""

    def __init__(self, name: str, client: Client, where: Where):
        self.name = name
        self.client = client
        self.where = where
        self.task = 1

    async def episode(self) -> tuple[str, str, float, str]:
        """A new episode whose first run starts its sandbox: (task, episode, ms of that run, node)."""
        self.task += 1
        task = f"npowerai/train/{self.task}"
        view = (await self.client.call_tool("get_task", {"task_id": task, "new_episode": True})).structured_content
        episode = str((view or {})["episode_id"])
        started = time.perf_counter()
        out = await _run(self.client, task, WHOAMI, episode)
        return task, episode, (time.perf_counter() - started) * 1000, self.where(str(out["stdout"]).strip())

    async def end(self, task: str, episode: str) -> None:
        await self.client.call_tool("submit_answer", {"task_id": task, "answer": 0, "episode_id": episode})

    async def timed_run(self, task: str, episode: str) -> float:
        started = time.perf_counter()
        await _run(self.client, task, "print(1)", episode)
        return (time.perf_counter() - started) * 1000


async def _one_per_node(side: Side, nodes: int) -> dict[str, tuple[str, str]]:
    """Open episodes until one runs on each node (the extra ones are ended)."""
    held: dict[str, tuple[str, str]] = {}
    while len(held) < nodes:
        task, episode, _, node = await side.episode()
        if node in held:
            await side.end(task, episode)
        held.setdefault(node, (task, episode))
    return held


async def _latency(local: Side, ray: Side, nodes: int, args: argparse.Namespace) -> dict[str, list[float]]:
    """Trivial runs, interleaved local / each Ray node, so that the machine's load hits all alike."""
    targets = {"local": (local, (await _one_per_node(local, 1))["local"])}
    targets |= {f"ray on {node}": (ray, held) for node, held in sorted((await _one_per_node(ray, nodes)).items())}
    timings: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(args.runs):
        for name, (side, (task, episode)) in targets.items():
            timings[name].append(await side.timed_run(task, episode))
    for side, (task, episode) in targets.values():
        await side.end(task, episode)
    return timings


async def _starts(local: Side, ray: Side, args: argparse.Namespace) -> tuple[dict[str, list[float]], list[str]]:
    """Episode starts, alternating local and Ray (in turn first), a pause after each so the pools can refill."""
    starts: dict[str, list[float]] = {"local": [], "ray": []}
    nodes = []
    for number in range(args.episodes):
        for side in (local, ray) if number % 2 == 0 else (ray, local):  # neither always follows the other's refill
            task, episode, ms, node = await side.episode()
            starts[side.name].append(ms)
            if side is ray:
                nodes.append(node)
            await side.end(task, episode)
            await anyio.sleep(args.pause)
    return starts, nodes


async def _concurrent_spread(ray: Side, count: int) -> list[str]:
    """Where Ray places `count` episodes open at once."""
    opened = [await ray.episode() for _ in range(count)]
    for task, episode, _, _ in opened:
        await ray.end(task, episode)
    return [node for _, _, _, node in opened]


def _stats(values: list[float]) -> str:
    return f"{statistics.median(values):9.1f} {_percentile(values, 0.9):9.1f}"


def _report(runs: dict[str, list[float]], starts: dict[str, list[float]], sequential: list[str],
            concurrent: list[str]) -> None:
    print(f"{'':40} {'median ms':>9} {'p90 ms':>9} {'median vs local':>16}")
    for name, values in runs.items():
        ratio = statistics.median(values) / statistics.median(runs["local"])
        print(f"{'run_code print(1), ' + name:40} {_stats(values)} {ratio:15.2f}x")
    for name, values in starts.items():
        ratio = statistics.median(values) / statistics.median(starts["local"])
        print(f"{'episode start (first run), ' + name:40} {_stats(values)} {ratio:15.2f}x")
    print(f"placement, {len(sequential)} episodes one after another: {dict(sorted(Counter(sequential).items()))}")
    print(f"placement, {len(concurrent)} episodes open at once: {dict(sorted(Counter(concurrent).items()))}")


def _where(cluster: RayCluster) -> Where:
    def where(container: str) -> str:
        for node in cluster.nodes:
            if any(c["Id"] == container for c in node.engine.containers()):
                return node.name
        return "?"
    return where


async def _compare(cluster: RayCluster, args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="medgym-bench-"))
    common = {"data_dir": SHARED, "image": IMAGE, "pack": False, "pool_size": args.pool, "log_level": "WARNING"}
    local_settings = Settings(home=home / "local", **common)
    ray_settings = Settings(home=home / "ray", backend="ray", ray_address=cluster.address, **common)
    async with Client(build_server(local_settings).mcp) as lc, Client(build_server(ray_settings).mcp) as rc:
        local, ray = Side("local", lc, lambda _: "local"), Side("ray", rc, _where(cluster))
        for side in (local, ray):
            await _run(side.client, "npowerai/train/1", "print(0)")  # catalog, first sandbox, pools warming
        await anyio.sleep(args.pause * 2)
        runs = await _latency(local, ray, len(cluster.nodes), args)
        await anyio.sleep(args.pause)
        starts, sequential = await _starts(local, ray, args)
        concurrent = await _concurrent_spread(ray, args.concurrent)
    _report(runs, starts, sequential, concurrent)


async def _main(args: argparse.Namespace) -> None:
    engine2 = start_engine2(IMAGE)
    try:
        cluster = start_cluster(engine2)
        try:
            await _compare(cluster, args)
        finally:
            import ray

            ray.shutdown()
            cluster.stop()
    finally:
        stop_engine(engine2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between episodes (pools refill)")
    parser.add_argument("--pool", type=int, default=2, help="MEDGYM_POOL_SIZE (Ray: per node)")
    parser.add_argument("--concurrent", type=int, default=6, help="episodes held open at once for the spread")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    anyio.run(_main, args)


if __name__ == "__main__":
    main()
