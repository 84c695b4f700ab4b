"""What an agent may call, and what a call means for the episode's reward and end.

Shared by every environment adapter so they agree: the agent gets `run_code`, `inspect_data` and
`submit_answer` with the arguments of `evaluation.transcript.TOOL_SPECS` (never `task_id` or
`episode_id`: the environment fills those in, so an agent cannot reach another episode or task);
the reward is the score of the server's verdict, and `None` (never 0) when the episode could not
be scored: an unscorable task, or a failure of medgym's own machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from evaluation.transcript import TOOL_SPECS

AGENT_TOOLS: tuple[str, ...] = tuple(spec["function"]["name"] for spec in TOOL_SPECS)
# the prefix medgym puts on errors of its own machinery (README, "Errors a model can fix")
SERVER_PROBLEM = "medgym server problem"

Outcome = Literal["running", "correct", "incorrect", "unsubmitted", "unscorable", "error"]


@dataclass(frozen=True)
class Step:
    """The episode after one agent call: reward (None: no score), whether it ended, and how."""

    reward: float | None
    done: bool
    outcome: Outcome


RUNNING = Step(None, False, "running")


def accepted_arguments(tool: str) -> list[str]:
    spec = next(s for s in TOOL_SPECS if s["function"]["name"] == tool)
    return list(spec["function"]["parameters"]["properties"])


def refusal(tool: str, arguments: dict[str, Any]) -> str | None:
    """Why the agent may not make this call (None: it may), worded for the model."""
    if tool not in AGENT_TOOLS:
        return f"unknown tool {tool!r}; the tools are {', '.join(AGENT_TOOLS)}"
    accepted = accepted_arguments(tool)
    unknown = [str(key) for key in arguments if key not in accepted]
    if unknown:
        return f"unknown argument(s) {', '.join(unknown)} for {tool}; it accepts: {', '.join(accepted)}"
    return None


def after_call(tool: str, payload: dict[str, Any], scorable: bool) -> Step:
    """The episode after a forwarded call returned `payload` (`{"error": ...}` for a tool error)."""
    error = payload.get("error")
    if isinstance(error, str) and error.startswith(SERVER_PROBLEM):
        return Step(None, True, "error")
    if tool != "submit_answer":
        return RUNNING
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
