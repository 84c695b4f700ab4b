"""Episode and event records: what the server keeps of every episode (versioned schema).

An `EpisodeRecord` says which task, which client, when, how it ended and under what conditions
(provenance); its `EventRecord`s are the tool calls in order, with arguments and results exactly
as returned to the client. Records never contain answer keys: only what the agent sent and saw.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Outcome = Literal["active", "correct", "incorrect", "unsubmitted", "error"]
# Why an episode ended (`server_lost`: set by a later server for the episodes of one that died).
EndReason = Literal["final_submission", "reset", "session_end", "idle_timeout", "shutdown", "sandbox_lost",
                    "server_lost"]


class Provenance(BaseModel):
    """The conditions an episode ran under, for reproducibility."""

    model_config = ConfigDict(frozen=True)

    medgym_version: str
    image: str
    image_id: str | None = None
    limits: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int
    verifier: str | None = None
    verifier_version: str | None = Field(None, description="the version of that verifier (scoring.versions)")
    pack_seed: str | None = Field(None, description="the built-in pack's seed kind: secret, public or explicit")
    labels: str = Field("official", description="which answer keys scored: official, or audited")


class EpisodeRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    episode_id: str
    task_id: str
    dataset: str
    client: str | None
    scorer: str | None = Field(None, description="pseudonym of the authenticated principal whose first tries this "
                                                 "episode joins (None for local and anonymous clients)")
    server: str | None = Field(None, description="owner label of the server process (host:pid:start time)")
    started_at: float
    ended_at: float | None = None
    end_reason: EndReason | None = None
    outcome: Outcome = "active"
    attempts_used: int = 0
    ordinal: int = Field(1, description="its place among its client's episodes of this task (1: the first, which "
                                        "scores the task; later ones are samples)")
    previous_episode_id: str | None = Field(None, description="the client's episode of this task before this one")
    group_id: str | None = Field(None, description="episodes sampled together (pass@k, a GRPO group)")
    used_reference_solution: bool = Field(
        False, description="the episode ran a built-in task's hidden reference solution (an oracle run): "
                           "exports skip it unless asked to include oracle runs")
    provenance: Provenance


class Verdict(BaseModel):
    correct: bool
    score: float
    feedback: str
    verifier: str | None = Field(None, description="the name of the verifier that gave it (records before it: None)")
    verifier_version: str | None = Field(None, description="that verifier's version (scoring.versions)")


class EventRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    episode_id: str
    seq: int
    at: float
    tool: str
    arguments: dict[str, Any]
    result: dict[str, Any] | None = None
    error: str | None = Field(None, description="the tool error message the client received, if any")
    error_kind: Literal["input", "service", "verifier"] | None = None
    duration_ms: float
    timed_out: bool | None = None
    oom_killed: bool | None = None
    verdict: Verdict | None = None


class Trajectory(BaseModel):
    """One episode with its events, as the `medgym://episodes/{episode_id}` resource returns it."""

    episode: EpisodeRecord
    events: list[EventRecord]
