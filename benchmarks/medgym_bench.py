"""medgym's side of the latency benchmark: a medgym source tree served over stdio, through the MCP client.

Each server is `benchmarks/serve_with_noop.py` run with the tree on PYTHONPATH: `medgym serve` plus a
no-op tool, so the floor (what any tool call costs through this server) is measured in the same
session as run_code. Any medgym tree can be measured, e.g. a worktree of an older commit, to give
before/after figures on the same machine at the same time.

With a stage file, the server logs one line per call (`medgym.stages`, see `medgym/stages.py`) and
`stage_table` turns the lines into a per-stage breakdown of a run_code and a no-op call.

Around each block of calls the machine's CPU time is read (`cpu_ns`: every process, the containers
included), so the report can say what one call costs the machine, not only how long it takes:
back-to-back calls cannot come faster than that cost divided by the number of CPUs.

Trivial run_code calls and no-op calls are measured back to back (a scripted client's pace: the
sandbox's clean-up after a run and its next spare's set-up compete with the next call) and paced,
each after a 50 ms pause (an agent's pace: a model's turn between two calls), in alternating blocks.

Episode starts are measured twice: once the warm pool has refilled, found by polling the server's
status every 50 ms (the server stays active, as a busy one is, and the refill is over), and after
3 s with nothing to do, next to a no-op call after the same pause (what the machine itself adds
after idling: on some virtual machines, tens of ms).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

IMAGE = os.environ.get("MEDGYM_IMAGE", "medgym-sandbox:0.1.0")
LAUNCHER = Path(__file__).with_name("serve_with_noop.py")
TRIVIAL = "print(1)"
MAKE_CSV = (
    "import numpy as np, pandas as pd\n"
    "rng = np.random.default_rng(0)\n"
    "pd.DataFrame({'g': rng.integers(0, 100, 50_000), 'x': rng.normal(size=50_000)}).to_csv('data.csv', index=False)\n"
)
PANDAS = "import pandas as pd\ndf = pd.read_csv('data.csv')\nprint(round(df.groupby('g')['x'].mean().sum(), 6))\n"
BLOCK = 10  # calls of one tool in a row; blocks of the no-op and of run_code alternate
PASSED_ON = ("MEDGYM_CPUS", "MEDGYM_RUNNER_CHANNEL")  # set them to measure servers with other sandbox settings
Stages = dict[str, float]


@dataclass
class Latency:
    """One session's timings in seconds: the no-op tool and workloads a, b, c; stages per call (ms)."""

    noop: list[float] = field(default_factory=list)
    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    c: list[float] = field(default_factory=list)
    c_idle: list[float] = field(default_factory=list)  # episode starts after 3 s idle
    noop_idle: list[float] = field(default_factory=list)  # no-op calls after 3 s idle
    noop_paced: list[float] = field(default_factory=list)  # no-op calls, each after a PACE_S pause
    a_paced: list[float] = field(default_factory=list)  # trivial run_code calls, each after a PACE_S pause
    cpu_noop_ns: float = 0.0  # the machine's CPU time over all no-op blocks (0 when unknown)
    cpu_a_ns: float = 0.0  # and over all run_code (a) blocks
    sandbox_cpu_a_ns: float = 0.0  # the containers' share of it over the run_code blocks
    stages: dict[str, list[Stages]] = field(default_factory=dict)
    stages_paced: dict[str, list[Stages]] = field(default_factory=dict)  # the same, of the paced calls

    def cpu_ms_per_call(self) -> tuple[float, float, float]:
        """The machine's CPU time per no-op call and per run_code (a) call, and the containers' share of
        the latter, in ms."""
        calls = max(1, len(self.a))
        return (self.cpu_noop_ns / max(1, len(self.noop)) / 1e6, self.cpu_a_ns / calls / 1e6,
                self.sandbox_cpu_a_ns / calls / 1e6)


def _cgroup_usage_ns(v1_files: tuple[str, ...], v2_stats: list[Path]) -> float | None:
    """CPU time used so far by a cgroup, in ns: the first readable cgroup v1 `cpuacct.usage` file, else
    the sum of `usage_usec` over the cgroup v2 `cpu.stat` files; None when none can be read."""
    for path in v1_files:
        with contextlib.suppress(OSError):
            return float(Path(path).read_text().split()[0])
    usages = []
    for stat in v2_stats:
        with contextlib.suppress(OSError, ValueError, IndexError):
            usages.append(1000.0 * float(stat.read_text().split("usage_usec", 1)[1].split()[0]))
    return sum(usages) if usages else None


def sandbox_cpu_ns() -> float:
    """CPU time used by all Docker containers so far, in ns (cgroup v1's `docker` group, or v2's
    `docker-*.scope` groups); 0.0 when unreadable."""
    found = _cgroup_usage_ns(("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage",),
                             list(Path("/sys/fs/cgroup/system.slice").glob("docker-*.scope/cpu.stat")))
    return found or 0.0


def cpu_ns() -> float:
    """CPU time used by every process of this machine so far, in ns (the root cgroup's account, v1 or
    v2; else /proc/stat, in clock ticks); 0.0 when none can be read."""
    found = _cgroup_usage_ns(("/sys/fs/cgroup/cpuacct/cpuacct.usage", "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage"),
                             [Path("/sys/fs/cgroup/cpu.stat")])
    if found is not None:
        return found
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    busy = sum(int(v) for v in fields[:8]) - int(fields[3]) - int(fields[4])  # all but idle and iowait
    return busy * 1e9 / os.sysconf("SC_CLK_TCK")


def server(home: Path, tree: Path, stages_file: Path | None = None) -> StdioServerParameters:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "MEDGYM_HOME": str(home), "MEDGYM_IMAGE": IMAGE,
           "MEDGYM_LOG_LEVEL": "WARNING", "PYTHONPATH": str(tree)}
    env.update({name: os.environ[name] for name in PASSED_ON if name in os.environ})
    if stages_file is not None:
        env["MEDGYM_BENCH_STAGES"] = str(stages_file)
    return StdioServerParameters(command=sys.executable, args=[str(LAUNCHER)], env=env, cwd=str(tree))


async def task_ids(client: Client, count: int) -> list[str]:
    ids: list[str] = []
    for dataset in ("medgym_power", "medgym_calc"):
        page = await client.call_tool("list_tasks", {"dataset": dataset, "limit": 200})
        ids += [t["task_id"] for t in (page.structured_content or {})["tasks"]]
    return ids[:count]


async def run(client: Client, task_id: str, code: str) -> float:
    started = time.perf_counter()
    result = await client.call_tool("run_code", {"task_id": task_id, "code": code})
    elapsed = time.perf_counter() - started
    if result.is_error or (result.structured_content or {}).get("exit_code") != 0:
        raise RuntimeError(f"medgym run failed: {result.content}")
    return elapsed


async def noop(client: Client) -> float:
    started = time.perf_counter()
    result = await client.call_tool("noop", {})
    elapsed = time.perf_counter() - started
    if result.is_error:
        raise RuntimeError(f"no-op failed: {result.content}")
    return elapsed


IDLE_S = 3.0
PACE_S = 0.05  # paced calls: one every 50 ms or so, as an agent's come (a model's turn between two calls)


UNOBSERVED_REFILL_S = 3.0  # a tree without `medgym://status` (older than it): its pool is given this long


async def _pool_full(client: Client) -> bool | None:
    """Whether the server's warm pool is full; None when the server cannot say (no status resource)."""
    try:
        status = await client.read_resource("medgym://status")
    except MCPError:
        return None
    nodes = json.loads(status.contents[0].text)["nodes"]  # type: ignore[union-attr]
    return any(node["pool_target"] > 0 for node in nodes) and all(n["pool_idle"] >= n["pool_target"] for n in nodes)


async def _wait_for_pools(clients: list[Client], timeout_s: float = 30.0) -> None:
    """Until every server's warm pool has refilled (polled every 50 ms: the servers stay active). A
    server that cannot say gets UNOBSERVED_REFILL_S, polled the same way for activity's sake."""
    deadline = time.monotonic() + timeout_s
    for client in clients:
        unobserved_until = time.monotonic() + UNOBSERVED_REFILL_S
        while time.monotonic() < deadline:
            full = await _pool_full(client)
            if full or (full is None and time.monotonic() >= unobserved_until):
                break
            await anyio.sleep(0.05)


async def latency(home: Path, trees: dict[str, Path], runs: int, starts: int,
                  stages_file: Path | None = None) -> dict[str, Latency]:
    """Every tree's server at once, measured in turns: blocks of no-op calls and of trivial run_code
    calls alternate, tree after tree, so all of them see the same moments of a noisy machine. Then
    workload b, then c (episode starts), in turns too."""
    out = {name: Latency() for name in trees}
    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(
            Client(server(home, tree, stages_file), read_timeout_seconds=300)) for name, tree in trees.items()}
        idle_starts = min(starts, 5)
        ids = {name: await task_ids(client, starts + idle_starts + 1) for name, client in clients.items()}
        await _wait_for_pools(list(clients.values()))
        for name, client in clients.items():
            await run(client, ids[name][0], MAKE_CSV)
            for _ in range(3):
                await run(client, ids[name][0], TRIVIAL)
                await noop(client)
        await _wait_for_pools(list(clients.values()))  # the pools refill after the first episode: not in the blocks
        seen = _lines(stages_file)
        while len(out[next(iter(trees))].a) < runs:
            for name, client in clients.items():
                before = cpu_ns()
                out[name].noop += [await noop(client) for _ in range(BLOCK)]
                middle, in_sandboxes = cpu_ns(), sandbox_cpu_ns()
                out[name].a += [await run(client, ids[name][0], TRIVIAL) for _ in range(BLOCK)]
                out[name].cpu_noop_ns += middle - before
                out[name].cpu_a_ns += cpu_ns() - middle
                out[name].sandbox_cpu_a_ns += sandbox_cpu_ns() - in_sandboxes
        for name in trees:
            out[name].stages = read_stages(stages_file, seen)  # only one tree logs stages (see `stage_table`)
        seen = _lines(stages_file)
        while len(out[next(iter(trees))].a_paced) < runs:
            for name, client in clients.items():
                for _ in range(BLOCK):
                    await anyio.sleep(PACE_S)
                    out[name].noop_paced.append(await noop(client))
                for _ in range(BLOCK):
                    await anyio.sleep(PACE_S)
                    out[name].a_paced.append(await run(client, ids[name][0], TRIVIAL))
        for name in trees:
            out[name].stages_paced = read_stages(stages_file, seen)
        for _ in range(max(10, runs // 4)):
            for name, client in clients.items():
                out[name].b.append(await run(client, ids[name][0], PANDAS))
        for index in range(1, starts + 1):
            await _wait_for_pools(list(clients.values()))
            turn = list(clients.items())
            for name, client in turn if index % 2 else reversed(turn):  # who goes first alternates
                out[name].c.append(await run(client, ids[name][index], TRIVIAL))
        await _wait_for_pools(list(clients.values()))
        for index in range(starts + 1, starts + idle_starts + 1):
            turn = list(clients.items())
            for name, client in turn if index % 2 else reversed(turn):
                await anyio.sleep(IDLE_S)
                out[name].noop_idle.append(await noop(client))
                await anyio.sleep(IDLE_S)
                out[name].c_idle.append(await run(client, ids[name][index], TRIVIAL))
    return out


async def _client_loop(home: Path, tree: Path, deadline: list[float], counts: list[int], errors: list[int],
                       ready: anyio.Event, go: anyio.Event) -> None:
    async with Client(server(home, tree), read_timeout_seconds=300) as client:
        task_id = (await task_ids(client, 1))[0]
        await run(client, task_id, TRIVIAL)
        await _wait_for_pools([client])  # steady state: no container start (a runner importing pandas) in the count
        ready.set()
        await go.wait()
        while time.perf_counter() < deadline[0]:
            try:
                await run(client, task_id, TRIVIAL)
                counts.append(1)
            except Exception:
                errors.append(1)


async def throughput(home: Path, tree: Path, clients: int, seconds: float) -> tuple[float, int]:
    """Aggregate trivial runs per second of `clients` concurrent clients (each with its own server)."""
    counts: list[int] = []
    errors: list[int] = []
    deadline = [0.0]
    go = anyio.Event()
    readies = [anyio.Event() for _ in range(clients)]
    async with anyio.create_task_group() as group:
        for ready in readies:
            group.start_soon(_client_loop, home, tree, deadline, counts, errors, ready, go)
        for ready in readies:
            await ready.wait()
        deadline[0] = time.perf_counter() + seconds
        go.set()
    return len(counts) / seconds, len(errors)


# -- the per-stage breakdown --------------------------------------------------------------------
def _lines(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    with path.open() as handle:
        return sum(1 for _ in handle)


def read_stages(path: Path | None, skip: int) -> dict[str, list[Stages]]:
    """The stage lines logged after the first `skip` lines, per tool (`total` is the server's whole time)."""
    found: dict[str, list[Stages]] = {}
    if path is None or not path.exists():
        return found
    with path.open() as handle:
        for line in list(handle)[skip:]:
            tool, rest = line.split(" ", 1)
            total, _, fields = rest.partition(" ms: ")
            stages = {"total": float(total)}
            for part in fields.replace("|", " ").split():
                name, _, value = part.partition("=")
                stages[name] = float(value)
            found.setdefault(tool, []).append(stages)
    return found


ROWS = (  # (label, how to compute it from one call's stages and the client's median), in call order
    ("MCP client, stdio and JSON-RPC, both ends (client total − server total)", None),
    ("SDK: arguments validated, tool looked up", "enter"),
    ("episode resolution (task known? episode, lock)", "resolve+lock"),
    ("sandbox acquired", "sandbox"),
    ("request to the runner and its reply (sandbox round trip)", "request"),
    ("  · channel, both ways: socket (or attach) I/O and wake-ups (at least: round trip − runner − busy)",
     "request-runner-busy"),
    ("  · runner still busy with the previous run when the request came (at most)", "busy"),
    ("      (its work after the previous reply: the next spare forked)", "after_fork"),
    ("      (… the last run's processes reaped)", "after_settle"),
    ("      (… the cgroup counters read)", "after_counters"),
    ("  · runner: request read → reply written", "runner"),
    ("      request parsed, code handed to the spare child", "prepare"),
    ("      waiting for the spare child's set-up", "spare_wait"),
    ("      child woken, code read", "start"),
    ("      code run (compile, exec, flush)", "exec"),
    ("      child's exit status written, runner woken", "report"),
    ("      output drained, every process killed, reply built", "collect"),
    ("reply parsed (JSON, ExecResult)", "parse"),
    ("result model (RunResult)", "result"),
    ("recorded", "record"),
    ("SDK: result converted (structured + text)", "sdk_out"),
    ("server total (SDK call_tool)", "total"),
)


# `busy` is the most the runner can have kept the next request waiting (the request came at some
# point of that time): what is computed with it is a lower bound, shown as 0 when it comes out below.
LOWER_BOUNDS = ("request-runner-busy",)


def _stage(calls: list[Stages], expression: str) -> float | None:
    """The median over calls of `a+b` or `a-b-c` (stage names); None when a call lacks a stage."""
    sign = -1.0 if "-" in expression else 1.0
    first, *rest = expression.replace("+", "-").split("-")
    values = [stages[first] + sign * sum(stages[name] for name in rest)
              for stages in calls if all(name in stages for name in (first, *rest))]
    return statistics.median(values) if values else None


def stage_table(latency: Latency) -> str:
    """Median ms per stage of run_code (workload a) and of the no-op tool, over the same session: back
    to back, and paced (each call after a pause, as an agent's come)."""
    lines = ["| stage | run_code ms | no-op ms | paced: run_code ms | no-op ms |", "|---|---:|---:|---:|---:|"]
    columns = [(latency.stages.get("run_code", []), latency.a), (latency.stages.get("noop", []), latency.noop),
               (latency.stages_paced.get("run_code", []), latency.a_paced),
               (latency.stages_paced.get("noop", []), latency.noop_paced)]
    for label, expression in ROWS:
        cells = []
        for calls, client in columns:
            if expression is None:
                server_total = _stage(calls, "total")
                value = statistics.median(client) * 1000 - server_total if server_total is not None and client \
                    else None
            else:
                value = _stage(calls, expression)
                if value is not None and expression in LOWER_BOUNDS:
                    value = max(0.0, value)
            cells.append("–" if value is None else f"{value:.3f}")
        lines.append(f"| {label} | {' | '.join(cells)} |")
    totals = [f"**{statistics.median(client) * 1000:.3f}**" if client else "–" for _, client in columns]
    lines.append(f"| **at the client (median)** | {' | '.join(totals)} |")
    return "\n".join(lines)
