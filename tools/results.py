"""The structured results of the tools (pydantic models become the tools' output schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from task_store.models import AnswerFormat, DataFile


class SplitCount(BaseModel):
    split: str
    count: int


class CategoryCount(BaseModel):
    category: str
    count: int


class DatasetInfo(BaseModel):
    name: str
    description: str
    source: str = Field(description="'built-in pack' or 'data directory'")
    total: int
    splits: list[SplitCount]
    categories: list[CategoryCount] = Field(description="largest categories first (at most 50)")
    categories_total: int
    data_available: bool = Field(description="the data the tasks need is present and will be mounted")
    data_needed: str
    answer_kinds: list[str]
    scorable_tasks: int


class DatasetList(BaseModel):
    datasets: list[DatasetInfo]
    not_found: list[str] = Field(description="known datasets without task files in the data directory")
    malformed_records: int = Field(description="records skipped because they could not be read")


class LimitsView(BaseModel):
    default_timeout_s: float
    max_timeout_s: float
    memory_mb: int
    cpus: float
    max_output_bytes: int
    network: str = "none"


class TaskView(BaseModel):
    """A task as the agent sees it. Never contains the ground truth."""

    task_id: str
    dataset: str
    split: str
    category: str
    title: str
    instructions: str
    question: str
    context: str | None
    data_files: list[DataFile]
    data_available: bool
    answer_format: AnswerFormat
    scorable: bool
    limits: LimitsView
    episode_id: str
    episode_active: bool
    attempts_used: int
    attempts_left: int


class RunResult(BaseModel):
    exit_code: int
    stdout: str
    stderr: str
    duration_ms: float
    timed_out: bool
    oom_killed: bool
    output_truncated: bool
    limits_hit: list[Literal["timeout", "memory", "processes", "disk", "output"]] = Field(
        description="sandbox limits this run ran into: timeout, memory, processes, disk (/workspace or /tmp "
                    "full), output (truncated)")
    episode_id: str


class SubmitResult(BaseModel):
    correct: bool
    score: float
    feedback: str
    attempts_used: int
    attempts_left: int
    episode_id: str
    episode_ended: bool


class ResetResult(BaseModel):
    task_id: str
    episode_id: str
    previous_episode_id: str | None
    attempts_used: int
    attempts_left: int
    message: str


class DatasetProgress(BaseModel):
    dataset: str
    episodes: int
    tasks_attempted: int
    tasks_solved: int
    submissions: int


class Progress(BaseModel):
    episodes_total: int
    episodes_active: int
    datasets: list[DatasetProgress]


Cell = str | int | float | bool | None


class InspectResult(BaseModel):
    action: str
    table: str | None
    text: str = Field(description="what was found, in words, with how to load the table in run_code")
    columns: list[str] = Field(description="the names of the fields of each row")
    rows: list[list[Cell]]
    truncated: bool = Field(description="more rows matched than are shown")
    episode_id: str
