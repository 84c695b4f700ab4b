"""Find a data directory's task files and read their records through the dataset adapters.

A malformed record (bad JSON, a missing or mistyped key) is reported with its file and line
and skipped; every other record of the file still loads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from task_store.adapters import ADAPTERS, Adapter
from task_store.models import IndexedTask

log = logging.getLogger(__name__)

SPLIT_FILES = ("train_tasks.jsonl", "test_tasks.jsonl", "valid_tasks.jsonl", "task.jsonl")
TASK_FILE_PATTERNS = ("*_tasks.jsonl", "*_tasks.csv", "*_tasks.json", "task.jsonl", "task.json")


@dataclass(frozen=True)
class TaskFile:
    dataset: str
    split: str
    path: Path


@dataclass(frozen=True)
class LoadError:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def split_of_file(path: Path) -> str:
    """`valid_tasks.jsonl` is the test split of EHRSQL-style datasets unless a test file exists."""
    name = path.name
    if name == "task.jsonl":
        return "test"
    if name == "valid_tasks.jsonl":
        return "valid" if (path.parent / "test_tasks.jsonl").exists() else "test"
    return name.removesuffix("_tasks.jsonl")


def discover(root: Path) -> list[TaskFile]:
    """Every split file of every known dataset under `root`, in a stable order."""
    found: list[TaskFile] = []
    for dataset in sorted(ADAPTERS):
        directory = root / dataset
        for name in SPLIT_FILES:
            path = directory / name
            if path.is_file():
                found.append(TaskFile(dataset, split_of_file(path), path))
    return found


def read_file(task_file: TaskFile, errors: list[LoadError]) -> Iterator[tuple[int, IndexedTask]]:
    """(line number, task) for every valid record; malformed ones go to `errors`."""
    adapter: Adapter = ADAPTERS[task_file.dataset]
    side = adapter.side_data(task_file.path.parent)
    with task_file.path.open(encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                if not isinstance(raw, dict):
                    raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
                yield line_no, adapter.parse(raw, task_file.split, line_no, side)
            except (ValueError, ValidationError, TypeError) as exc:
                error = LoadError(str(task_file.path), line_no, _brief(exc))
                log.warning("skipped malformed record %s", error)
                errors.append(error)


def _brief(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()[:3]]
        return "invalid record: " + "; ".join(parts)
    return f"{type(exc).__name__}: {exc}"[:300]
