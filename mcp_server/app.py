"""The MCP server: the tools of `tools.toolset` (registered by `mcp_server.registrar`), resources, a prompt."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.stdio import stdio_server
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

from mcp_server.auth import StaticTokenVerifier, auth_settings, load_tokens
from mcp_server.identity import caller_of
from mcp_server.lifespan import app_lifespan
from mcp_server.registrar import register_tools, short_validation_error
from mcp_server.settings import Settings
from mcp_server.state import AppState
from mcp_server.stdio_pipes import pipe_streams
from medgym.errors import SERVER_PROBLEM, CatalogNotReadyError, UnknownTaskError
from medgym.version import __version__
from task_store.statement import task_markdown
from tools.catalog import list_datasets, shorten
from tools.context import Call
from tools.episodes import Caller
from tools.readiness import GLANCE
from tools.status import backend_status
from tools.toolset import TOOLS
from trajectory.store import storable
from trajectory.toolspecs import TOOL_SPECS_KEY, openai_specs

log = logging.getLogger(__name__)
_NOBODY = Caller(key=None)

__all__ = ["SERVER_PROBLEM", "ServerHandle", "build_server"]

INSTRUCTIONS = """\
medgym serves MedAgentGym biomedical tasks and scores answers against hidden ground truth.
Workflow: list_datasets -> list_tasks (filter by dataset/split/category/search) -> get_task
(read the question, context, data_files and answer_format) -> inspect_data (list, describe and
search the task's data tables, if it has any) -> run_code (Python 3 with pandas,
numpy, scipy, scikit-learn, statsmodels; data read-only under /data/<dataset>/; no network;
files in /workspace persist) -> submit_answer. Submissions are limited per
episode (see attempts_left); reset_task starts a fresh episode.
"""


def clean(value: Any) -> Any:
    """Arguments with every string made encodable (a lone UTF-16 surrogate, which stdlib JSON lets through,
    becomes U+FFFD), so nothing downstream (records, logs, the sandbox) meets a string it cannot encode."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, dict):
        return {storable(str(k)): clean(v) for k, v in value.items()}
    return value


class StrictMCPServer(MCPServer[AppState]):
    """stdio on the event loop where it can be (`run_stdio_async`), and three fixes of silent or noisy
    SDK behaviour on tool calls:

    - strings that cannot be encoded are made encodable (see `clean`);

    - argument names a tool does not declare are refused (the SDK would drop them silently, so a
      model that wrote `timeout` for `timeout_s` would never learn its setting was ignored);
    - argument validation errors come back as one short line per argument naming what is
      accepted, not pydantic's multi-line dump with documentation URLs.
    """

    _accepted: dict[str, list[str]] | None = None

    async def run_stdio_async(self) -> None:
        """The SDK's stdio server, fed by non-blocking pipe I/O on the event loop (`stdio_pipes`) rather
        than by a worker thread per read, write and flush; the SDK's own transport when stdin or stdout
        is not a pipe or socket."""
        with pipe_streams() as pipes:
            if pipes is None:
                await super().run_stdio_async()
                return
            lines, writer = pipes
            async with stdio_server(stdin=lines, stdout=writer) as (read_stream, write_stream):  # type: ignore[arg-type]
                server = self._lowlevel_server
                await server.run(read_stream, write_stream, server.create_initialization_options())

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Context[AppState, Any] | None = None) -> CallToolResult | InputRequiredResult:
        if self._accepted is None:
            self._accepted = {t.name: list(t.input_schema.get("properties", {})) for t in await self.list_tools()}
        accepted = self._accepted.get(name)
        unknown = [key for key in arguments if accepted is not None and key not in accepted]
        arguments = clean(arguments)
        if unknown:
            names = ", ".join(shorten(str(key), 40) for key in unknown[:5])
            raise ToolError(f"unknown argument{'s' if len(unknown) > 1 else ''} {names} for {name}; "
                            f"it accepts: {', '.join(accepted or []) or 'no arguments'}")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(short_validation_error(name, exc.__cause__)) from None
            raise


@dataclass
class ServerHandle:
    """The MCP server plus its live state (set while the lifespan runs), for transports and tests."""

    mcp: MCPServer[AppState]
    state: AppState | None = None


def build_server(settings: Settings) -> ServerHandle:
    handle: ServerHandle

    @asynccontextmanager
    async def lifespan(server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with app_lifespan(settings) as state:
            specs = openai_specs(tool.model_dump(by_alias=True) for tool in await server.list_tools())
            state.recorder.store.set_meta(TOOL_SPECS_KEY, json.dumps(specs))
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
    register_tools(mcp, TOOLS, settings.limits)
    _register_resources(mcp, handle)
    return handle


def _state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


def _register_resources(mcp: MCPServer[AppState], handle: ServerHandle) -> None:
    @mcp.resource("medgym://datasets", name="datasets", mime_type="application/json")
    async def datasets_resource() -> str:
        """The datasets served here (same as list_datasets)."""
        if handle.state is None:
            raise ResourceError("the server is not running")
        await handle.state.services.catalog.wait(share=GLANCE)
        return list_datasets(Call(handle.state.services, caller=_NOBODY)).model_dump_json(indent=2)

    @mcp.resource("medgym://tasks/{+task_id}", name="task", mime_type="text/markdown")
    async def task_resource(task_id: str, ctx: Context[AppState, Any]) -> str:
        """A task statement as markdown (never the answer)."""
        await _state(ctx).services.catalog.wait()
        try:
            task = _state(ctx).services.store.get(task_id)
        except (UnknownTaskError, CatalogNotReadyError) as exc:
            raise ResourceError(str(exc)) from None
        return task_markdown(task)

    @mcp.resource("medgym://episodes/{episode_id}", name="episode", mime_type="application/json")
    def episode_resource(episode_id: str, ctx: Context[AppState, Any]) -> str:
        """Your episode's record: task, times, outcome, provenance and every tool call in order."""
        trajectory = _state(ctx).recorder.store.trajectory(storable(episode_id))
        key = caller_of(ctx).key
        yours = (None,) if key is None else _state(ctx).pseudonyms.both(key)  # an anonymous caller's: its id is the key
        if trajectory is None or trajectory.episode.client not in yours:
            raise ResourceError(f"no recorded episode {shorten(episode_id)} of yours")
        return trajectory.model_dump_json(indent=2)

    @mcp.resource("medgym://status", name="status", mime_type="application/json")
    async def status_resource() -> str:
        """Capacity and back-pressure: per node, sandboxes running and free and warm pool; starts waiting, latency."""
        if handle.state is None:
            raise ResourceError("the server is not running")
        state = handle.state
        status = await backend_status(state.backend, state.services.episodes.capacity, state.pool,
                                      state.services.catalog.progress.state)
        return status.model_dump_json(indent=2)

    @mcp.prompt(title="Solve a medgym task")
    def solve_task(task_id: str) -> str:
        """Instructions for an agent to solve one task end to end."""
        return (
            f"Solve the medgym task {task_id}. Call get_task to read it, explore the data (inspect_data "
            "lists and describes the tables) and compute with run_code (print what you need to see), "
            "then call submit_answer once with the answer "
            "in the task's answer_format. Check your work before submitting: attempts are limited."
        )
