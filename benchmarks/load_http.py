"""Load test: concurrent MCP clients over streamable HTTP doing mixed work, for a fixed time.

Each client loops: list_tasks -> get_task (a new episode) -> run_code twice -> submit_answer,
passing its episode_id back (sessionless clients), so episodes start continuously. Reports
per-tool latency (p50/p99/max) with the episode's first run_code (its sandbox start) apart,
episodes per second, protocol errors and tool errors, checks that every episode the clients
opened is in the server's records exactly once with exactly its calls (nothing lost or
duplicated), and samples the server's memory to show it does not grow. Several client counts
(`--clients 16,64`) run one after the other against one server, to show the machine's ceiling of
episode starts and the latency below and above it (beyond MEDGYM_MAX_SANDBOXES, starts wait in a
fair queue instead of failing).

usage: python benchmarks/load_http.py [--clients 16,64] [--seconds 60] [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

DATASETS = ("medgym_calc", "medgym_power", "medgym_ehr")
CODE = ("import pandas as pd, os\nprint(pd.__version__, len(os.listdir('/workspace')))",
        "open('/workspace/notes.txt', 'a').write('x')\nprint(sum(range(10_000)))")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.protocol_errors: list[str] = []
        self.tool_errors: list[str] = []
        self.episodes: list[str] = []

    async def call(self, client: Client, tool: str, arguments: dict[str, Any],
                   label: str | None = None) -> dict[str, Any] | None:
        started = time.perf_counter()
        try:
            result = await client.call_tool(tool, arguments)
        except Exception as exc:  # a protocol or transport failure
            self.protocol_errors.append(f"{tool}: {type(exc).__name__}: {exc}")
            return None
        self.latency[label or tool].append((time.perf_counter() - started) * 1000)
        if result.is_error:
            self.tool_errors.append(f"{tool}: {' '.join(getattr(c, 'text', '') for c in result.content)[:200]}")
            return None
        return dict(result.structured_content or {})


async def client_loop(url: str, stats: Stats, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    async with Client(url, read_timeout_seconds=300) as client:
        while time.monotonic() < deadline:
            page = await stats.call(client, "list_tasks", {"dataset": rng.choice(DATASETS), "limit": 50})
            if not page or not page["tasks"]:
                continue
            task_id = rng.choice(page["tasks"])["task_id"]
            view = await stats.call(client, "get_task", {"task_id": task_id, "new_episode": True})
            if not view:
                continue
            episode = view["episode_id"]
            stats.episodes.append(episode)
            for number, code in enumerate(CODE):
                await stats.call(client, "run_code", {"task_id": task_id, "episode_id": episode, "code": code},
                                 label="run_code (episode start)" if number == 0 else "run_code")
            kind = view["answer_format"]["kind"]
            await stats.call(client, "submit_answer", {"task_id": task_id, "episode_id": episode,
                                                       "answer": ["x"] if kind == "list" else 0})


async def sample_memory(pid: int, deadline: float, samples: list[tuple[float, float]]) -> None:
    started = time.monotonic()
    while time.monotonic() < deadline:
        samples.append((time.monotonic() - started, _rss_mb(pid)))
        await anyio.sleep(2.0)


async def drive(url: str, pid: int, clients: int, seconds: float) -> tuple[Stats, list[tuple[float, float]]]:
    from evaluation.session import wait_until_ready

    async with Client(url, read_timeout_seconds=900) as client:
        await wait_until_ready(client)  # a fresh home builds the pack first
    stats = Stats()
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + seconds
    async with anyio.create_task_group() as group:
        group.start_soon(sample_memory, pid, deadline, samples)
        for number in range(clients):
            group.start_soon(client_loop, url, stats, deadline, number)
    return stats, samples


def check_records(db: Path, episodes: list[str]) -> tuple[int, int, int]:
    """(episodes recorded, of which with exactly get_task + 2 run_code + submit, duplicates)."""
    from trajectory.store import RecordStore

    store = RecordStore(db)
    complete = recorded = 0
    for episode_id in episodes:
        trajectory = store.trajectory(episode_id)
        if trajectory is None:
            continue
        recorded += 1
        tools = [e.tool for e in trajectory.events]
        complete += tools == ["get_task", "run_code", "run_code", "submit_answer"]
    store.close()
    return recorded, complete, len(episodes) - len(set(episodes))


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MEDGYM_HOME": str(home), "MEDGYM_LOG_LEVEL": "WARNING", "MEDGYM_POOL_SIZE": "4",
           "MEDGYM_MAX_EPISODES_PER_CLIENT": "1024"}  # every client here is anonymous on loopback: one address
    command = [sys.executable, "-m", "medgym_cli", "serve", "--transport", "http", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stderr=(home / "server.log").open("wb"))
    deadline = time.monotonic() + 180  # the built-in pack may be built first
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((home / "server.log").read_text()[-2000:]) from None
            time.sleep(0.5)


def report(stats: Stats, samples: list[tuple[float, float]], records: tuple[int, int, int], seconds: float) -> str:
    lines = ["| tool | calls | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for tool, values in sorted(stats.latency.items()):
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        lines.append(f"| {tool} | {len(values)} | {statistics.median(values):.1f} | {p99:.1f} | {max(values):.1f} |")
    total = sum(len(v) for v in stats.latency.values())
    recorded, complete, duplicated = records
    steady = [rss for t, rss in samples if t >= 10] or [rss for _, rss in samples]
    lines += [
        "",
        f"calls: {total} in {seconds:.0f} s ({total / seconds:.1f}/s); episodes: {len(stats.episodes)} "
        f"({len(stats.episodes) / seconds:.2f} episodes/s)",
        f"protocol errors: {len(stats.protocol_errors)}; tool errors: {len(stats.tool_errors)}",
        f"episode records: {recorded}/{len(stats.episodes)} present, {complete} with exactly their 4 calls, "
        f"{duplicated} duplicated ids",
        f"server RSS: {steady[0]:.0f} MB after warm-up, {steady[-1]:.0f} MB at the end, max {max(steady):.0f} MB; "
        f"by quarter of the run: {' -> '.join(f'{steady[i * (len(steady) - 1) // 4]:.0f}' for i in range(5))} MB",
    ]
    for error in (stats.protocol_errors + stats.tool_errors)[:5]:
        lines.append(f"  e.g. {error}")
    return "\n".join(lines)


def run_one(home: Path, clients: int, seconds: float) -> bool:
    """One load level against a fresh server on `home`: prints its report; True when error-free."""
    port = _free_port()
    server = start_server(home, port)
    try:
        stats, samples = anyio.run(drive, f"http://127.0.0.1:{port}/mcp", server.pid, clients, seconds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=300)
    print(f"\n## {clients} clients over streamable HTTP for {seconds:.0f} s\n")
    print(report(stats, samples, check_records(home / "medgym.sqlite", stats.episodes), seconds))
    return not stats.protocol_errors and not stats.tool_errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="16", help="client counts, comma-separated (e.g. 16,64)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--home", type=Path, help="medgym home (default: a fresh temporary one)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="medgym-load-"))
    home.mkdir(parents=True, exist_ok=True)
    results = [run_one(home, int(count), args.seconds) for count in str(args.clients).split(",")]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
