"""The public task model: everything here may be shown to an agent.

Hidden material (answer keys, reference solutions, SQL) is kept apart, in `IndexedTask`, which
only the store and the scoring side ever see.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scoring.keys import AnswerKey

AnswerKind = Literal[
    "number", "integer", "date", "gestational_age", "list", "boolean", "text", "code", "predictions"
]


class DataFile(BaseModel):
    """A file or folder the task's code can read inside the sandbox."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="absolute path inside the sandbox, under /data/<dataset>/")
    description: str


class AnswerFormat(BaseModel):
    """What kind of answer a task takes and how to submit it with `submit_answer`."""

    model_config = ConfigDict(frozen=True)

    kind: AnswerKind
    how_to_submit: str


class Task(BaseModel):
    """One task instance, as an agent may see it. Never carries ground truth."""

    model_config = ConfigDict(frozen=True)

    task_id: str = Field(description="<dataset>/<split>/<native id or row>")
    dataset: str
    split: str
    category: str
    title: str = Field(description="one line, for listings")
    question: str
    context: str | None = Field(None, description="material the question refers to, e.g. the patient note")
    instructions: str = Field("", description="dataset-specific guidance for the agent")
    answer_format: AnswerFormat
    scorable: bool = True


class IndexedTask(BaseModel):
    """A task together with its hidden parts, as the store keeps it. Server side only."""

    model_config = ConfigDict(frozen=True)

    task: Task
    key: AnswerKey
    reference_solution: str | None = Field(
        None, description="Python whose last stdout line is the answer as JSON (built-in pack); for a code task "
                          "(answer kind `code`) the code to submit itself (also BioCoder/BioDSBench records)"
    )
    source: str = Field("", description="file:line the record came from")
