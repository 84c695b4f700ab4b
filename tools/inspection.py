"""inspect_data: look at a task's tables (list, describe, value counts, search) without writing code.

The inspection runs in the episode's own sandbox (the same read-only files and limits as the
agent's code) by sending `sandbox/incontainer/inspector.py` through the runner; this module only checks the
request and turns the inspector's one-line JSON answer into a result.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from pydantic import Field

from medgym.errors import InvalidArgumentError, ServiceError
from sandbox import scripts
from task_store import data
from tools.catalog import task_of
from tools.context import Call
from tools.execution import run_in_sandbox
from tools.params import EpisodeId, TaskId
from tools.results import InspectResult

Action = Literal["list_tables", "describe_table", "column_values", "search"]
ACTIONS: tuple[str, ...] = get_args(Action)
TIMEOUT_FACTOR = 2.0  # an inspection may take twice run_code's default timeout (it may scan a whole table)


def _script(root: str, action: str, arguments: dict[str, Any], max_bytes: int) -> str:
    request = json.dumps({"root": root, "action": action, "arguments": arguments, "max_bytes": max_bytes,
                          "mark": scripts.INSPECT_MARK})
    return f"{scripts.source('inspector')}\n\nmain(json.loads({request!r}))\n"


async def inspect_data(
    call: Call,
    task_id: TaskId,
    action: Annotated[Action, Field(
        description="list_tables: every table with its path and size; describe_table: columns, types and "
                    "examples of `table`; column_values: the most frequent values of `column` in `table` "
                    "(only those containing `term`, if given); search: `term` in table names, column "
                    "names and text values (of `table`, or of every table that is not too large)")],
    table: Annotated[str | None, Field(description="a table name from list_tables", max_length=500)] = None,
    column: Annotated[str | None, Field(description="a column of `table`", max_length=500)] = None,
    term: Annotated[str | None, Field(description="text to look for, case-insensitive", max_length=500)] = None,
    episode_id: EpisodeId = None,
) -> InspectResult:
    """Look at the task's data tables without writing code: list, describe, value counts, search.

    Runs in this task's sandbox over the read-only files under /data/<dataset>/.
    """
    if action not in ACTIONS:
        raise InvalidArgumentError(f"action must be one of {', '.join(ACTIONS)}")
    services = call.services
    task = task_of(call, task_id)
    root = services.store.root_of(task.dataset)
    if data.uses_fhir(task.dataset):
        raise InvalidArgumentError(
            f"{task.dataset} tasks have no data files: the patient's EHR is a FHIR server, queried from run_code "
            "at http://fhir:8080/fhir/ (see get_task's instructions for its functions)")
    available = services.store.task_availability(task.dataset, task.category)
    if not available.solvable:
        raise InvalidArgumentError(f"no data to inspect: {available.reason} ({available.fix})")
    if root is None or not data.data_files(root.path / task.dataset, task.dataset):
        raise InvalidArgumentError(
            f"{task.dataset} tasks have no data files to inspect: the question and context "
            "hold everything (see get_task's data_files)")
    episode = services.episodes.resolve(task_id, call.caller, episode_id)
    arguments = {k: v for k, v in (("table", table), ("column", column), ("term", term)) if v is not None}
    timeout = min(services.limits.default_timeout_s * TIMEOUT_FACTOR, services.limits.max_timeout_s)
    program = _script(f"{data.SANDBOX_DATA_ROOT}/{task.dataset}", action, arguments, services.limits.max_output_bytes)
    async with episode.lock:
        episode.touch()
        result = await run_in_sandbox(Call(services, call.caller), episode, program, timeout)
        episode.touch()
    if result.timed_out:
        raise InvalidArgumentError(
            f"inspect_data gave up after {timeout:g} s (the table is too large to scan here); "
            "use run_code with a chunked read, e.g. pandas.read_csv(..., usecols=[...], chunksize=100000)")
    if result.oom_killed:
        raise InvalidArgumentError("inspect_data ran out of sandbox memory on this table; "
                                   "use run_code with a chunked read")
    answer = _parse(result.stdout)
    if answer is None:
        raise ServiceError(f"the data inspector gave no answer (exit code {result.exit_code}): "
                           f"{(result.stderr or result.stdout)[-300:]}")
    if not answer.get("ok"):
        raise InvalidArgumentError(str(answer.get("error") or "the data inspector failed"))
    return InspectResult(action=action, table=table, text=answer["text"], columns=answer["columns"],
                         rows=answer["rows"], truncated=bool(answer["truncated"]) or result.output_truncated,
                         episode_id=episode.episode_id)


def _parse(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.split("\n")):
        if line.startswith(scripts.INSPECT_MARK):
            try:
                answer = json.loads(line[len(scripts.INSPECT_MARK):])
            except ValueError:
                return None
            return answer if isinstance(answer, dict) else None
    return None
