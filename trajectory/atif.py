"""Episodes as ATIF, the Agent Trajectory Interchange Format of Harbor (RFC 0001), version 1.8.

Field names and rules follow Harbor's reference models (`harbor.models.trajectories`, harbor 0.26.0
on PyPI): a `Trajectory` has `schema_version`, `session_id`, `trajectory_id`, `agent` (`name`,
`version`, `model_name`, `tool_definitions` in OpenAI's function schema), `steps` (`step_id` from 1,
`source` system | user | agent, `message`, `timestamp` ISO 8601, and on agent steps only
`model_name`, `tool_calls` (`tool_call_id`, `function_name`, `arguments`), `metrics`
(`prompt_tokens`, `completion_tokens`, `cached_tokens`, `prompt_token_ids`, `completion_token_ids`,
`logprobs`) and `llm_call_count`), `observation.results[]` (`source_call_id` naming a tool call of
the same step, `content`), `final_metrics` and free `extra` objects; no other keys.

An episode maps as: the system prompt and the task statement are the first two steps; each
assistant message is an agent step with its tool calls and, as its observation, the tool results
exactly as the agent saw them (JSON text), with each call's duration in the result's `extra`;
timestamps, usage and token ids come from the turn log (`trajectory.turns`) where known. The
verified reward and the verdict the agent was shown go in the root `extra.medgym`, with the
task, episode and group ids. Nothing else: never an answer key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from medgym.version import __version__
from trajectory.turns import Turn, TurnLog, TurnTokens

SCHEMA_VERSION = "ATIF-v1.8"
Json = dict[str, Any]
METRIC_FIELDS = ("prompt_tokens", "completion_tokens", "cached_tokens")
ID_FIELDS = (("prompt_token_ids", "prompt_token_ids"), ("completion_token_ids", "completion_token_ids"),
             ("logprobs", "logprobs"))


def trajectory(messages: list[Json], log: TurnLog, tools: list[Json], about: Mapping[str, Any]) -> Json:
    """One ATIF document. `about`: episode_id, task_id, dataset, group_id, source, outcome, reward,
    verdict, agent (name, model), ordinal."""
    steps = [_opening(index, message) for index, message in enumerate(messages[:2])]
    for index in range(2, len(messages)):
        step = _step(messages, index, log, len(steps) + 1)
        if step is not None:
            steps.append(step)
    agent = about.get("agent") or {}
    document: Json = {
        "schema_version": SCHEMA_VERSION, "session_id": about["episode_id"], "trajectory_id": about["episode_id"],
        "agent": _drop_none({"name": agent.get("name") or "medgym", "version": __version__,
                             "model_name": agent.get("model"), "tool_definitions": tools or None}),
        "steps": steps, "final_metrics": _final_metrics(log, len(steps)),
        "extra": {"medgym": {k: about.get(k) for k in ("task_id", "dataset", "episode_id", "group_id", "ordinal",
                                                      "source", "outcome", "reward", "verdict")}},
    }
    return document


def _opening(index: int, message: Json) -> Json:
    source = "system" if message.get("role") == "system" else "user"
    return {"step_id": index + 1, "source": source, "message": _text(message.get("content"))}


def _step(messages: list[Json], index: int, log: TurnLog, step_id: int) -> Json | None:
    message = messages[index]
    if message.get("role") == "user":
        return {"step_id": step_id, "source": "user", "message": _text(message.get("content"))}
    if message.get("role") != "assistant":
        return None  # tool messages are the observation of the assistant step before them
    calls = message.get("tool_calls") or []
    step: Json = {"step_id": step_id, "source": "agent", "message": _text(message.get("content"))}
    if calls:
        step["tool_calls"] = [_tool_call(call) for call in calls]
        results = _results(messages, index, {str(call.get("id")) for call in calls}, log)
        if results:
            step["observation"] = {"results": results}
    return {**step, **_turn_fields(log.turn_at(index))}


def _tool_call(call: Json) -> Json:
    function = call.get("function") or {}
    raw = function.get("arguments")
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        arguments = None
    out: Json = {"tool_call_id": str(call.get("id")), "function_name": str(function.get("name")),
                 "arguments": arguments if isinstance(arguments, dict) else {}}
    if not isinstance(arguments, dict):
        out["extra"] = {"unparsed_arguments": raw}  # what the model sent, which no tool accepted
    return out


def _results(messages: list[Json], index: int, ids: set[str], log: TurnLog) -> list[Json]:
    results = []
    for message in messages[index + 1:]:
        if message.get("role") != "tool":
            break
        call_id = str(message.get("tool_call_id"))
        result: Json = {"source_call_id": call_id if call_id in ids else None, "content": _text(message.get("content"))}
        timing = log.call(call_id)
        if timing is not None:
            result["extra"] = {"started_at": _iso(timing.at), "duration_ms": timing.duration_ms}
        results.append(_drop_none(result))
    return results


def _turn_fields(turn: Turn | None) -> Json:
    if turn is None:
        return {}
    fields: Json = {"timestamp": _iso(turn.at), "model_name": turn.model}
    if turn.scripted:
        return _drop_none({**fields, "llm_call_count": 0})  # a scripted agent's call, not a model's
    if turn.latency_ms is None and turn.tokens is None:
        return _drop_none(fields)  # rebuilt from the server's records: who made the call is not known
    metrics = _metrics(turn.tokens) if turn.tokens is not None else {}
    extra = _drop_none({"latency_ms": turn.latency_ms, "finish_reason": turn.finish_reason})
    return _drop_none({**fields, "llm_call_count": 1, "metrics": metrics or None, "extra": extra or None})


def _metrics(tokens: TurnTokens) -> Json:
    values = {name: getattr(tokens, name) for name in METRIC_FIELDS}
    values |= {ours: getattr(tokens, theirs) for ours, theirs in ID_FIELDS}
    return _drop_none(values)


def _final_metrics(log: TurnLog, steps: int) -> Json:
    tokens = [t.tokens for t in log.turns if t.tokens is not None]
    totals: Json = {"total_steps": steps}
    for name in METRIC_FIELDS:
        counted = [getattr(t, name) for t in tokens]
        if counted and all(c is not None for c in counted):
            totals[f"total_{name}"] = sum(counted)
    return totals


def _text(content: object) -> str:
    return content if isinstance(content, str) else "" if content is None else json.dumps(content)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def _drop_none(values: Json) -> Json:
    return {k: v for k, v in values.items() if v is not None}
