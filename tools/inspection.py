"""inspect_data: look at a task's tables (list, describe, value counts, search) without writing code.

The inspection runs in the episode's own sandbox (the same read-only files and limits as the
agent's code) by sending `sandbox/inspector.py` through the runner; this module only checks the
request and turns the inspector's one-line JSON answer into a result.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Literal, get_args

from sandbox import inspector
from task_store import data
from tools.catalog import resolve_episode, task_of
from tools.context import Services
from tools.errors import ServiceError, ToolInputError
from tools.execution import run_in_sandbox
from tools.results import InspectResult

Action = Literal["list_tables", "describe_table", "column_values", "search"]
ACTIONS: tuple[str, ...] = get_args(Action)
TIMEOUT_FACTOR = 2.0  # an inspection may take twice run_code's default timeout (it may scan a whole table)


@functools.cache
def _program() -> str:
    return Path(inspector.__file__).read_text(encoding="utf-8")


def _script(root: str, action: str, arguments: dict[str, Any], max_bytes: int) -> str:
    request = json.dumps({"root": root, "action": action, "arguments": arguments, "max_bytes": max_bytes})
    return f"{_program()}\n\nmain(json.loads({request!r}))\n"


async def inspect_data(
    services: Services,
    client: str | None,
    task_id: str,
    action: str,
    table: str | None = None,
    column: str | None = None,
    term: str | None = None,
    episode_id: str | None = None,
) -> InspectResult:
    if action not in ACTIONS:
        raise ToolInputError(f"action must be one of {', '.join(ACTIONS)}")
    task = task_of(services, task_id)
    root = services.store.root_of(task.dataset)
    if root is None or not data.data_files(root.path / task.dataset, task.dataset):
        raise ToolInputError(
            f"{task.dataset} tasks have no data files to inspect here: the question and context "
            "hold everything (see get_task's data_files)")
    episode = resolve_episode(services, client, task_id, episode_id)
    arguments = {k: v for k, v in (("table", table), ("column", column), ("term", term)) if v is not None}
    timeout = min(services.limits.default_timeout_s * TIMEOUT_FACTOR, services.limits.max_timeout_s)
    async with episode.lock:
        episode.touch()
        result = await run_in_sandbox(
            services, episode, _script(f"{data.SANDBOX_DATA_ROOT}/{task.dataset}", action, arguments,
                                      services.limits.max_output_bytes), timeout, None)
        episode.touch()
    if result.timed_out:
        raise ToolInputError(
            f"inspect_data gave up after {timeout:g} s (the table is too large to scan here); "
            "use run_code with a chunked read, e.g. pandas.read_csv(..., usecols=[...], chunksize=100000)")
    if result.oom_killed:
        raise ToolInputError("inspect_data ran out of sandbox memory on this table; use run_code with a chunked read")
    answer = _parse(result.stdout)
    if answer is None:
        raise ServiceError(f"the data inspector gave no answer (exit code {result.exit_code}): "
                           f"{(result.stderr or result.stdout)[-300:]}")
    if not answer.get("ok"):
        raise ToolInputError(str(answer.get("error") or "the data inspector failed"))
    return InspectResult(action=action, table=table, text=answer["text"], columns=answer["columns"],
                         rows=answer["rows"], truncated=bool(answer["truncated"]) or result.output_truncated,
                         episode_id=episode.episode_id)


def _parse(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.split("\n")):
        if line.startswith(inspector.MARK):
            try:
                answer = json.loads(line[len(inspector.MARK):])
            except ValueError:
                return None
            return answer if isinstance(answer, dict) else None
    return None
