"""Data a single task needs beyond its dataset's: a BioDSBench task reads its own cBioPortal study.

The public BioDSBench records read `/workdir/<file>.csv`; a data directory keeps each study's files in
`biodsbench/data/<study_id>/`. A task whose study folder is missing is listed and readable but not
solvable here (`data_available: false`), and `medgym doctor` names the missing studies.
"""

from __future__ import annotations

import json
from pathlib import Path

from task_store.models import Task

STUDY_DATASET = "biodsbench"


def study_of(task: Task) -> str | None:
    """The study id of a BioDSBench task (its category is `study <id>`)."""
    if task.dataset != STUDY_DATASET or not task.category.startswith("study "):
        return None
    return task.category.removeprefix("study ").strip()


def _present(directory: Path, study: str) -> bool:
    folder = directory / "data" / study
    return folder.is_dir() and any(folder.iterdir())


def task_data_missing(directory: Path | None, task: Task) -> str | None:
    """What this task needs and is missing here (None when nothing is)."""
    study = study_of(task)
    if study is None or directory is None or _present(directory, study):
        return None
    return f"the files of cBioPortal study {study} (expected in {directory / 'data' / study}/)"


def missing_studies(directory: Path) -> list[str]:
    """Studies that the dataset's task files use and whose folder is missing (for `medgym doctor`)."""
    studies: set[str] = set()
    for path in sorted(directory.glob("*_tasks.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("study_ids") is not None:
                studies.add(str(record["study_ids"]).strip())
    return sorted(s for s in studies if not _present(directory, s))
