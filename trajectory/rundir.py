"""A run directory: `results.jsonl` (one row per finished episode), `metadata.json`,
`transcripts/<episode_id>.json`, `tools.json` (the OpenAI specs of the tools the agent had) and
`summary.md`. Rows are appended and flushed one by one, so a
run killed midway keeps every finished episode and resumes with the rest. A row is never rewritten:
an errored episode run again (`medgym eval --retry-errors`) appends its successor, which names it in
`retry_of`; `rows()` gives each (task, sample) its latest row, `history()` every row.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from trajectory.transcript import Message


class ResultRow(BaseModel):
    task_id: str
    sample: int
    episode_id: str
    dataset: str
    split: str
    category: str
    agent: str
    model: str | None = None
    submitted: bool
    correct: bool
    score: float = 0.0
    feedback: str | None = None
    turns: int = 0
    run_code_calls: int = 0
    duration_s: float = 0.0
    error: str | None = Field(None, description="the agent or harness failed (not a wrong answer)")
    transcript: str | None = Field(None, description="path of the transcript, relative to the run directory")
    ordinal: int = Field(1, description="the episode's place among the client's episodes of the task")
    group_id: str | None = Field(None, description="the samples of one task in one run share it")
    scorable: bool | None = Field(None, description="the task could get a verdict here (scorable and solvable); "
                                                    "None in runs before it was kept")
    verdict_unknown: bool = Field(False, description="a submission was sent and no reply came back: the server may "
                                                     "have scored this episode")
    retry_of: str | None = Field(None, description="the episode id of the errored row this one replaces")

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.sample)

    @property
    def retryable(self) -> bool:
        """The agent or harness failed before any verdict, and no submission's fate is unknown: running
        it again gives the task its first scored episode (in benchmark mode too), never a second."""
        return self.error is not None and not self.submitted and not self.verdict_unknown


class RunDir:
    def __init__(self, path: Path):
        self.path = path
        self.results_path = path / "results.jsonl"
        self.metadata_path = path / "metadata.json"
        self.transcripts = path / "transcripts"

    def create(self) -> None:
        self.transcripts.mkdir(parents=True, exist_ok=True)

    def rows(self) -> list[ResultRow]:
        """The latest row of each (task, sample), in the order they were first finished."""
        latest: dict[tuple[str, int], ResultRow] = {}
        for row in self.history():
            latest[row.key] = row
        return list(latest.values())

    def history(self) -> list[ResultRow]:
        """Every complete row, rows replaced by a retry included (a line cut short by a kill is dropped,
        and truncated away)."""
        if not self.results_path.is_file():
            return []
        rows: list[ResultRow] = []
        good_bytes = 0
        with self.results_path.open("rb") as handle:
            for line in handle:
                try:
                    rows.append(ResultRow.model_validate_json(line))
                except ValueError:
                    break
                good_bytes += len(line)
        if good_bytes != self.results_path.stat().st_size:
            with self.results_path.open("r+b") as handle:
                handle.truncate(good_bytes)
        return rows

    def append(self, row: ResultRow) -> None:
        with self.results_path.open("a", encoding="utf-8") as handle:
            handle.write(row.model_dump_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def write_transcript(self, episode_id: str, messages: list[Message]) -> str:
        relative = f"transcripts/{episode_id}.json"
        (self.path / relative).write_text(json.dumps(messages, indent=1), encoding="utf-8")
        return relative

    def transcript(self, row: ResultRow) -> list[Message]:
        if not row.transcript:
            return []
        loaded: list[Message] = json.loads((self.path / row.transcript).read_text(encoding="utf-8"))
        return loaded

    def tool_specs(self) -> list[dict[str, Any]] | None:
        path = self.path / "tools.json"
        if not path.is_file():
            return None
        loaded: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    def write_tool_specs(self, specs: list[dict[str, Any]]) -> None:
        (self.path / "tools.json").write_text(json.dumps(specs, indent=1) + "\n", encoding="utf-8")

    def metadata(self) -> dict[str, Any]:
        if not self.metadata_path.is_file():
            return {}
        loaded: dict[str, Any] = json.loads(self.metadata_path.read_text(encoding="utf-8"))
        return loaded

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata_path.write_text(json.dumps(metadata, indent=2, default=str) + "\n", encoding="utf-8")
