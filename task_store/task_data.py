"""Data a single task needs beyond its dataset's: a BioDSBench task reads its own cBioPortal study.

The public BioDSBench records read `/workdir/<file>.csv`; a data directory keeps each study's files in
`biodsbench/data/<study_id>/`. A task whose study folder is missing is listed and readable but not
solvable here (`solvable: false`, with the reason and the fix, never a host path: they reach agents),
a submission to it is refused without using an attempt, and `medgym doctor` names the missing studies.
"""

from __future__ import annotations

import json
from pathlib import Path

from task_store.adapters.base import clean_id
from task_store.data import Availability
from task_store.models import Task

STUDY_DATASET = "biodsbench"
CATEGORY_PREFIX = "study "


def has_task_data(dataset: str) -> bool:
    """True for datasets whose tasks need data of their own (checked per category)."""
    return dataset == STUDY_DATASET


def study_of_category(dataset: str, category: str) -> str | None:
    """The study id of a BioDSBench task's category (`study <id>`)."""
    if not has_task_data(dataset) or not category.startswith(CATEGORY_PREFIX):
        return None
    return category.removeprefix(CATEGORY_PREFIX).strip() or None  # the adapter's clean_id of `study_ids`


def study_of(task: Task) -> str | None:
    """The study id of a BioDSBench task (its category is `study <id>`)."""
    return study_of_category(task.dataset, task.category)


def _present(directory: Path, study: str) -> bool:
    if study in {".", ".."}:
        return False
    folder = directory / "data" / study
    try:
        return folder.is_dir() and any(folder.iterdir())
    except OSError:
        return False


def category_missing(directory: Path | None, dataset: str, category: str) -> Availability | None:
    """Why tasks of this category cannot be solved here although their dataset can (None when they can)."""
    study = study_of_category(dataset, category)
    if study is None or directory is None or _present(directory, study):
        return None
    return Availability(False, f"the files of cBioPortal study {study}, which its tasks read, are not "
                               "installed here",
                        fix=f"the operator puts them in the data directory's {dataset}/data/{study}/ folder (see "
                            "`medgym doctor`)")


def task_data_missing(directory: Path | None, task: Task) -> str | None:
    """What this task needs and is missing here (None when nothing is); names no host path."""
    missing = category_missing(directory, task.dataset, task.category)
    return missing.reason if missing is not None else None


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
                studies.add(clean_id(record["study_ids"]))
    return sorted(s for s in studies if not _present(directory, s))
