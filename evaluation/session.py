"""`EpisodeSession`: what an agent gets — one episode of one task, driven through MCP tool calls.

It opens its own episode (`get_task` with `new_episode`), passes the `episode_id` back on every
call, counts turns and `run_code` calls, and keeps the transcript in the OpenAI chat format and,
beside it, the turn log (`trajectory.turns`: when each turn and call happened, and the model's
tokens when captured).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import Any

import anyio
from mcp import Client

from medgym.errors import SERVER_PROBLEM, ServiceError, ToolCallError
from trajectory.toolspecs import openai_specs
from trajectory.transcript import Message, opening, tool_call, tool_result
from trajectory.turns import CallTiming, Turn, TurnLog

# what the MCP SDK puts before a tool's error message ("Error executing tool run_code: ..."); alone, a crash
SDK_ERROR = "Error executing tool "


def is_server_problem(tool: str, error: object) -> bool:
    """Whether a tool error is a failure of medgym's machinery, not of the agent's input: the server's
    message starts with `SERVER_PROBLEM` (after the SDK's `SDK_ERROR` prefix), or is the SDK's bare
    message for a crash. Only the start counts: an agent's input echoed in an error cannot pass for one."""
    if not isinstance(error, str):
        return False
    own = f"{SDK_ERROR}{tool}"
    if error == own:
        return True
    return error.removeprefix(f"{own}: ").startswith(SERVER_PROBLEM)


class EpisodeSession:
    def __init__(self, client: Client, task_id: str, tools: list[dict[str, Any]] | None = None):
        self._client = client
        self.task_id = task_id
        self.tools = tools or []  # OpenAI specs of the agent's tools, from the server's list_tools
        self.view: dict[str, Any] = {}
        self.episode_id = ""
        self.messages: list[Message] = []
        self.turns = 0
        self.run_code_calls = 0
        self.verdict: dict[str, Any] | None = None
        self.server_problem: str | None = None  # the last call that failed on medgym's side, not the agent's
        self.verdict_unknown = False  # a submission was sent and its reply never came (the server may have scored it)
        self.log = TurnLog()
        self._ids = itertools.count(1)

    async def open(self, group: str | None = None) -> dict[str, Any]:
        arguments: dict[str, Any] = {"task_id": self.task_id, "new_episode": True}
        if group is not None:
            arguments["group"] = group
        self.view = await self._raw("get_task", arguments)
        self.episode_id = self.view["episode_id"]
        self.messages = opening(self.view)
        return self.view

    @property
    def finished(self) -> bool:
        return self.verdict is not None and bool(self.verdict.get("episode_ended"))

    async def run_code(self, code: str, timeout_s: float | None = None, note: str | None = None) -> dict[str, Any]:
        """Run code in the episode's sandbox (a turn of the transcript); the server's default timeout if None."""
        arguments: dict[str, Any] = {"code": code} if timeout_s is None else {"code": code, "timeout_s": timeout_s}
        return await self.call("run_code", arguments, note)

    async def submit(self, answer: Any, note: str | None = None) -> dict[str, Any]:
        return await self.call("submit_answer", {"answer": answer}, note)

    async def call(self, tool: str, arguments: dict[str, Any], note: str | None = None,
                   call_id: str | None = None, record_call: bool = True) -> dict[str, Any]:
        """Forward one of the model's tool calls (task_id and episode_id are filled in here).

        Returns the structured result, or `{"error": message}` when the tool reported an error.
        """
        call_id = call_id or f"call_{next(self._ids)}"
        started, clock = time.time(), time.monotonic()
        if record_call:
            self.turns += 1
            self.log.turns.append(Turn(message_index=len(self.messages), at=started, scripted=True))
            self.messages.append(tool_call(call_id, tool, arguments, note))
        submitting, unknown_before = tool == "submit_answer" and not arguments.get("dry_run"), self.verdict_unknown
        self.verdict_unknown = unknown_before or submitting
        try:
            payload = await self._raw(tool, {**arguments, "task_id": self.task_id, "episode_id": self.episode_id})
        except ToolCallError as exc:
            payload = {"error": str(exc)}
            if is_server_problem(tool, payload["error"]):
                self.server_problem = f"{tool}: {payload['error']}"
        self.verdict_unknown = unknown_before  # a reply came: the server's verdict, or its refusal (nothing scored)
        duration_ms = round((time.monotonic() - clock) * 1000, 3)
        self.log.calls.append(CallTiming(tool_call_id=call_id, at=started, duration_ms=duration_ms))
        self.messages.append(tool_result(call_id, payload))
        if tool == "run_code":
            self.run_code_calls += 1
        if tool == "submit_answer" and "error" not in payload and not payload.get("dry_run"):
            self.verdict = payload
        return payload

    async def _raw(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self._client.call_tool(tool, arguments)
        if result.is_error:
            raise ToolCallError(" ".join(getattr(c, "text", "") for c in result.content))
        return dict(result.structured_content or {})

    async def abandon(self) -> None:
        """End an unsubmitted episode so its sandbox is freed (reset_task opens an idle successor)."""
        if self.episode_id and not self.finished:
            with contextlib.suppress(ToolCallError):
                await self._raw("reset_task", {"task_id": self.task_id, "episode_id": self.episode_id})


async def agent_tool_specs(client: Client) -> list[dict[str, Any]]:
    """The OpenAI specs of the agent's tools, generated from the server's `list_tools`."""
    listed = await client.list_tools()
    return openai_specs(tool.model_dump(by_alias=True) for tool in listed.tools)


class ServerNotReadyError(ServiceError):
    """The server's task catalog did not become ready in time (or failed to load)."""


async def wait_until_ready(client: Client, timeout_s: float = 900.0, on_wait: Any = None) -> dict[str, Any]:
    """Wait until the server's task catalog is loaded (a fresh home builds the pack and indexes the
    data directory first); `on_wait(detail)` is told how far it has got. Returns `list_datasets`."""
    deadline = anyio.current_time() + timeout_s
    while True:
        result = await client.call_tool("list_datasets", {})
        state = dict(result.structured_content or {})
        if state.get("catalog") == "ready":
            return state
        if state.get("catalog") == "failed" or anyio.current_time() > deadline:
            raise ServerNotReadyError(str(state.get("catalog_detail") or "the server is not ready"))
        if on_wait is not None:
            on_wait(str(state.get("catalog_detail")))
        await anyio.sleep(1.0)
