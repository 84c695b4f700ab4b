"""What an agent may call, and what a call means for the episode's reward and end.

Shared by every environment adapter so they agree. The agent's tools and their arguments are the
server's own published specs (`evaluation.session.agent_tool_specs`, from `list_tools`, less
`task_id` and `episode_id`, which the environment fills in so an agent cannot reach another
episode or task). The reward is the score of the server's verdict, and `None` (never 0) when the
episode could not be scored: an unscorable or unsolvable task, or a failure of medgym's machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from evaluation.session import is_server_problem as is_server_problem  # which errors are medgym's own
from trajectory.toolspecs import Spec, argument_names

Outcome = Literal["running", "correct", "incorrect", "unsubmitted", "unscorable", "error"]


class AgentRules:
    """The agent's tools as the server publishes them: which it may call, with which arguments."""

    def __init__(self, specs: list[Spec]):
        if not specs:
            raise ValueError("the server published no agent tools (run_code, inspect_data, submit_answer)")
        self.specs = specs
        self.arguments = argument_names(specs)

    @property
    def tools(self) -> tuple[str, ...]:
        return tuple(self.arguments)

    def spec(self, tool: str) -> Spec:
        return next(s for s in self.specs if s["function"]["name"] == tool)

    def refusal(self, tool: str, arguments: Mapping[str, Any]) -> str | None:
        """Why the agent may not make this call (None: it may), worded for the model."""
        if tool not in self.arguments:
            return f"unknown tool {tool!r}; the tools are {', '.join(self.tools)}"
        accepted = list(self.spec(tool)["function"]["parameters"]["properties"])
        unknown = [str(key) for key in arguments if key not in self.arguments[tool]]
        if unknown:
            return f"unknown argument(s) {', '.join(unknown)} for {tool}; it accepts: {', '.join(accepted)}"
        return None


def can_score(view: Mapping[str, Any]) -> bool:
    """Whether an episode of this task can get a verdict here (`get_task`'s scorable and solvable)."""
    return bool(view.get("scorable")) and bool(view.get("solvable", True))


@dataclass(frozen=True)
class Step:
    """The episode after one agent call: reward (None: no score), whether it ended, and how."""

    reward: float | None
    done: bool
    outcome: Outcome


RUNNING = Step(None, False, "running")


def after_call(tool: str, payload: dict[str, Any], scorable: bool) -> Step:
    """The episode after a forwarded call returned `payload` (`{"error": ...}` for a tool error)."""
    error = payload.get("error")
    if is_server_problem(tool, error):
        return Step(None, True, "error")
    if tool != "submit_answer" or payload.get("dry_run"):
        return RUNNING  # a dry run checks an answer's form: no verdict, no attempt
    if error is not None:  # a format the model can fix, or a task that cannot be scored at all
        return RUNNING if scorable else Step(None, True, "unscorable")
    score = float(payload["score"])
    if not payload.get("episode_ended"):
        return Step(score, False, "running")
    return Step(score, True, "correct" if payload.get("correct") else "incorrect")


def at_turn_limit(scorable: bool) -> Step:
    """An episode that used its turns without a final submission: 0 if it could have scored."""
    return Step(0.0 if scorable else None, True, "unsubmitted" if scorable else "unscorable")


def errored() -> Step:
    """The connection to medgym failed: no score, the episode is over."""
    return Step(None, True, "error")
