"""What a transcript's messages cannot hold: per assistant turn, when it came, the model's usage and,
when the endpoint returned them, its token ids and log-probabilities; per tool call, when it ran
and how long it took.

A run directory keeps these beside each transcript, in `transcripts/<episode_id>.turns.json`, and
never inside the messages: the messages are what is sent back to the model endpoint, and token
ids there would change what the model is given. Exports read them back per assistant turn, so
on-policy trainers need not re-tokenize.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class TurnTokens(BaseModel):
    """Token-level data of one model response, as the endpoint returned it (None: not returned)."""

    prompt_token_ids: list[int] | None = Field(None, description="the whole prompt, chat template applied")
    completion_token_ids: list[int] | None = None
    logprobs: list[float] | None = Field(None, description="log-probability of each completion token")
    prompt_tokens: int | None = Field(None, description="usage, as counted by the endpoint")
    completion_tokens: int | None = None
    cached_tokens: int | None = None

    def has_ids(self) -> bool:
        return self.prompt_token_ids is not None or self.completion_token_ids is not None or self.logprobs is not None


class Turn(BaseModel):
    """One assistant message of a transcript (a model response, or a scripted agent's tool call)."""

    message_index: int = Field(description="its index in the transcript's messages")
    at: float = Field(description="when the response arrived (Unix time)")
    latency_ms: float | None = Field(None, description="how long the endpoint took to answer")
    model: str | None = None
    finish_reason: str | None = None
    tokens: TurnTokens | None = None
    scripted: bool | None = Field(None, description="True: a scripted agent's call, no model involved (None: unknown)")


class CallTiming(BaseModel):
    """One forwarded tool call: when it started and how long the server took (client-side)."""

    tool_call_id: str
    at: float
    duration_ms: float


class TurnLog(BaseModel):
    turns: list[Turn] = Field(default_factory=list)
    calls: list[CallTiming] = Field(default_factory=list)

    def turn_at(self, message_index: int) -> Turn | None:
        return next((t for t in self.turns if t.message_index == message_index), None)

    def call(self, tool_call_id: str) -> CallTiming | None:
        return next((c for c in self.calls if c.tool_call_id == tool_call_id), None)


def turns_path(transcript: Path) -> Path:
    """`transcripts/<episode_id>.json` -> `transcripts/<episode_id>.turns.json`."""
    return transcript.with_name(transcript.stem + ".turns.json")


def write_turns(transcript: Path, log: TurnLog) -> None:
    turns_path(transcript).write_text(log.model_dump_json(indent=1, exclude_none=True), encoding="utf-8")


def read_turns(transcript: Path) -> TurnLog:
    """The turn log beside a transcript (empty when there is none: runs before it, or none recorded)."""
    path = turns_path(transcript)
    return TurnLog.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else TurnLog()
