"""`medgym_predict`: prediction tasks over the synthetic EHR, with planted labels and hidden test labels.

    medgym_predict/
        FEATURES.md                                   what every feature column is
        admissions/X_train.csv, X_test.csv            hadm_id, subject_id, 22 features
        admissions/train_<outcome>_labels.csv         hadm_id, <outcome> (0/1)
        icustays/X_train.csv, X_test.csv              icustay_id, subject_id, hadm_id, 19 features
        icustays/train_<outcome>_labels.csv           icustay_id, <outcome> (0/1)
        train_tasks.jsonl, test_tasks.jsonl           (task files: never mounted)

The split is by patient (about 30% of patients are test patients), so no patient is on both
sides. Test labels exist only in the task's key (`InlineLabels`), never in a file under the
dataset folder. A task is correct when the AUROC reaches the AUROC that the hidden generating
model itself gets on the test set minus `MARGIN` (rounded down to 0.01, at least 0.60).

The reference solution (certification and the oracle agent) is a median-impute + standardise +
logistic-regression pipeline in scikit-learn: it writes /workspace/predictions.csv and prints the
file name as JSON on its last line, which is what `submit_answer` takes for this kind.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

from scoring.auroc import auroc
from scoring.prediction_keys import InlineLabels, PredictionsKey
from task_store.models import AnswerFormat, IndexedTask, Task
from task_store.pack.build import hash_split
from task_store.pack.predict_features import Cohort, Value, admission_cohort, icu_cohort
from task_store.pack.predict_outcomes import OUTCOMES, Outcome, draw
from task_store.pack.predict_text import FEATURES_MD, INTRO, PREDICTIONS_FILE, output_text, reference_solution

DATASET = "medgym_predict"
MARGIN = 0.06
TEST_SHARE = 3  # of 10 patients
_HOW = f'the name of the predictions file you wrote in /workspace: "{PREDICTIONS_FILE}"'


def is_test_patient(seed: int, subject_id: int) -> bool:
    return int(hashlib.sha256(f"{seed}:{subject_id}".encode()).hexdigest()[:8], 16) % 10 < TEST_SHARE


def build_predict_tasks(seed: int, ehr_dir: Path, out_dir: Path) -> list[IndexedTask]:
    """Write the feature and training-label files under `out_dir`; return the tasks (with their keys)."""
    cohorts = {c.name: c for c in (admission_cohort(ehr_dir), icu_cohort(ehr_dir))}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "FEATURES.md").write_text(FEATURES_MD, encoding="utf-8")
    for cohort in cohorts.values():
        _write_features(out_dir / cohort.name, cohort, seed)
    return [_task(cohorts[o.cohort], o, seed, out_dir / o.cohort) for o in OUTCOMES]


def _write_features(folder: Path, cohort: Cohort, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = [*cohort.id_columns, *cohort.features]
    for split, test in (("train", False), ("test", True)):
        rows = [[*ids, *(_cell(v) for v in values)] for ids, values in cohort.rows
                if is_test_patient(seed, ids[1]) == test]
        _write_csv(folder / f"X_{split}.csv", header, rows)


def _cell(value: Value) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else repr(round(value, 3))


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _task(cohort: Cohort, outcome: Outcome, seed: int, folder: Path) -> IndexedTask:
    probabilities, labels = draw(cohort, outcome, seed)
    test = [is_test_patient(seed, ids[1]) for ids, _ in cohort.rows]
    train_rows = [[ids[0], label] for (ids, _), label, t in zip(cohort.rows, labels, test, strict=True) if not t]
    _write_csv(folder / f"train_{outcome.name}_labels.csv", [cohort.id_column, outcome.name], train_rows)
    test_ids = [str(ids[0]) for (ids, _), t in zip(cohort.rows, test, strict=True) if t]
    test_labels = [label for label, t in zip(labels, test, strict=True) if t]
    oracle = auroc([p for p, t in zip(probabilities, test, strict=True) if t], [y == 1 for y in test_labels])
    assert oracle is not None, f"{outcome.name}: a single class in the test set"
    threshold = max(0.60, math.floor((oracle - MARGIN) * 100) / 100)
    key = PredictionsKey(
        id_columns=[cohort.id_column], labels=InlineLabels(ids=test_ids, hidden_labels=test_labels),
        threshold=threshold, unit=cohort.unit, extra_ids="error",
        threshold_rule=f"the test AUROC of the hidden model that drew the labels, {oracle:.3f}, minus {MARGIN}, "
                       "rounded down")
    return _indexed(cohort, outcome, key)


def _indexed(cohort: Cohort, outcome: Outcome, key: PredictionsKey) -> IndexedTask:
    split = hash_split(f"{DATASET}/{outcome.name}")
    folder = f"/data/{DATASET}/{cohort.name}"
    ids = ", ".join(cohort.id_columns)
    data = (f"Data (read-only):\n"
            f"- {folder}/X_train.csv: the training {cohort.unit}s: {ids}, then {len(cohort.features)} features "
            f"(described in /data/{DATASET}/FEATURES.md); an empty cell is a missing value\n"
            f"- {folder}/X_test.csv: the test {cohort.unit}s, same columns: predict for every row\n"
            f"- {folder}/train_{outcome.name}_labels.csv: {cohort.id_column}, {outcome.name} (1 or 0) for every "
            f"training {cohort.unit}. The test labels stay on the server.")
    task = Task(
        task_id=f"{DATASET}/{split}/{outcome.name}", dataset=DATASET, split=split, category=outcome.name,
        title=f"{outcome.name}: predict {outcome.title} for every test {cohort.unit}",
        question=f"{outcome.question} Predict the probability of {outcome.title} for every {cohort.unit} of the "
                 "test set.",
        instructions=f"{INTRO.format(unit=cohort.unit)}\n{data}\n{output_text(key)}",
        answer_format=AnswerFormat(kind="predictions", how_to_submit=_HOW),
    )
    return IndexedTask(task=task, key=key, source=f"pack:{DATASET}/{outcome.name}",
                       reference_solution=reference_solution(cohort.name, cohort.id_columns, outcome.name))
