"""`medgym eval`: run an agent over a task selection through medgym's own MCP surface.

Episodes run `concurrency` at a time over one MCP connection (each opens its own episode with
`get_task(new_episode=True)` and passes its `episode_id` back), `samples` per task. Every finished
episode is appended to the run directory at once; running again with the same directory resumes,
and with `retry_errors` also runs again the episodes that failed before any verdict.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evaluation.agents import Agent
from evaluation.remote import remote_client
from evaluation.session import EpisodeSession, agent_tool_specs, wait_until_ready
from medgym.errors import InvalidArgumentError
from medgym.version import __version__
from trajectory.rundir import ResultRow, RunDir
from trajectory.turns import write_turns


@dataclass(frozen=True)
class Selection:
    dataset: str | None = None
    split: str | None = None
    category: str | None = None
    limit: int | None = None
    tasks_file: Path | None = None


@dataclass
class EvalOptions:
    run_dir: Path
    agent: Agent
    agent_info: dict[str, Any]
    selection: Selection = field(default_factory=Selection)
    samples: int = 1
    concurrency: int = 4
    url: str | None = None
    server_env: dict[str, str] = field(default_factory=dict)
    quiet: bool = False
    retry_errors: bool = False
    token: str | None = field(default=None, repr=False)  # the bearer token for `url` (MEDGYM_TOKEN)


@asynccontextmanager
async def connect(options: EvalOptions) -> AsyncIterator[Client]:
    """A running HTTP server (`--url`) or `medgym serve` spawned over stdio."""
    if options.url:
        async with remote_client(options.url, options.token) as client:
            yield client
        return
    keep = ("PATH", "HOME", "DOCKER_HOST", "LANG")
    env = {k: v for k, v in os.environ.items() if k.startswith("MEDGYM_") or k in keep}
    env.update(options.server_env)
    params = StdioServerParameters(command=sys.executable, args=["-m", "medgym_cli", "serve"], env=env)
    async with Client(params, read_timeout_seconds=900) as client:
        yield client


async def select_tasks(client: Client, selection: Selection) -> list[str]:
    if selection.tasks_file is not None:
        lines = selection.tasks_file.read_text(encoding="utf-8").splitlines()
        listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        return listed[: selection.limit] if selection.limit else listed
    filters: dict[str, Any] = {k: v for k, v in (("dataset", selection.dataset), ("split", selection.split),
                                                 ("category", selection.category)) if v}
    ids: list[str] = []
    cursor: str | None = None
    while selection.limit is None or len(ids) < selection.limit:
        arguments = {**filters, "limit": 200, **({"cursor": cursor} if cursor else {})}
        result = await client.call_tool("list_tasks", arguments)
        if result.is_error:
            message = " ".join(getattr(c, "text", "") for c in result.content)
            raise InvalidArgumentError(message.removeprefix("Error executing tool list_tasks: "))
        page = result.structured_content or {}
        ids += [t["task_id"] for t in page["tasks"]]
        if not (cursor := page.get("next_cursor")):
            break
    return ids[: selection.limit] if selection.limit else ids


async def run_episode(client: Client, agent: Agent, agent_info: dict[str, Any], task_id: str, sample: int,
                      run_dir: RunDir, tools: list[dict[str, Any]], retry_of: str | None = None) -> ResultRow:
    session = EpisodeSession(client, task_id, tools)
    started = time.monotonic()
    error = None
    try:
        await session.open(group=f"{run_dir.path.name}/{task_id}")
        await agent(session)
    except Exception as exc:  # the agent or harness failed: recorded as an error, not a wrong answer
        error = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        with anyio.CancelScope(shield=True):
            await session.abandon()
    if error is None and session.verdict is None and session.server_problem:  # no verdict, and the server failed
        error = session.server_problem[:500]
    view, verdict = session.view, session.verdict or {}
    transcript = run_dir.write_transcript(session.episode_id, session.messages) if session.episode_id else None
    if transcript is not None:
        write_turns(run_dir.path / transcript, session.log)
    return ResultRow(
        task_id=task_id, sample=sample, episode_id=session.episode_id or f"unopened-{task_id}-{sample}",
        dataset=view.get("dataset", task_id.split("/", 1)[0]), split=view.get("split", ""),
        category=view.get("category", ""), agent=str(agent_info.get("kind")), model=agent_info.get("model"),
        submitted=session.verdict is not None, correct=bool(verdict.get("correct")),
        score=float(verdict.get("score", 0.0)), feedback=verdict.get("feedback"), turns=session.turns,
        run_code_calls=session.run_code_calls, duration_s=round(time.monotonic() - started, 3), error=error,
        transcript=transcript,
        ordinal=int(view.get("ordinal", 1)), group_id=view.get("group"),
        scorable=bool(view.get("scorable")) and bool(view.get("solvable", True)) if view else None,
        verdict_unknown=session.verdict_unknown and session.verdict is None, retry_of=retry_of,
    )


async def run_eval(options: EvalOptions) -> list[ResultRow]:
    run_dir = RunDir(options.run_dir)
    run_dir.create()
    previous = {row.key: row for row in run_dir.rows()}
    retry = {key: row.episode_id for key, row in previous.items() if options.retry_errors and row.retryable}
    finished = set(previous) - set(retry)
    async with connect(options) as client:
        datasets = await wait_until_ready(client)
        task_ids = await select_tasks(client, options.selection)
        tools = await agent_tool_specs(client)
        run_dir.write_tool_specs(tools)
        jobs = [(t, k) for t in task_ids for k in range(options.samples) if (t, k) not in finished]
        _write_metadata(run_dir, options, client, len(task_ids), str(datasets.get("labels", "official")))
        limiter = anyio.Semaphore(options.concurrency)
        with _progress(options.quiet) as progress:
            bar = progress.add_task("episodes", total=len(task_ids) * options.samples, completed=len(finished))

            async def one(task_id: str, sample: int) -> None:
                async with limiter:
                    row = await run_episode(client, options.agent, options.agent_info, task_id, sample, run_dir,
                                            tools, retry.get((task_id, sample)))
                run_dir.append(row)
                progress.advance(bar)

            async with anyio.create_task_group() as group:
                for task_id, sample in jobs:
                    group.start_soon(one, task_id, sample)
    return run_dir.rows()


def _progress(quiet: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=quiet)


def _write_metadata(run_dir: RunDir, options: EvalOptions, client: Client, tasks: int, labels: str) -> None:
    server = client.server_info
    metadata = run_dir.metadata()
    metadata.update({
        "medgym_version": __version__,
        "agent": options.agent_info,
        "selection": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options.selection).items()},
        "tasks": tasks, "samples": options.samples, "concurrency": options.concurrency, "labels": labels,
        "server": {"url": options.url or "stdio: medgym serve",
                   "name": getattr(server, "name", None), "version": getattr(server, "version", None)},
        "python": platform.python_version(),
    })
    metadata.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    metadata["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    run_dir.write_metadata(metadata)
