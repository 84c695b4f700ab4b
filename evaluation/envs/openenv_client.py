"""Clients for the medgym OpenEnv server.

`MedgymEnv` is OpenEnv's own tool-environment client (`MCPToolClient`, as the echo environment's
`EchoEnv`): `await env.reset(task_id=...)`, `await env.step(CallToolAction(...))` (observation,
reward, done), `await env.call_tool("run_code", code=...)` (the result only), `env.sync()`.

`trl_environment(base_url)` makes the class TRL's `GRPOTrainer(environment_factory=...)` expects:
one instance per generation, `reset(**row)` opens the row's task and returns its statement, the
public methods `run_code`, `inspect_data` and `submit_answer` are the model's tools, and `reward`
is the verified score (None until a final submission; see `rules`). The episodes of one GRPO group
share a medgym `group`: the row's `group` column if it has one, else (with `group_size`, TRL's
`num_generations`) each run of `group_size` resets of the same row in this process.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from openenv.core.env_server.mcp_types import CallToolAction
from openenv.core.mcp_client import MCPToolClient

from medgym.errors import EpisodeError


class MedgymEnv(MCPToolClient):
    """OpenEnv client of `python -m evaluation.envs.openenv_env` (reset, step, list_tools, call_tool)."""


class EpisodeOver(EpisodeError, RuntimeError):
    """The episode has ended; call reset for the next one (a finished episode in medgym's error tree,
    and a RuntimeError as it was before it joined the tree)."""


def check_methods(cls: type, tools: list[Any]) -> None:
    """Raise if a tool method takes an argument the server's published spec of that tool does not."""
    import inspect

    published = {tool.name: set((tool.input_schema or {}).get("properties", {})) for tool in tools}
    for name in ("run_code", "inspect_data", "submit_answer"):
        taken = set(inspect.signature(getattr(cls, name)).parameters) - {"self"}
        if name not in published or not taken <= published[name]:
            raise RuntimeError(f"the medgym server publishes {name} with {sorted(published.get(name, []))}; "
                               f"this adapter's method takes {sorted(taken)}: update medgym on both sides")


class GroupNames:
    """Names GRPO groups: a row's `group` column, else consecutive resets of the same row share a
    name, `size` at a time (TRL repeats each prompt `num_generations` times, in order)."""

    def __init__(self, size: int | None):
        self.size = size
        self._open: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def name(self, row: dict[str, Any]) -> str | None:
        if row.get("group"):
            return str(row["group"])
        if not self.size:
            return None
        key = json.dumps(row, sort_keys=True, default=str)
        with self._lock:
            name, used = self._open.get(key, ("", self.size))
            if used >= self.size:
                name, used = f"trl-{uuid.uuid4().hex[:12]}/{row.get('task_id') or 'sampled'}"[:200], 0
            self._open[key] = (name, used + 1)
        return name


def trl_environment(base_url: str, max_turns: int | None = None, group_size: int | None = None) -> type:
    """A TRL `environment_factory` class bound to a running medgym OpenEnv server (`group_size`:
    the trainer's `num_generations`, so that a prompt's generations share a medgym group)."""
    groups = GroupNames(group_size)

    class MedgymToolEnv:
        checked = False

        def __init__(self) -> None:
            self.client = MedgymEnv(base_url=base_url).sync()
            self.client.connect()
            self.reward: float | None = None
            self.done = False
            if not type(self).checked:  # the methods below must take what the server publishes
                check_methods(type(self), self.client.list_tools())
                type(self).checked = True

        def reset(self, **row: Any) -> str:
            """Open the row's task (`task_id` column; else one sampled) and return its statement."""
            options = {k: row[k] for k in ("task_id", "dataset", "split", "category", "seed") if row.get(k)}
            if (group := groups.name(row)) is not None:
                options["group"] = group
            result = self.client.reset(**options, **({"max_turns": max_turns} if max_turns else {}))
            self.reward, self.done = None, False
            return str(result.observation.messages[-1]["content"])

        def run_code(self, code: str, timeout_s: float = 30.0) -> str:
            """Run Python 3 in the task's sandbox, like `python script.py` in /workspace.

            Args:
                code: Python source to run.
                timeout_s: Seconds before the run is killed.
            """
            return self._call("run_code", {"code": code, "timeout_s": timeout_s})

        def inspect_data(self, action: str, table: str = "", column: str = "", term: str = "") -> str:
            """Look at the task's data tables without code.

            Args:
                action: One of list_tables, describe_table, column_values, search.
                table: A table name from list_tables.
                column: A column of the table.
                term: Text to look for, case-insensitive.
            """
            given = {"table": table, "column": column, "term": term}
            return self._call("inspect_data", {"action": action, **{k: v for k, v in given.items() if v}})

        def submit_answer(self, answer: str | float | bool | list[str]) -> str:
            """Submit the final answer; it is scored against hidden ground truth.

            Args:
                answer: The answer in the format the task asks for.
            """
            return self._call("submit_answer", {"answer": answer})

        def _call(self, tool: str, arguments: dict[str, Any]) -> str:
            if self.done:
                raise EpisodeOver("the episode is over")
            result = self.client.step(CallToolAction(tool_name=tool, arguments=arguments))
            self.done = bool(result.done)
            self.reward = result.reward if result.done else self.reward
            observation = result.observation
            if getattr(observation, "error", None) is not None:
                raise ValueError(observation.error.message)
            return json.dumps(observation.result)

    return MedgymToolEnv
