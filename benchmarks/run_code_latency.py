"""run_code latency and throughput: medgym against its peers, side by side, in one run.

Systems, all on the same sandbox image where a container is involved:
  medgym        the MCP client over stdio, spawning `medgym serve` (warm pool, preloaded runner)
  docker-exec   a bare `docker exec <container> python3 -c CODE` per run
  llm-sandbox   the llm-sandbox package (PyPI) with its Docker backend, one session per client
  poll-1s       a host subprocess polled once a second, like the upstream MedAgentGym harness

Workloads: (a) a trivial print; (b) import pandas + read a 50k-row CSV + a groupby; (c) episode
start: the first run of a new task (medgym: with a warm pool); (d) aggregate trivial runs per
second with 8 concurrent clients. Prints medians, p90s and each system's ratio to medgym.

usage: python benchmarks/run_code_latency.py [--runs 60] [--clients 8] [--seconds 10] [--skip llm-sandbox]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

IMAGE = os.environ.get("MEDGYM_IMAGE", "medgym-sandbox:0.1.0")
TRIVIAL = "print(1)"
MAKE_CSV = (
    "import numpy as np, pandas as pd\n"
    "rng = np.random.default_rng(0)\n"
    "pd.DataFrame({'g': rng.integers(0, 100, 50_000), 'x': rng.normal(size=50_000)}).to_csv('data.csv', index=False)\n"
)
PANDAS = "import pandas as pd\ndf = pd.read_csv('data.csv')\nprint(round(df.groupby('g')['x'].mean().sum(), 6))\n"
Timings = dict[str, list[float]]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- medgym over MCP stdio ----------------------------------------------------------------------
def _medgym_server(home: Path) -> StdioServerParameters:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "MEDGYM_HOME": str(home), "MEDGYM_IMAGE": IMAGE,
           "MEDGYM_LOG_LEVEL": "WARNING"}
    return StdioServerParameters(command=sys.executable, args=["-m", "medgym_cli", "serve"], env=env)


async def _medgym_task_ids(client: Client, count: int) -> list[str]:
    ids: list[str] = []
    for dataset in ("medgym_power", "medgym_calc"):
        page = await client.call_tool("list_tasks", {"dataset": dataset, "limit": 200})
        ids += [t["task_id"] for t in (page.structured_content or {})["tasks"]]
    return ids[:count]


async def _run(client: Client, task_id: str, code: str) -> float:
    started = time.perf_counter()
    result = await client.call_tool("run_code", {"task_id": task_id, "code": code})
    elapsed = time.perf_counter() - started
    if result.is_error or (result.structured_content or {}).get("exit_code") != 0:
        raise RuntimeError(f"medgym run failed: {result.content}")
    return elapsed


async def _wait_for_pool() -> None:
    await anyio.sleep(2.0)  # the warm pool refills in the background after each episode start


async def bench_medgym(home: Path, runs: int, starts: int) -> Timings:
    out: Timings = {"a": [], "b": [], "c": []}
    async with Client(_medgym_server(home), read_timeout_seconds=300) as client:
        ids = await _medgym_task_ids(client, starts + 1)
        main = ids[0]
        await _wait_for_pool()
        await _run(client, main, MAKE_CSV)
        for _ in range(3):
            await _run(client, main, TRIVIAL)
        out["a"] = [await _run(client, main, TRIVIAL) for _ in range(runs)]
        out["b"] = [await _run(client, main, PANDAS) for _ in range(max(10, runs // 2))]
        for task_id in ids[1 : starts + 1]:
            await _wait_for_pool()
            out["c"].append(await _run(client, task_id, TRIVIAL))
    return out


async def _medgym_client_loop(home: Path, deadline_holder: list[float], counts: list[int], errors: list[int],
                              ready: anyio.Event, go: anyio.Event) -> None:
    async with Client(_medgym_server(home), read_timeout_seconds=300) as client:
        task_id = (await _medgym_task_ids(client, 1))[0]
        await _run(client, task_id, TRIVIAL)
        ready.set()
        await go.wait()
        while time.perf_counter() < deadline_holder[0]:
            try:
                await _run(client, task_id, TRIVIAL)
                counts.append(1)
            except Exception:
                errors.append(1)


async def bench_medgym_throughput(home: Path, clients: int, seconds: float) -> tuple[float, int]:
    counts: list[int] = []
    errors: list[int] = []
    deadline = [0.0]
    go = anyio.Event()
    readies = [anyio.Event() for _ in range(clients)]
    async with anyio.create_task_group() as group:
        for ready in readies:
            group.start_soon(_medgym_client_loop, home, deadline, counts, errors, ready, go)
        for ready in readies:
            await ready.wait()
        deadline[0] = time.perf_counter() + seconds
        go.set()
    return len(counts) / seconds, len(errors)


# -- bare docker exec ---------------------------------------------------------------------------
def _docker_start() -> str:
    cmd = ["docker", "run", "-d", "--rm", "--network", "none", "--user", "1000:1000", "--read-only",
           "--tmpfs", "/workspace:rw,uid=1000,gid=1000,mode=0700", "--tmpfs", "/tmp", "-w", "/workspace",
           "--label", "medgym.bench=1", IMAGE, "sleep", "infinity"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def _docker_exec(container: str, code: str) -> float:
    started = time.perf_counter()
    subprocess.run(["docker", "exec", "-w", "/workspace", container, "python3", "-c", code], check=True,
                   capture_output=True)
    return time.perf_counter() - started


def _docker_rm(container: str) -> None:
    subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def bench_docker_exec(runs: int, starts: int) -> Timings:
    container = _docker_start()
    try:
        _docker_exec(container, MAKE_CSV)
        out: Timings = {"a": [_docker_exec(container, TRIVIAL) for _ in range(runs)],
                        "b": [_docker_exec(container, PANDAS) for _ in range(max(10, runs // 2))], "c": []}
    finally:
        _docker_rm(container)
    for _ in range(starts):
        started = time.perf_counter()
        fresh = _docker_start()
        _docker_exec(fresh, TRIVIAL)
        out["c"].append(time.perf_counter() - started)
        _docker_rm(fresh)
    return out


# -- llm-sandbox --------------------------------------------------------------------------------
def _llm_session() -> Any:
    from llm_sandbox import SandboxSession

    return SandboxSession(lang="python", image=IMAGE, keep_template=True, skip_environment_setup=True,
                          workdir="/workspace", runtime_configs={"network_mode": "none"})


def _llm_run(session: Any, code: str) -> float:
    started = time.perf_counter()
    result = session.run(code)
    if result.exit_code != 0:
        raise RuntimeError(f"llm-sandbox run failed: {result.stderr or result.stdout}")
    return time.perf_counter() - started


def bench_llm_sandbox(runs: int, starts: int) -> Timings:
    with _llm_session() as session:
        session.execute_command("mkdir -p /workspace")
        _llm_run(session, MAKE_CSV)
        out: Timings = {"a": [_llm_run(session, TRIVIAL) for _ in range(runs)],
                        "b": [_llm_run(session, PANDAS) for _ in range(max(10, runs // 2))], "c": []}
    for _ in range(starts):
        started = time.perf_counter()
        with _llm_session() as session:
            _llm_run(session, TRIVIAL)
            out["c"].append(time.perf_counter() - started)
    return out


# -- subprocess polled once a second (the upstream harness) ---------------------------------------
def _poll_run(workdir: Path, code: str) -> float:
    script = workdir / "script.py"
    script.write_text(code)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=workdir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    while proc.poll() is None:
        time.sleep(1.0)
    proc.communicate()
    return time.perf_counter() - started


def bench_poll(runs: int, starts: int) -> Timings:
    workdir = Path(tempfile.mkdtemp(prefix="poll-"))
    try:
        _poll_run(workdir, MAKE_CSV)
        few = max(5, runs // 10)
        return {"a": [_poll_run(workdir, TRIVIAL) for _ in range(few)],
                "b": [_poll_run(workdir, PANDAS) for _ in range(few)],
                "c": [_poll_run(workdir, TRIVIAL) for _ in range(min(starts, few))]}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# -- throughput of the thread-based peers ---------------------------------------------------------
def threaded_throughput(make: Callable[[], Any], run: Callable[[Any], float], close: Callable[[Any], None],
                        clients: int, seconds: float) -> tuple[float, int]:
    handles = [make() for _ in range(clients)]
    counts = [0] * clients
    errors = [0] * clients
    deadline = time.perf_counter() + seconds

    def loop(index: int) -> None:
        while time.perf_counter() < deadline:
            try:
                run(handles[index])
                counts[index] += 1
            except Exception:
                errors[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for handle in handles:
        close(handle)
    return sum(counts) / seconds, sum(errors)


def _llm_open() -> Any:
    session = _llm_session()
    session.open()
    return session


def _poll_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="poll-"))


def throughput_peers(clients: int, seconds: float, skip: set[str]) -> dict[str, tuple[float, int]]:
    result = {"docker-exec": threaded_throughput(_docker_start, lambda c: _docker_exec(c, TRIVIAL), _docker_rm,
                                                 clients, seconds)}
    if "llm-sandbox" not in skip:
        result["llm-sandbox"] = threaded_throughput(_llm_open, lambda s: _llm_run(s, TRIVIAL), lambda s: s.close(),
                                                    clients, seconds)
    if "poll-1s" not in skip:
        result["poll-1s"] = threaded_throughput(_poll_workdir, lambda d: _poll_run(d, TRIVIAL),
                                                lambda d: shutil.rmtree(d, ignore_errors=True), clients, seconds)
    return result


# -- report -------------------------------------------------------------------------------------
WORKLOADS = {"a": "(a) trivial print", "b": "(b) pandas: read 50k-row CSV + groupby",
             "c": "(c) episode start (first run of a new task)"}


def report(results: dict[str, Timings], throughput: dict[str, tuple[float, int]]) -> str:
    lines = []
    for key, title in WORKLOADS.items():
        base = statistics.median(results["medgym"][key]) * 1000
        lines += [f"\n{title}", "| system | runs | median ms | p90 ms | × medgym |", "|---|---:|---:|---:|---:|"]
        for name, timings in results.items():
            values = [v * 1000 for v in timings[key]]
            median = statistics.median(values)
            lines.append(f"| {name} | {len(values)} | {median:.1f} | {_percentile(values, 0.9):.1f} | "
                         f"{median / base:.1f} |")
    medgym_rate = throughput["medgym"][0]
    lines += ["\n(d) aggregate trivial runs with concurrent clients", "| system | runs/s | errors | medgym × |",
              "|---|---:|---:|---:|"]
    for name, (rate, errors) in throughput.items():
        lines.append(f"| {name} | {rate:.1f} | {errors} | {medgym_rate / rate:.1f} |" if rate else
                     f"| {name} | 0 | {errors} | – |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--skip", action="append", default=[], choices=["llm-sandbox", "poll-1s"])
    parser.add_argument("--home", type=Path, default=Path.home() / ".medgym",
                        help="medgym home holding the built-in pack (built on first use)")
    args = parser.parse_args()
    skip = set(args.skip)
    print(f"image {IMAGE}; {os.cpu_count()} CPUs; {args.runs} runs, {args.starts} starts, "
          f"{args.clients} clients x {args.seconds:g} s", file=sys.stderr)
    results: dict[str, Timings] = {"medgym": anyio.run(bench_medgym, args.home, args.runs, args.starts)}
    print("medgym done", file=sys.stderr)
    results["docker-exec"] = bench_docker_exec(args.runs, args.starts)
    print("docker exec done", file=sys.stderr)
    if "llm-sandbox" not in skip:
        results["llm-sandbox"] = bench_llm_sandbox(args.runs, args.starts)
        print("llm-sandbox done", file=sys.stderr)
    if "poll-1s" not in skip:
        results["poll-1s"] = bench_poll(args.runs, args.starts)
        print("poll-1s done", file=sys.stderr)
    throughput = {"medgym": anyio.run(bench_medgym_throughput, args.home, args.clients, args.seconds)}
    throughput.update(throughput_peers(args.clients, args.seconds, skip))
    print(report(results, throughput))
    return 0


if __name__ == "__main__":
    sys.exit(main())
