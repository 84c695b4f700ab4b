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
    categories_truncated: bool = Field(False, description="more categories exist than are listed")
    categories_note: str | None = Field(None, description="how to see every category, when truncated")
    data_available: bool = Field(description="the data the tasks need is present and will be mounted")
    data_needed: str
    answer_kinds: list[str]
    scorable_tasks: int = Field(description="tasks a verifier and ground truth exist for")
    solvable_tasks: int = Field(description="tasks whose data and services are present here")
    unsolvable_reason: str | None = Field(None, description="why the tasks cannot be solved here, and the fix")


class DatasetList(BaseModel):
    labels: str = Field("official", description="which answer keys score audited datasets: official or audited")
    catalog: Literal["starting", "building the built-in pack", "indexing", "ready", "failed"] = Field(
        description="the task catalog's state: tools that need it wait while it is built or indexed")
    catalog_detail: str = Field(description="e.g. 'still indexing: 12000 of 72413 records'")
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
    scorable: bool = Field(description="a verifier and ground truth exist for this task")
    solvable: bool = Field(description="its data and services are present here (a submission is refused if not)")
    solvable_reason: str | None = Field(None, description="why it cannot be solved here, and the fix")
    audit_note: str | None = Field(None, description="what the label audit found about this task's answer key "
                                                     "(never the key itself)")
    limits: LimitsView
    episode_id: str
    episode_active: bool
    attempts_used: int
    attempts_left: int
    ordinal: int = Field(1, description="this episode's place among your episodes of this task: 1 is the one "
                                        "that scores the task in benchmark mode, later ones are samples")
    group: str | None = None


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
    note: str | None = Field(None, description="the limits it ran into, in plain words, and what to do")
    episode_id: str


class SubmitResult(BaseModel):
    correct: bool | None = Field(description="the verdict (null for a dry run, which computes none)")
    score: float | None
    feedback: str
    dry_run: bool = False
    attempts_used: int
    attempts_left: int
    episode_id: str
    episode_ended: bool


class ResetResult(BaseModel):
    task_id: str
    episode_id: str
    previous_episode_id: str | None
    ordinal: int = 1
    attempts_used: int
    attempts_left: int
    message: str


class DatasetProgress(BaseModel):
    dataset: str
    split: str
    tasks_attempted: int = Field(description="tasks with at least one scored episode")
    first_try_correct: int = Field(description="tasks whose first scored episode was correct: the score")
    first_try_accuracy: float | None = Field(description="first_try_correct / tasks_attempted")
    episodes: int = Field(description="episodes opened (scored or not)")
    episodes_per_task: float = Field(description="episodes opened per task with any episode")
    pass_at_k: float | None = Field(
        None, description="where tasks had more than one scored episode: the unbiased pass@k over the tasks "
                          "with at least k scored episodes")
    k: int | None = None


class Progress(BaseModel):
    episodes_total: int
    episodes_active: int
    benchmark_mode: bool = Field(description="one submission per episode; a task's first scored episode is its "
                                             "score, later ones are samples")
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
