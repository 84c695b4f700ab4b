"""medgym as an OpenEnv environment server (OpenEnv's HTTP/WebSocket server, its MCP action types).

- `reset(task_id=..., dataset=, split=, category=, seed=, max_turns=, group=)` opens a new medgym
  episode of the task (or of one sampled from the selection) and returns its statement, chat opening
  and tools; `group` names the episodes sampled together (a GRPO group: pass the same name to each
  of its resets), kept in medgym's records and exports;
- `step(CallToolAction(tool_name, arguments))` forwards `run_code`, `inspect_data` or
  `submit_answer` to that episode; the observation is the tool's result (`{"error": ...}` for a
  tool error the model can fix); `step(ListToolsAction())` lists the three tools, with the specs
  the medgym server publishes (its `list_tools`), which also decide which arguments are accepted;
- the reward is the score of the server's verdict on `submit_answer`, `None` for an unscorable or
  errored episode, 0 when the turns ran out without a final submission; `done` at the final
  submission, the turn limit, or an error of medgym's machinery.

One environment instance per WebSocket session (`max_concurrent_envs` of them at once), all over
one MCP connection to medgym. Run it: `python -m evaluation.envs.openenv_env --port 8000`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from openenv.core.env_server.http_server import create_fastapi_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.mcp_types import (
    CallToolAction,
    CallToolObservation,
    ListToolsAction,
    ListToolsObservation,
    Tool,
    ToolError,
    ToolErrorType,
)
from openenv.core.env_server.types import EnvironmentMetadata, Observation, State
from pydantic import Field

from evaluation.envs import rules
from evaluation.envs.connection import MedgymLink, MedgymServer, has_filters
from evaluation.runner import Selection
from evaluation.session import EpisodeSession
from medgym.version import __version__
from trajectory.transcript import opening

log = logging.getLogger(__name__)
HIDDEN_VIEW_FIELDS = ("episode_id", "episode_active", "attempts_used", "attempts_left", "ordinal", "group")


class MedgymResetObservation(Observation):
    """The task as `get_task` shows it, the chat opening a model starts from, and its tools."""

    task_id: str
    messages: list[dict[str, Any]] = Field(description="system prompt and task statement (OpenAI chat format)")
    task: dict[str, Any] = Field(description="the get_task view: question, context, data files, answer format")
    tool_specs: list[dict[str, Any]] = Field(description="run_code, inspect_data, submit_answer (OpenAI format)")


class MedgymState(State):
    task_id: str | None = None
    turns: int = 0
    max_turns: int = 15
    scorable: bool = True
    outcome: rules.Outcome | None = None
    reward: float | None = None
    group: str | None = None


@dataclass(frozen=True)
class EnvDefaults:
    selection: Selection = field(default_factory=Selection)
    max_turns: int = 15


def agent_tools(link: MedgymLink) -> list[Tool]:
    """The agent's tools, with the schemas the medgym server publishes."""
    return [Tool(name=s["function"]["name"], description=s["function"]["description"],
                 input_schema=s["function"]["parameters"]) for s in link.rules.specs]


class MedgymEnvironment(Environment[CallToolAction, Observation, MedgymState]):
    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, link: MedgymLink, defaults: EnvDefaults = EnvDefaults()):
        super().__init__()
        self._link = link
        self._defaults = defaults
        self._session: EpisodeSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = MedgymState(max_turns=defaults.max_turns)

    @property
    def state(self) -> MedgymState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(name="medgym", version=__version__, description=(
            "MedAgentGym tasks through medgym's MCP tools; reward = the server's verified score"))

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> Observation:
        raise TypeError("MedgymEnvironment is async: use reset_async (OpenEnv's server and clients do)")

    def step(self, action: CallToolAction, timeout_s: float | None = None, **kwargs: Any) -> Observation:
        raise TypeError("MedgymEnvironment is async: use step_async (OpenEnv's server and clients do)")

    async def reset_async(self, seed: int | None = None, episode_id: str | None = None, task_id: str | None = None,
                          dataset: str | None = None, split: str | None = None, category: str | None = None,
                          max_turns: int | None = None, group: str | None = None, **unknown: Any) -> Observation:
        """Open a new episode (`episode_id` is OpenEnv's label for it; medgym assigns its own)."""
        if unknown:
            raise ValueError(f"unknown reset argument(s) {', '.join(unknown)}; reset accepts task_id, dataset, "
                             "split, category, seed, max_turns, group")
        await self._abandon()
        self._loop = asyncio.get_running_loop()
        chosen = task_id or await self._sample(Selection(dataset, split, category), seed)
        session = EpisodeSession(self._link.client, chosen, self._link.rules.specs)
        view = await session.open(group)
        self._session = session
        self._state = MedgymState(episode_id=session.episode_id, task_id=chosen, scorable=rules.can_score(view),
                                  max_turns=max_turns or self._defaults.max_turns, group=view.get("group"))
        shown = {k: v for k, v in view.items() if k not in HIDDEN_VIEW_FIELDS}
        return MedgymResetObservation(task_id=chosen, messages=opening(view), task=shown, tool_specs=session.tools,
                                      metadata={"episode_id": session.episode_id, "scorable": self._state.scorable,
                                                "group": self._state.group})

    async def _sample(self, selection: Selection, seed: int | None) -> str:
        chosen = selection if has_filters(selection) else self._defaults.selection
        ids = await self._link.task_ids(chosen)
        if not ids:
            raise ValueError(f"no task matches {chosen}; call list_tasks to see the tasks")
        return random.Random(seed).choice(ids)

    async def step_async(self, action: CallToolAction, timeout_s: float | None = None,
                         **kwargs: Any) -> Observation:
        if isinstance(action, ListToolsAction):
            return ListToolsObservation(tools=agent_tools(self._link))
        if self._session is None or self._state.outcome is not None:
            return self._framework_error(action.tool_name, ToolErrorType.EXECUTION_ERROR,
                                         "no episode is running: call reset to open one")
        self._state.turns += 1
        self._state.step_count = self._state.turns
        agent_rules = self._link.rules
        refused = agent_rules.refusal(action.tool_name, action.arguments)
        kind = ToolErrorType.TOOL_NOT_FOUND if action.tool_name not in agent_rules.tools else ToolErrorType.INVALID_ARGS
        if refused:
            return self._finish(self._limit_or(rules.RUNNING), action.tool_name, None, ToolError(
                error_type=kind, message=refused))
        return await self._forward(self._session, action)

    async def _forward(self, session: EpisodeSession, action: CallToolAction) -> Observation:
        try:
            payload = await session.call(action.tool_name, dict(action.arguments))
        except Exception as exc:  # the connection to medgym failed: no score, never a wrong answer
            log.error("medgym call %s failed: %s", action.tool_name, exc)
            return self._finish(rules.errored(), action.tool_name, None, ToolError(
                error_type=ToolErrorType.TRANSPORT_ERROR, message=f"medgym is unreachable: {exc}"))
        step = rules.after_call(action.tool_name, payload, self._state.scorable)
        return self._finish(self._limit_or(step), action.tool_name, payload, None)

    def _limit_or(self, step: rules.Step) -> rules.Step:
        if step.done or self._state.turns < self._state.max_turns:
            return step
        return rules.at_turn_limit(self._state.scorable)

    def _finish(self, step: rules.Step, tool: str, payload: dict[str, Any] | None,
                error: ToolError | None) -> CallToolObservation:
        if step.done:
            self._state.outcome = step.outcome
            self._state.reward = step.reward
        metadata = {"turns": self._state.turns, "outcome": step.outcome, "episode_id": self._state.episode_id}
        return CallToolObservation(tool_name=tool, result=payload, error=error, done=step.done, reward=step.reward,
                                   metadata=metadata)

    def _framework_error(self, tool: str, kind: ToolErrorType, message: str) -> CallToolObservation:
        return CallToolObservation(tool_name=tool, error=ToolError(error_type=kind, message=message),
                                   done=self._state.outcome is not None, reward=None)

    async def _abandon(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.abandon()

    def close(self) -> None:
        """End an unfinished episode so its sandbox is freed (OpenEnv calls this from a worker thread)."""
        loop, session = self._loop, self._session
        if loop is None or session is None or loop.is_closed():
            return
        self._session = None
        future = asyncio.run_coroutine_threadsafe(session.abandon(), loop)
        if not _on_loop_thread(loop):
            try:
                future.result(timeout=30)
            except Exception as exc:
                log.warning("could not end episode %s: %s", session.episode_id, exc)


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    return getattr(loop, "_thread_id", None) == threading.get_ident()


def create_medgym_app(server: MedgymServer, defaults: EnvDefaults = EnvDefaults(),
                      max_concurrent_envs: int = 16) -> FastAPI:
    """OpenEnv's FastAPI app (HTTP + `/ws`) over one MCP connection to medgym, opened at startup."""
    link = MedgymLink(server)
    app = create_fastapi_app(functools.partial(MedgymEnvironment, link, defaults), CallToolAction,
                             CallToolObservation, max_concurrent_envs=max_concurrent_envs, env_name="medgym")
    app.router.on_startup.append(link.start)
    app.router.on_shutdown.append(link.stop)
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m evaluation.envs.openenv_env", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--url", help="a running medgym HTTP server (default: spawn `medgym serve` over stdio)")
    parser.add_argument("--dataset")
    parser.add_argument("--split")
    parser.add_argument("--category")
    parser.add_argument("--max-turns", type=int, default=15)
    parser.add_argument("--max-sessions", type=int, default=16, help="concurrent environment sessions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    defaults = EnvDefaults(Selection(args.dataset, args.split, args.category), args.max_turns)
    app = create_medgym_app(MedgymServer(url=args.url), defaults, args.max_sessions)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
