"""Which data files the prediction datasets' tasks need and this data directory lacks (`medgym doctor`)."""

from __future__ import annotations

import json
from pathlib import Path

from task_store.adapters.prediction import EHRSHOT, MIMICExtract
from task_store.loader import SPLIT_FILES

_PREDICTION: dict[str, EHRSHOT | MIMICExtract] = {"ehrshot": EHRSHOT(), "mimic_extract": MIMICExtract()}


def missing_files(directory: Path, dataset: str) -> list[str]:
    """Feature, training-label and test-label files named by the dataset's task records but not present."""
    adapter = _PREDICTION.get(dataset)
    if adapter is None:
        return []
    needed: set[str] = set()
    for name in SPLIT_FILES:
        path = directory / name
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []:
            try:
                needed.update(adapter.task_files(json.loads(line)))
            except ValueError:  # a malformed record is reported by `medgym datasets`
                continue
    return sorted(name for name in needed if not (directory / name).is_file())
