"""The MCP server: thin wrappers that register the plain tool functions of `tools/`."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_server import __version__
from mcp_server.auth import StaticTokenVerifier, auth_settings, load_tokens
from mcp_server.identity import client_identity, quota_key
from mcp_server.lifespan import AppState, app_lifespan
from mcp_server.recording import record_call
from mcp_server.settings import Settings
from mcp_server.statement import task_markdown
from task_store.store import TaskPage, UnknownTaskError
from tools import catalog, execution, inspection, submission
from tools.errors import ServiceError, ToolInputError, VerifierError
from tools.results import DatasetList, InspectResult, Progress, ResetResult, RunResult, SubmitResult, TaskView

log = logging.getLogger(__name__)

INSTRUCTIONS = """\
medgym serves MedAgentGym biomedical tasks and scores answers against hidden ground truth.
Workflow: list_datasets -> list_tasks (filter by dataset/split/category/search) -> get_task
(read the question, context, data_files and answer_format) -> inspect_data (list, describe and
search the task's data tables, if it has any) -> run_code (Python 3 with pandas,
numpy, scipy, scikit-learn, statsmodels; data read-only under /data/<dataset>/; no network;
files in /workspace persist during the episode) -> submit_answer. Submissions are limited per
episode (see attempts_left); reset_task starts a fresh episode.
"""

TaskId = Annotated[str, Field(description="task id from list_tasks, '<dataset>/<split>/<id>'",
                              min_length=1, max_length=512)]
EpisodeId = Annotated[str | None, Field(
    description="the episode_id returned by get_task; required only by clients without a session",
    max_length=64)]
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)


SERVER_PROBLEM = "medgym server problem (not caused by your input): "


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn the tool functions' errors into MCP tool errors the model can read."""
    try:
        yield
    except ToolInputError as exc:
        raise ToolError(str(exc)) from None
    except ServiceError as exc:
        raise ToolError(f"{SERVER_PROBLEM}{exc}") from None


@dataclass
class Call:
    """What a recorded tool call returned (set by the tool wrapper)."""

    result: BaseModel | None = None


@contextmanager
def recorded(ctx: Context[AppState, Any], settings: Settings, tool: str, arguments: dict[str, Any]) -> Iterator[Call]:
    """Like `tool_errors`, and record the call (arguments, result or error, duration) in its episode."""
    call = Call()
    started = time.perf_counter()
    error: str | None = None
    kind: str | None = None
    try:
        yield call
    except ToolInputError as exc:
        error, kind = str(exc), "input"
        raise ToolError(error) from None
    except ServiceError as exc:
        error, kind = f"{SERVER_PROBLEM}{exc}", "verifier" if isinstance(exc, VerifierError) else "service"
        raise ToolError(error) from None
    finally:
        state = _state(ctx)
        record_call(state.recorder, state.services.episodes, state.services.store, client_identity(ctx, settings),
                    tool, arguments, call.result, error, kind, (time.perf_counter() - started) * 1000)


def _state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


class StrictMCPServer(MCPServer[AppState]):
    """Refuses argument names a tool does not declare (the SDK would drop them silently, so a model
    that wrote `timeout` for `timeout_s` would never learn its setting was ignored)."""

    _accepted: dict[str, list[str]] | None = None

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Context[AppState, Any] | None = None) -> CallToolResult | InputRequiredResult:
        if self._accepted is None:
            self._accepted = {t.name: list(t.input_schema.get("properties", {})) for t in await self.list_tools()}
        accepted = self._accepted.get(name)
        unknown = [key for key in arguments if accepted is not None and key not in accepted]
        if unknown:
            names = ", ".join(catalog.shorten(str(key), 40) for key in unknown[:5])
            raise ToolError(f"unknown argument{'s' if len(unknown) > 1 else ''} {names} for {name}; "
                            f"it accepts: {', '.join(accepted or []) or 'no arguments'}")
        return await super().call_tool(name, arguments, context)


@dataclass
class ServerHandle:
    """The MCP server plus its live state (set while the lifespan runs), for transports and tests."""

    mcp: MCPServer[AppState]
    state: AppState | None = None


def build_server(settings: Settings) -> ServerHandle:
    handle: ServerHandle

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with app_lifespan(settings) as state:
            handle.state = state
            try:
                yield state
            finally:
                handle.state = None

    tokens = load_tokens(settings) if settings.transport == "http" else {}
    mcp: MCPServer[AppState] = StrictMCPServer(
        "medgym", title="medgym: MedAgentGym tasks with verified scores", instructions=INSTRUCTIONS,
        version=__version__, lifespan=lifespan, log_level=settings.log_level,
        token_verifier=StaticTokenVerifier(tokens) if tokens else None,
        auth=auth_settings(settings) if tokens else None,
    )
    handle = ServerHandle(mcp)
    _register_catalog(mcp, settings)
    _register_actions(mcp, settings)
    _register_resources(mcp, handle)
    return handle


def _register_catalog(mcp: MCPServer[AppState], settings: Settings) -> None:
    @mcp.tool(title="List datasets", annotations=READ_ONLY)
    def list_datasets(ctx: Context[AppState, Any]) -> DatasetList:
        """Datasets served here: task counts per split, categories, whether their data is available."""
        with tool_errors():
            return catalog.list_datasets(_state(ctx).services)

    @mcp.tool(title="List tasks", annotations=READ_ONLY)
    def list_tasks(
        ctx: Context[AppState, Any],
        dataset: Annotated[str | None, Field(description="e.g. medcalcbench, mimic_iii", max_length=100)] = None,
        split: Annotated[str | None, Field(description="train, test or valid", max_length=100)] = None,
        category: Annotated[str | None, Field(description="exact category name from list_datasets",
                                              max_length=500)] = None,
        search: Annotated[str | None, Field(
            description="words that must all occur in the question or its context", max_length=500)] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="page size")] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page",
                                            max_length=1000)] = None,
    ) -> TaskPage:
        """Find tasks, filtered and paged. Never shows answers."""
        with tool_errors():
            return catalog.list_tasks(_state(ctx).services, dataset, split, category, search, limit, cursor)

    @mcp.tool(title="Get a task", annotations=READ_ONLY)
    def get_task(
        ctx: Context[AppState, Any],
        task_id: TaskId,
        episode_id: EpisodeId = None,
        new_episode: Annotated[bool, Field(description="open another, parallel episode of this task (e.g. "
                                                       "one per sample); pass its episode_id to later calls")] = False,
    ) -> TaskView:
        """The task statement: question, context, data files, answer format, limits and attempts.

        Opens an episode for this task (your attempts and sandbox), without starting a container.
        """
        arguments = {"task_id": task_id, "episode_id": episode_id, "new_episode": new_episode}
        with recorded(ctx, settings, "get_task", arguments) as call:
            view = catalog.get_task(_state(ctx).services, client_identity(ctx, settings), task_id, episode_id,
                                    new_episode, quota_key(ctx, settings))
            call.result = view
            return view

    @mcp.tool(title="Your progress", annotations=READ_ONLY)
    def get_progress(ctx: Context[AppState, Any]) -> Progress:
        """This client's episodes: tasks attempted and solved per dataset."""
        with tool_errors():
            return submission.get_progress(_state(ctx).services, client_identity(ctx, settings))


def _register_actions(mcp: MCPServer[AppState], settings: Settings) -> None:
    @mcp.tool(title="Run Python in the sandbox", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False))
    async def run_code(
        ctx: Context[AppState, Any],
        task_id: TaskId,
        code: Annotated[str, Field(description="Python 3 source, run like `python script.py` in /workspace",
                                   max_length=1_000_000)],
        timeout_s: Annotated[float, Field(ge=0.1, le=3600, description="seconds before every process "
                                          "the code started is killed")] = 30.0,
        episode_id: EpisodeId = None,
    ) -> RunResult:
        """Run Python in this task's sandbox (no network; data read-only under /data/<dataset>/).

        Returns exit_code, stdout, stderr (each capped), duration_ms, and whether the run timed
        out, was killed for memory, or had its output truncated.
        """
        async def progress(done: float, total: float | None, message: str) -> None:
            await ctx.report_progress(done, total, message)

        arguments = {"task_id": task_id, "code": code, "timeout_s": timeout_s, "episode_id": episode_id}
        with recorded(ctx, settings, "run_code", arguments) as call:
            result = await execution.run_code(_state(ctx).services, client_identity(ctx, settings), task_id,
                                              code, timeout_s, episode_id, on_progress=progress)
            call.result = result
            return result

    @mcp.tool(title="Inspect the task's data", annotations=READ_ONLY)
    async def inspect_data(
        ctx: Context[AppState, Any],
        task_id: TaskId,
        action: Annotated[inspection.Action, Field(
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
        arguments = {"task_id": task_id, "action": action, "table": table, "column": column, "term": term,
                     "episode_id": episode_id}
        with recorded(ctx, settings, "inspect_data", arguments) as call:
            result = await inspection.inspect_data(_state(ctx).services, client_identity(ctx, settings), task_id,
                                                   action, table, column, term, episode_id)
            call.result = result
            return result

    @mcp.tool(title="Submit an answer", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False))
    async def submit_answer(
        ctx: Context[AppState, Any],
        task_id: TaskId,
        answer: Annotated[Any, Field(description="a string, number, boolean or a list of those, as the "
                                     "task's answer_format says")],
        episode_id: EpisodeId = None,
    ) -> SubmitResult:
        """Score an answer against the hidden ground truth; uses one attempt of the episode."""
        arguments = {"task_id": task_id, "answer": answer, "episode_id": episode_id}
        with recorded(ctx, settings, "submit_answer", arguments) as call:
            verdict = await submission.submit_answer(_state(ctx).services, client_identity(ctx, settings),
                                                     task_id, answer, episode_id)
            call.result = verdict
            return verdict

    @mcp.tool(title="Start the task over", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False))
    async def reset_task(ctx: Context[AppState, Any], task_id: TaskId, episode_id: EpisodeId = None) -> ResetResult:
        """End the current episode of this task (its sandbox and files are destroyed) and open a fresh one."""
        with recorded(ctx, settings, "reset_task", {"task_id": task_id, "episode_id": episode_id}) as call:
            reset = await submission.reset_task(_state(ctx).services, client_identity(ctx, settings),
                                                task_id, episode_id, quota_key(ctx, settings))
            call.result = reset
            return reset


def _register_resources(mcp: MCPServer[AppState], handle: ServerHandle) -> None:
    @mcp.resource("medgym://datasets", name="datasets", mime_type="application/json")
    def datasets_resource() -> str:
        """The datasets served here (same as list_datasets)."""
        if handle.state is None:
            raise ResourceError("the server is not running")
        return catalog.list_datasets(handle.state.services).model_dump_json(indent=2)

    @mcp.resource("medgym://tasks/{+task_id}", name="task", mime_type="text/markdown")
    def task_resource(task_id: str, ctx: Context[AppState, Any]) -> str:
        """A task statement as markdown (never the answer)."""
        try:
            task = _state(ctx).services.store.get(task_id)
        except UnknownTaskError as exc:
            raise ResourceError(str(exc)) from None
        return task_markdown(task)

    @mcp.resource("medgym://episodes/{episode_id}", name="episode", mime_type="application/json")
    def episode_resource(episode_id: str, ctx: Context[AppState, Any]) -> str:
        """An episode's record: task, client, times, outcome, provenance and every tool call in order."""
        trajectory = _state(ctx).recorder.store.trajectory(episode_id)
        if trajectory is None:
            raise ResourceError(f"no recorded episode {episode_id!r}")
        return trajectory.model_dump_json(indent=2)

    @mcp.prompt(title="Solve a medgym task")
    def solve_task(task_id: str) -> str:
        """Instructions for an agent to solve one task end to end."""
        return (
            f"Solve the medgym task {task_id}. Call get_task to read it, explore the data (inspect_data "
            "lists and describes the tables) and compute with run_code (print what you need to see), "
            "then call submit_answer once with the answer "
            "in the task's answer_format. Check your work before submitting: attempts are limited."
        )
