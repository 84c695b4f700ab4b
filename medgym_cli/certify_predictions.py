"""Certify a prediction task: its reference solution, run in the sandbox, writes a predictions file
that must score correct; a constant and a random predictions file, scored directly, must not.
"""

from __future__ import annotations

import json
import random

from medgym.errors import AnswerFormatError, SandboxFileError
from sandbox.contract import Sandbox
from scoring.prediction_file import read_predictions
from scoring.prediction_keys import PredictionsKey, value_columns
from scoring.predictions import LabelSet, measure
from task_store.models import Task
from task_store.prediction_labels import load_labels
from tools.predictions import MAX_PREDICTIONS_BYTES, workspace_path

CLEAN = "import pathlib\nfor p in pathlib.Path('/workspace').glob('*.csv'):\n    p.unlink()\n"
RANDOM_SEED = 20250611


def baseline_files(key: PredictionsKey, labels: LabelSet) -> dict[str, bytes]:
    """A constant (0.5 everywhere) and a uniformly random predictions file over every test id."""
    columns = value_columns(key.target, labels.classes)
    rng = random.Random(RANDOM_SEED)
    header = ",".join([*key.id_columns, *columns])
    constant = [",".join([*ids, *("0.5" for _ in columns)]) for ids in labels.ids]
    noise = [",".join([*ids, *(f"{rng.random():.6f}" for _ in columns)]) for ids in labels.ids]
    return {name: "\n".join([header, *rows]).encode() for name, rows in (("constant", constant), ("random", noise))}


def area(key: PredictionsKey, labels: LabelSet, data: bytes) -> float:
    """The file's AUROC (macro over outputs)."""
    table = read_predictions(data, key.id_columns, value_columns(key.target, labels.classes))
    return measure(key, labels, table).auroc


def check_predictions(sandbox: Sandbox, task: Task, key: PredictionsKey, solution: str | None,
                      timeout_s: float) -> tuple[bool, bool, str]:
    """(reference correct, baselines incorrect, detail with the AUROC figures)."""
    labels = load_labels(None, key)
    baselines = {name: area(key, labels, data) for name, data in baseline_files(key, labels).items()}
    baselines_ok = all(value < key.threshold for value in baselines.values())
    figures = ", ".join(f"{name} {value:.3f}" for name, value in baselines.items())
    if not solution:
        return False, baselines_ok, "no reference solution"
    reference, why = _reference_area(sandbox, key, labels, solution, timeout_s)
    if reference is None:
        return False, baselines_ok, why
    ok = reference >= key.threshold
    verdict = "ok" if ok and baselines_ok else ("a baseline scores correct" if ok else "reference incorrect")
    return ok, baselines_ok, f"{verdict} (AUROC: reference {reference:.3f}, {figures}; threshold {key.threshold:.3f})"


def _reference_area(sandbox: Sandbox, key: PredictionsKey, labels: LabelSet, solution: str,
                    timeout_s: float) -> tuple[float | None, str]:
    sandbox.run(CLEAN, 30.0, 4096)  # a file left by the previous task must not be scored for this one
    result = sandbox.run(solution, timeout_s, 1 << 20)
    lines = result.stdout.strip().splitlines()
    if result.exit_code != 0 or not lines:
        return None, f"reference exited {result.exit_code}: {result.stderr.strip()[-300:]}"
    try:
        data = sandbox.read_file(workspace_path(json.loads(lines[-1])), MAX_PREDICTIONS_BYTES)
        return area(key, labels, data), ""
    except (ValueError, AnswerFormatError, SandboxFileError) as exc:
        return None, f"the reference's predictions file is unusable: {exc}"
