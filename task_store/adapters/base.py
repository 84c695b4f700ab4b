"""What every dataset adapter provides, and the helpers they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from scoring.keys import AnswerKey
from task_store.models import AnswerFormat, AnswerKind, IndexedTask, Task


class Record(BaseModel):
    """Base of the per-dataset record models: required keys are checked, extra keys kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


@dataclass(frozen=True)
class DataSpec:
    """What a dataset needs at run time, under `<data root>/<dataset>/`.

    `files` is the allowlist of what the agent's sandbox sees (glob patterns relative to the
    dataset's folder: the files the upstream agent legitimately reads); nothing else is mounted.
    """

    summary: str
    files: tuple[str, ...] = ()  # glob patterns of the files and folders mounted into the sandbox
    required: tuple[str, ...] = ()  # glob patterns; the tasks are solvable when every one matches
    never_mount: tuple[str, ...] = ()  # glob patterns never mounted even when `files` matches them
    external: bool = False  # needs a service outside the data directory (never solvable from files alone)
    # Data files whose presence the task statements and keys depend on: the index re-reads the task
    # files when the set of matching files changes.
    indexed_with: tuple[str, ...] = ()
    fhir: bool = False  # its EHR is FHIR resources under fhir/, served to each episode by its own FHIR server


class Adapter(Protocol):
    """Turns one record of a dataset's task file into an `IndexedTask`."""

    name: ClassVar[str]
    description: ClassVar[str]
    answer_kinds: ClassVar[tuple[AnswerKind, ...]]
    data: ClassVar[DataSpec]

    def side_data(self, directory: Path) -> Mapping[str, str]:
        """Extra material read once per dataset directory (e.g. calculator summaries)."""
        ...

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        """Validate one record; raise `ValueError` (or pydantic's) when it is malformed."""
        ...


class NoSideData:
    """Mixin for adapters that need nothing besides the record."""

    def side_data(self, directory: Path) -> Mapping[str, str]:
        return {}


@dataclass(frozen=True)
class TaskParts:
    """The pieces an adapter fills in; `build` assembles the `IndexedTask`."""

    dataset: str
    split: str
    native_id: str
    category: str
    question: str
    key: AnswerKey
    kind: AnswerKind
    how_to_submit: str
    instructions: str = ""
    context: str | None = None
    title: str = ""

    def build(self) -> IndexedTask:
        task = Task(
            task_id=f"{self.dataset}/{self.split}/{self.native_id}",
            dataset=self.dataset,
            split=self.split,
            category=self.category or "uncategorised",
            title=one_line(self.title or self.question),
            question=self.question,
            context=self.context or None,
            instructions=self.instructions,
            answer_format=AnswerFormat(kind=self.kind, how_to_submit=self.how_to_submit),
            scorable=self.key.kind != "unscorable",
        )
        return IndexedTask(task=task, key=self.key)


def one_line(text: str, limit: int = 100) -> str:
    """The first line of `text`, shortened to `limit` characters."""
    line = " ".join(text.strip().split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def clean_id(value: object) -> str:
    """A native id usable inside a task id (no slashes or whitespace)."""
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return "".join(ch if ch.isalnum() or ch in "-_.~" else "_" for ch in text) or "_"
