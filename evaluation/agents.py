"""Agents for `medgym eval`: an async callable that works one `EpisodeSession` to the end.

- `oracle`: runs the built-in pack's reference solution and submits its last line (a sanity check
  of the whole loop; reads the solutions from the local store, never from the server). A
  prediction task's reference writes /workspace/predictions.csv and prints the file name as its
  last line, so the oracle submits the file name, as a prediction agent must; for a code task it
  submits the reference code itself;
- `openai`: any OpenAI-compatible chat-completions endpoint with tool calling (with `capture_tokens`,
  the token ids and log-probabilities of every response, kept beside the transcript: see `tokens`);
- `python`: `module:function`, an `async def agent(session: EpisodeSession) -> None`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from evaluation.session import EpisodeSession
from evaluation.tokens import CAPTURE_FIELDS, turn_tokens
from medgym.errors import ConfigurationError
from trajectory.transcript import Message
from trajectory.turns import Turn

Agent = Callable[[EpisodeSession], Awaitable[None]]
NUDGE = "Use the tools: run_code to compute, then submit_answer with your final answer."


class AgentSetupError(ConfigurationError):
    """The agent cannot be built from the options given (the message says what to fix)."""


def oracle_agent(reference: Callable[[str], str | None]) -> Agent:
    """Runs each task's reference solution (`reference(task_id)`, read from the local store by the
    caller, never from the server) and submits its last line."""

    async def oracle(session: EpisodeSession) -> None:
        code = reference(session.task_id)
        if not code:
            raise AgentSetupError(f"{session.task_id} has no reference solution (only built-in pack tasks do)")
        if session.view.get("answer_format", {}).get("kind") == "code":  # the reference is the code to submit
            await session.submit(code)
            return
        result = await session.run_code(code, timeout_s=120)
        lines = str(result.get("stdout", "")).strip().splitlines()
        if lines:
            await session.submit(json.loads(lines[-1]))

    return oracle


def python_agent(spec: str) -> Agent:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise AgentSetupError("a custom agent is given as --agent module:function")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise AgentSetupError(f"cannot load {spec}: {exc}") from None
    if not inspect.iscoroutinefunction(function):
        raise AgentSetupError(f"{spec} must be an async function taking an EpisodeSession")
    agent: Agent = function
    return agent


@dataclass(frozen=True)
class ChatSettings:
    base_url: str
    model: str
    api_key_env: str | None = None
    max_turns: int = 15
    temperature: float = 0.0
    timeout_s: float = 300.0
    capture_tokens: bool = False


def openai_agent(settings: ChatSettings) -> Agent:
    """The model gets run_code and submit_answer as tools; its calls are forwarded to medgym."""
    key = os.environ.get(settings.api_key_env, "") if settings.api_key_env else ""
    if settings.api_key_env and not key:
        raise AgentSetupError(f"the environment variable {settings.api_key_env} (--api-key-env) is empty or unset")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = settings.base_url.rstrip("/") + "/chat/completions"

    async def agent(session: EpisodeSession) -> None:
        async with httpx.AsyncClient(timeout=settings.timeout_s, headers=headers) as http:
            for _ in range(settings.max_turns):
                message, turn = await _complete(http, url, settings, session)
                if not await _act(session, message, turn):
                    session.messages.append({"role": "user", "content": NUDGE})
                if session.finished:
                    return

    return agent


async def _complete(http: httpx.AsyncClient, url: str, settings: ChatSettings,
                    session: EpisodeSession) -> tuple[Message, Turn]:
    """The model's next message, and its turn record (timing, usage, tokens when captured)."""
    body = {"model": settings.model, "messages": session.messages, "tools": session.tools, "tool_choice": "auto",
            "temperature": settings.temperature, **(CAPTURE_FIELDS if settings.capture_tokens else {})}
    clock = time.monotonic()
    response = await http.post(url, json=body)
    if response.status_code >= 400:
        raise RuntimeError(f"chat completions endpoint answered {response.status_code}: {response.text[:300]}")
    reply = response.json()
    choice = reply["choices"][0]
    tokens = turn_tokens(reply)
    turn = Turn(message_index=len(session.messages), at=time.time(), model=reply.get("model"),
                latency_ms=round((time.monotonic() - clock) * 1000, 3), finish_reason=choice.get("finish_reason"),
                tokens=tokens if tokens.has_ids() or tokens.prompt_tokens is not None else None)
    return dict(choice["message"]), turn


async def _act(session: EpisodeSession, message: Message, turn: Turn | None = None) -> bool:
    """Forward the message's tool calls; False when the model answered without calling a tool. Only the
    message's content and tool calls go into the transcript (what is sent back to the model)."""
    calls = message.get("tool_calls") or []
    assistant = {"role": "assistant", "content": message.get("content"), "tool_calls": calls} if calls else {
        "role": "assistant", "content": message.get("content") or ""}
    if turn is not None:
        session.log.turns.append(turn.model_copy(update={"message_index": len(session.messages)}))
    session.messages.append(assistant)
    session.turns += 1
    for call in calls:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = None
        names = {spec["function"]["name"] for spec in session.tools}
        if not isinstance(arguments, dict) or function.get("name") not in names:
            session.messages.append({"role": "tool", "tool_call_id": call.get("id"), "content": json.dumps(
                {"error": "unknown tool or arguments that are not a JSON object"})})
            continue
        await session.call(function["name"], arguments, call_id=call.get("id"), record_call=False)
        if session.finished:
            break
    return bool(calls)


def describe(agent_kind: str, settings: ChatSettings | None, spec: str | None) -> dict[str, Any]:
    if agent_kind == "openai" and settings is not None:
        return {"kind": "openai", "model": settings.model, "base_url": settings.base_url,
                "max_turns": settings.max_turns, "temperature": settings.temperature,
                "api_key_env": settings.api_key_env, "capture_tokens": settings.capture_tokens}
    return {"kind": agent_kind, "spec": spec}
