"""run_code latency and throughput: medgym against its floor and its peers, side by side, in one run.

Systems, all on the same sandbox image where a container is involved:
  medgym        the MCP client over stdio, spawning `medgym serve` (warm pool, preloaded runner) plus a
                no-op tool, the floor: what any tool call costs through the same server
  docker-exec   a bare `docker exec <container> python3 -c CODE` per run
  llm-sandbox   the llm-sandbox package (PyPI) with its Docker backend, one session per client
  poll-1s       a host subprocess polled once a second, like the upstream MedAgentGym harness

Workloads: (a) a trivial print; (b) import pandas + read a 50k-row CSV + a groupby; (c) episode
start: the first run of a new task (medgym: once its warm pool has refilled; and, apart, after 3 s
idle next to a no-op after the same pause); (d) aggregate trivial runs per second with 8
concurrent clients (medgym: counted once every server's warm pool has refilled). Prints medians,
p90s, run_code's ratio to the no-op floor (back to back, and paced: each call after a 50 ms pause,
as an agent's come), the machine's CPU time per call, and each system's ratio to medgym.

--baseline TREE measures a second medgym source tree the same way (e.g. a worktree of an older
commit: `git worktree add /tmp/base <commit>`), alternating with this one for --rounds rounds, so
before/after figures come from one session on one machine. --stages prints where a run_code's time
goes, stage by stage, next to a no-op call's (from a separate session that logs each call's stages).

MEDGYM_CPUS (the sandboxes' CPU quota) and MEDGYM_RUNNER_CHANNEL, when set, are passed on to the
medgym servers measured.

usage: python benchmarks/run_code_latency.py [--runs 60] [--starts 10] [--clients 8] [--seconds 10]
           [--rounds 1] [--baseline TREE] [--stages] [--skip llm-sandbox] [--skip poll-1s]
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

sys.path.insert(0, str(Path(__file__).parent))
import medgym_bench as medgym
from medgym_bench import IMAGE, MAKE_CSV, PANDAS, TRIVIAL

Timings = dict[str, list[float]]
TREE = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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
    result = {}
    if "docker-exec" not in skip:
        result["docker-exec"] = threaded_throughput(_docker_start, lambda c: _docker_exec(c, TRIVIAL), _docker_rm,
                                                    clients, seconds)
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


def _ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):.1f} ({_percentile(ms, 0.9):.1f})"


def report_peers(results: dict[str, Timings], throughput: dict[str, tuple[float, int]]) -> str:
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


def report_rounds(rounds: dict[str, list[medgym.Latency]], rates: dict[str, list[tuple[float, int]]]) -> str:
    """medgym per tree: the floor, run_code and its ratio to the floor, per round and over all rounds."""
    lines = ["\nmedgym, per tree (ms, median (p90); in each round the trees' servers run side by side and are "
             "measured in turns; 'all' pools the rounds; CPU: the whole machine's CPU time per call over the "
             "blocks of back-to-back calls, every process included, and the sandbox containers' share of it)",
             "| tree | round | no-op floor | (a) run_code | ratio | ratio at p10 | CPU per no-op | CPU per run_code "
             "(in sandboxes) | (b) pandas | (c) episode start | (d) runs/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    idle = ["\nAfter 3 s with nothing to do (ms, median (p90)): what the machine adds after idling",
            "| tree | no-op | (c) episode start |", "|---|---:|---:|"]
    paced = [f"\nPaced: each call after a {medgym.PACE_S * 1000:.0f} ms pause, as an agent's calls come (ms, median "
             "(p90); blocks of the no-op and of run_code alternate)",
             "| tree | no-op floor | (a) run_code | ratio |", "|---|---:|---:|---:|"]
    for tree, sessions in rounds.items():
        pooled = medgym.Latency()
        for index, (session, (rate, errors)) in enumerate(zip(sessions, rates[tree], strict=True), 1):
            shown = f"{rate:.1f}" + (f" ({errors} errors)" if errors else "")
            lines.append(_round_row(tree, str(index), session, shown))
            for key in ("noop", "a", "b", "c", "c_idle", "noop_idle", "noop_paced", "a_paced"):
                getattr(pooled, key).extend(getattr(session, key))
            pooled.cpu_noop_ns += session.cpu_noop_ns
            pooled.cpu_a_ns += session.cpu_a_ns
            pooled.sandbox_cpu_a_ns += session.sandbox_cpu_a_ns
        all_rates = [rate for rate, _ in rates[tree]]
        lines.append(_round_row(tree, "**all**", pooled, f"{statistics.median(all_rates):.1f}"))
        if pooled.c_idle:
            idle.append(f"| {tree} | {_ms(pooled.noop_idle)} | {_ms(pooled.c_idle)} |")
        if pooled.a_paced:
            ratio = statistics.median(pooled.a_paced) / statistics.median(pooled.noop_paced)
            paced.append(f"| {tree} | {_ms(pooled.noop_paced)} | {_ms(pooled.a_paced)} | {ratio:.2f}× |")
    cpus = os.cpu_count() or 1
    lines.append(f"\nBack-to-back calls cannot come faster than the CPU they cost divided by the machine's {cpus} "
                 "CPUs (the client, server, runner and containers all share them), nor faster than a sandbox's own "
                 "CPU per run divided by its CPU quota (MEDGYM_CPUS, 1 core by default).")
    return "\n".join(lines + (paced if len(paced) > 3 else []) + (idle if len(idle) > 3 else []))


def _round_row(tree: str, label: str, session: medgym.Latency, rate: str) -> str:
    ratio = statistics.median(session.a) / statistics.median(session.noop)
    quiet = _percentile(session.a, 0.1) / _percentile(session.noop, 0.1)  # the machine's quieter moments
    cpu_noop, cpu_a, cpu_sandbox = session.cpu_ms_per_call()
    return (f"| {tree} | {label} | {_ms(session.noop)} | {_ms(session.a)} | {ratio:.2f}× | {quiet:.2f}× | "
            f"{cpu_noop:.1f} | {cpu_a:.1f} ({cpu_sandbox:.1f}) | {_ms(session.b)} | {_ms(session.c)} | {rate} |")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1, help="medgym sessions per tree, alternating trees")
    parser.add_argument("--baseline", type=Path, help="another medgym source tree to measure the same way")
    parser.add_argument("--stages", action="store_true", help="print the per-stage breakdown of a run_code call")
    parser.add_argument("--skip", action="append", default=[], choices=["llm-sandbox", "poll-1s", "docker-exec"])
    parser.add_argument("--home", type=Path, default=Path.home() / ".medgym",
                        help="medgym home holding the built-in pack (built on first use)")
    return parser.parse_args()


def _medgym_rounds(args: argparse.Namespace) -> tuple[dict[str, list[medgym.Latency]], dict[str, list[Any]]]:
    """Per round: the latency of every tree measured in turns in one session, then each tree's throughput
    (one tree after the other, in alternating order)."""
    trees = {"this tree": TREE} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    rounds: dict[str, list[medgym.Latency]] = {name: [] for name in trees}
    rates: dict[str, list[Any]] = {name: [] for name in trees}
    for index in range(args.rounds):
        for name, session in anyio.run(medgym.latency, args.home, trees, args.runs, args.starts).items():
            rounds[name].append(session)
        for name, tree in (trees.items() if index % 2 == 0 else reversed(trees.items())):
            rates[name].append(anyio.run(medgym.throughput, args.home, tree, args.clients, args.seconds))
        print(f"medgym round {index + 1} done", file=sys.stderr)
    return rounds, rates


def _stages(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="medgym-stages-") as folder:
        sessions = anyio.run(medgym.latency, args.home, {"this tree": TREE}, args.runs, 1, Path(folder) / "stages.log")
    return "\nWhere the time goes, this tree (one session with stage logging on; ms, medians)\n" + \
        medgym.stage_table(sessions["this tree"])


def main() -> int:
    args = _args()
    skip = set(args.skip)
    print(f"image {IMAGE}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}; {args.runs} runs, "
          f"{args.starts} starts, {args.clients} clients x {args.seconds:g} s, {args.rounds} round(s)", file=sys.stderr)
    rounds, rates = _medgym_rounds(args)
    results: dict[str, Timings] = {"medgym": {k: [v for s in rounds["this tree"] for v in getattr(s, k)]
                                              for k in ("a", "b", "c")}}
    ours = rates["this tree"]
    throughput = {"medgym": (statistics.median(r for r, _ in ours), sum(e for _, e in ours))}
    stage_text = _stages(args) if args.stages else ""
    if "docker-exec" not in skip:
        results["docker-exec"] = bench_docker_exec(args.runs, args.starts)
        print("docker exec done", file=sys.stderr)
    if "llm-sandbox" not in skip:
        results["llm-sandbox"] = bench_llm_sandbox(args.runs, args.starts)
        print("llm-sandbox done", file=sys.stderr)
    if "poll-1s" not in skip:
        results["poll-1s"] = bench_poll(args.runs, args.starts)
        print("poll-1s done", file=sys.stderr)
    throughput.update(throughput_peers(args.clients, args.seconds, skip))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print(report_rounds(rounds, rates) + stage_text + report_peers(results, throughput))
    return 0


if __name__ == "__main__":
    sys.exit(main())
