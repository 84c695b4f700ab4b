"""medgym as a verifiers (v1) taskset: `vf-eval medgym_verifiers` or `load_environment(...)`.

- Rows (`MedgymTaskData`) carry a task id, its statement as `get_task` shows it (never answers)
  and a group name, `vf-<run>/<task id>` (`$VF_RUN_ID`, which verifiers' entry points set), so
  that the rollouts of one task in one run share a medgym `group` in records and exports.
- Tools: a per-rollout `MedgymToolset` (an MCP server verifiers installs into the harness) whose
  `run_code`, `inspect_data` and `submit_answer` forward to the rollout's own medgym episode,
  opened with `get_task(new_episode=True, group=...)` when the rollout starts; nothing else is
  reachable. The schemas and descriptions the model sees are the ones the medgym server publishes
  (its `list_tools`), and arguments outside them are refused.
- Reward `medgym_verdict`: the score of the server's `submit_answer` verdict (0 when the rollout
  ended without a final submission). An unscorable task or a failure of medgym's machinery has no
  score: scoring raises, so the trace carries an error instead of a reward (never a 0).

medgym is a spawned `medgym serve` (stdio, one per tool server) or a running HTTP server
(`medgym_url`, recommended for training: one server, many rollouts).
"""

# no `from __future__ import annotations`: the MCP server builds tool schemas from evaluated annotations
import asyncio
import concurrent.futures
import logging
import os
import uuid
from collections.abc import Coroutine
from typing import Any, Literal, cast

import verifiers.v1 as vf
from mcp import Client
from pydantic import Field

from evaluation.envs import rules
from evaluation.envs.connection import MedgymServer
from evaluation.runner import Selection, select_tasks
from evaluation.session import EpisodeSession, agent_tool_specs, wait_until_ready
from trajectory.transcript import SYSTEM_PROMPT, task_statement

log = logging.getLogger(__name__)
TASKSET_ID = "medgym_verifiers"
Scalar = str | int | float | bool | None


class MedgymTaskData(vf.TaskData):
    task_id: str
    dataset: str
    group: str | None = None


class MedgymState(vf.State):
    episode_id: str = ""
    scorable: bool = True
    done: bool = False
    outcome: rules.Outcome = "running"
    reward: float | None = None


class MedgymToolsConfig(vf.ToolsetConfig):
    medgym_url: str | None = None
    """A running medgym HTTP server (`http://host:8765/mcp`); unset: spawn `medgym serve` over stdio."""


class MedgymToolset(vf.Toolset[MedgymToolsConfig, MedgymState]):
    TOOL_PREFIX = None  # the model sees run_code, inspect_data, submit_answer

    def __init__(self, config: MedgymToolsConfig):
        super().__init__(config)
        self._client: Client | None = None
        self._session: EpisodeSession | None = None
        self._rules: rules.AgentRules | None = None

    async def setup(self) -> None:
        server = MedgymServer(url=self.config.medgym_url)
        self._client = await self._exit_stack.enter_async_context(server.client())
        self._exit_stack.push_async_callback(self._abandon)
        await wait_until_ready(self._client)
        self._rules = rules.AgentRules(await agent_tool_specs(self._client))

    def register(self, mcp: Any) -> None:
        """Register the tools, then show the model the schemas and descriptions the server publishes."""
        super().register(mcp)
        manager = getattr(mcp, "_tool_manager", None)  # mcp's MCPServer keeps its Tool objects here
        if self._rules is None or manager is None:
            raise vf.ToolsetError("the medgym tool server has no connection to medgym")
        for spec in self._rules.specs:
            function = spec["function"]
            tool = manager.get_tool(function["name"])
            if tool is None:
                continue
            missing = set(function["parameters"].get("properties", {})) - set(tool.parameters.get("properties", {}))
            if missing:  # an argument the model would be shown but this adapter would drop
                raise vf.ToolsetError(f"the medgym server's {function['name']} takes {sorted(missing)}, which "
                                      "this adapter does not forward: update medgym on both sides")
            tool.description, tool.parameters = function["description"], function["parameters"]

    async def setup_task(self, task: MedgymTaskData) -> None:
        """Open this rollout's episode (verifiers hands a per-rollout server the rollout's task data)."""
        if self._client is None:
            raise vf.ToolsetError("the medgym tool server has no connection to medgym")
        specs = self._rules.specs if self._rules is not None else []
        self._session = EpisodeSession(self._client, task.task_id, specs)
        await self._session.open(task.group)

    async def _abandon(self) -> None:
        if self._session is not None:
            await self._session.abandon()

    @vf.tool
    async def run_code(self, code: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Run Python 3 in the task's sandbox, like `python script.py` in /workspace. Returns exit_code,
        stdout, stderr, duration_ms, timed_out, oom_killed."""
        return await self._forward("run_code", {"code": code, "timeout_s": timeout_s})

    @vf.tool
    async def inspect_data(self, action: Literal["list_tables", "describe_table", "column_values", "search"],
                           table: str | None = None, column: str | None = None,
                           term: str | None = None) -> dict[str, Any]:
        """Look at the task's data tables without writing code: list_tables, describe_table (columns, types,
        examples), column_values (most frequent values of a column) or search (term in names and values)."""
        given = {"table": table, "column": column, "term": term}
        return await self._forward("inspect_data", {"action": action, **{k: v for k, v in given.items() if v}})

    @vf.tool
    async def submit_answer(self, answer: Scalar | list[Scalar], dry_run: bool = False) -> dict[str, Any]:
        """Submit the final answer (string, number, boolean or list, as the task asks); it is scored
        against hidden ground truth (dry_run: only check its form)."""
        return await self._forward("submit_answer", {"answer": answer, **({"dry_run": True} if dry_run else {})})

    async def _forward(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        if self._session is None or state.done:
            return {"error": "this episode is over" if state.done else "no episode is open"}
        refused = self._rules.refusal(tool, arguments) if self._rules is not None else "no tools are known"
        if refused:
            return {"error": refused}
        state.episode_id, state.scorable = self._session.episode_id, rules.can_score(self._session.view)
        try:
            payload = await self._session.call(tool, arguments)
        except Exception as exc:  # the connection to medgym failed: no score, never a wrong answer
            log.error("medgym call %s failed: %s", tool, exc)
            self._record(rules.errored())
            return {"error": f"medgym is unreachable: {exc}"}
        self._record(rules.after_call(tool, payload, state.scorable))
        return payload

    def _record(self, step: rules.Step) -> None:
        state = self.state
        state.done, state.outcome = step.done, step.outcome
        if step.reward is not None:
            state.reward = step.reward


class MedgymTaskConfig(vf.TaskConfig):
    tools: MedgymToolsConfig = MedgymToolsConfig()


class MedgymTask(vf.Task[MedgymTaskData, MedgymState, MedgymTaskConfig]):
    @property
    def key(self) -> str:
        return str(self.data.task_id)

    @classmethod
    def toolsets(cls, config: MedgymTaskConfig) -> list[vf.Toolset[Any, Any]]:
        return [MedgymToolset(config.tools)]

    # hooks are told apart by their parameter's annotation, which must be the bare `vf.Trace` (verifiers
    # compares it with `is`; a parametrised pydantic generic is a subclass it does not recognise)
    @vf.stop
    async def final_submission(self, trace: vf.Trace) -> bool:  # type: ignore[type-arg]
        return bool(cast(MedgymState, trace.state).done)

    @vf.reward
    async def medgym_verdict(self, trace: vf.Trace) -> float:  # type: ignore[type-arg]
        """The server's verdict; an episode that cannot be scored raises (an error, not a 0)."""
        state = cast(MedgymState, trace.state)
        step = rules.at_turn_limit(state.scorable) if not state.done else rules.Step(
            state.reward, True, state.outcome)
        if step.reward is None:
            raise vf.TaskError(f"medgym episode {state.episode_id or '?'} has no score ({step.outcome})")
        return step.reward


class MedgymTasksetConfig(vf.TasksetConfig):
    task_ids: list[str] = Field(default_factory=list)
    """Tasks to run; unset: every task of the selection below."""
    dataset: str | None = None
    split: str | None = None
    category: str | None = None
    limit: int | None = None
    task: MedgymTaskConfig = MedgymTaskConfig()


# Taskset's TaskT is bound to Task[Any, State, ...] and Task is invariant in its state type
class MedgymTaskset(vf.Taskset[MedgymTask, MedgymTasksetConfig]):  # type: ignore[type-var]
    def load(self) -> list[MedgymTask]:
        config = self.config
        views = _run(_views(MedgymServer(url=config.task.tools.medgym_url), config))
        run = os.environ.get("VF_RUN_ID") or uuid.uuid4().hex[:12]
        return [MedgymTask(_row(view, f"vf-{run}/{view['task_id']}"[:200]), config.task) for view in views]


def _row(view: dict[str, Any], group: str) -> MedgymTaskData:
    """What get_task showed (the statement), nothing hidden; the episode is opened per rollout."""
    return MedgymTaskData(id=view["task_id"], name=view["task_id"], task_id=view["task_id"], dataset=view["dataset"],
                          group=group, prompt=task_statement(view), system_prompt=SYSTEM_PROMPT)


async def _views(server: MedgymServer, config: MedgymTasksetConfig) -> list[dict[str, Any]]:
    """Each task's statement, read with get_task on a connection of its own (the episodes this opens
    start no sandbox and end with the connection; rollouts open their own)."""
    async with server.client() as client:
        await wait_until_ready(client)
        selection = Selection(config.dataset, config.split, config.category, config.limit)
        ids = config.task_ids or await select_tasks(client, selection)
        views = []
        for task_id in ids[: config.limit] if config.limit else ids:
            views.append(await EpisodeSession(client, task_id).open())
        return views


def _run(coroutine: Coroutine[Any, Any, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run on a fresh event loop in a worker thread (`load` may be called from inside a running loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def load_environment(medgym_url: str | None = None, task_ids: list[str] | None = None, dataset: str | None = None,
                     split: str | None = None, category: str | None = None, limit: int | None = None,
                     harness: str = "null", runtime: str = "subprocess", max_turns: int = 15) -> vf.Env[Any]:
    """A verifiers environment over medgym (the model's tools forwarded, reward = the server's verdict)."""
    taskset = {"id": TASKSET_ID, "task_ids": task_ids or [], "dataset": dataset, "split": split,
               "category": category, "limit": limit, "task": {"tools": {"medgym_url": medgym_url}}}
    agent = {"harness": {"id": harness}, "runtime": {"type": runtime}, "max_turns": max_turns}
    return vf.load_environment(vf.resolve_env_config({"taskset": taskset, "agent": agent}))


__all__ = ["MedgymTaskset"]

if __name__ == "__main__":  # verifiers launches a tool server as `python -m <its module>`
    MedgymToolset.run()
