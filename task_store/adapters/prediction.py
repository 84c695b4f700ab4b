"""Prediction datasets: EHRSHOT and MIMIC-Extract (train a model, predict for every test patient).

Data layout, as the upstream MedAgentGym tasks read it (`ehr_gym/env/task/ehrshot.py`,
`mimic_extract.py`), under the data directory:

    ehrshot/clmbr_{train,val,test}.pkl                    dict: data_matrix, patient_ids, labeling_time
    ehrshot/<task_name>/{train,val,test}_labels.csv       patient_id, value, label_type, prediction_time
    mimic_extract/<feature_label_directory>/X_lab_{train,val,test}.pkl       hourly lab features (DataFrame)
    mimic_extract/<feature_label_directory>/X_static_{train,val,test}.pkl    demographics (interventions)
    mimic_extract/<feature_label_directory>/{train,val,test}_<task>_labels.csv
        mortality / length of stay: subject_id, hadm_id, <task>, label_type
        vasopressor / ventilation:  subject_id, 6_hour_window_id, intervention_category, label_type

Features and train/validation labels are mounted (an allowlist); test labels never are: the
server scores the agent's predictions file against them (`scoring.predictions`).

Thresholds: MIMIC-Extract records carry the upstream baseline's `performance` (a random forest's
AUC, AUPRC, ACC, F1): a submission is correct when its AUROC reaches that AUC. EHRSHOT records
carry none: medgym uses a fixed AUROC of 0.70 (macro for multiclass / multilabel tasks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from scoring.keys import AnswerKey, UnscorableKey
from scoring.prediction_keys import LabelFile, PredictionsKey, Target
from task_store.adapters.base import DataSpec, Record, TaskParts, clean_id
from task_store.models import AnswerKind, IndexedTask
from task_store.pack.predict_text import data_lines, missing_text, output_text, question_text

EHRSHOT_THRESHOLD = 0.70
FALLBACK_THRESHOLD = 0.70
_HOW = 'the name of the predictions file you wrote in /workspace, e.g. "predictions.csv"'
_WAY = re.compile(r"(\d+)-way (multiclass|multilabel)", re.IGNORECASE)
INTERVENTIONS = frozenset({"vasopressor", "ventilation"})


class EHRSHOTRecord(Record):
    task_id: int | str
    task_name: str
    task_description: str


class MIMICExtractRecord(Record):
    task_name: str
    task_description: str
    task_category: str = ""
    feature_label_directory: str = ""
    model: str = ""
    performance: dict[str, float] = Field(default_factory=dict)


def present_files(directory: Path, patterns: tuple[str, ...]) -> dict[str, str]:
    """The data files matching `patterns`, by path relative to `directory` (what statements may name)."""
    return {p.relative_to(directory).as_posix(): "" for pattern in patterns for p in directory.glob(pattern)}


def _folder(name: str) -> str:
    """A record's folder name, refused when it could leave the dataset folder."""
    folder = name.strip().removeprefix("./").strip("/")
    if not folder or ".." in folder.split("/") or clean_id(folder.replace("/", "_")) != folder.replace("/", "_"):
        raise ValueError(f"unusable folder name {name!r}")
    return folder


def _statement(dataset: str, files: list[tuple[str, str]], side: Mapping[str, str], needed: list[str],
               key: PredictionsKey, guidance: str, classes_note: str = "") -> tuple[str, AnswerKey]:
    """Instructions naming the present files only, and the key (unscorable without the data or test labels)."""
    missing = [name for name in needed if name not in side]
    if missing:
        return missing_text(dataset, missing, "the data"), UnscorableKey(reason="its data is not installed here")
    shown = data_lines(dataset, [(path, what) for path, what in files if path in side])
    text = f"Data (read-only):\n{shown}\n{guidance}\n{output_text(key, classes_note)}"
    assert isinstance(key.labels, LabelFile)
    if key.labels.path not in side:
        text += "\n" + missing_text(dataset, [key.labels.path], "the test labels")
        return text, UnscorableKey(reason="its test labels are not installed here")
    return text, key


class EHRSHOT:
    name: ClassVar[str] = "ehrshot"
    description: ClassVar[str] = "EHRSHOT: few-shot clinical prediction from CLMBR patient features"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("predictions",)
    data: ClassVar[DataSpec] = DataSpec(
        summary="CLMBR feature pickles clmbr_{train,val,test}.pkl and <task>/{train,val,test}_labels.csv",
        required=("clmbr_train.pkl", "clmbr_test.pkl", "*/train_labels.csv"),
        files=("clmbr_*.pkl", "*/train_labels.csv", "*/val_labels.csv"), never_mount=("test_*",),
        indexed_with=("clmbr_*.pkl", "*/*_labels.csv"))

    def side_data(self, directory: Path) -> Mapping[str, str]:
        return present_files(directory, self.data.indexed_with)

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = EHRSHOTRecord.model_validate(raw)
        task = _folder(rec.task_name)
        target, classes = ehrshot_target(rec.task_description)
        key = PredictionsKey(
            id_columns=["patient_id"], target=target, classes=classes, unit="patient", extra_ids="ignore",
            labels=LabelFile(path=f"{task}/test_labels.csv", id_columns=["patient_id"], label_column="value",
                             latest_by="prediction_time"),
            threshold=EHRSHOT_THRESHOLD, threshold_rule="medgym's fixed threshold for EHRSHOT tasks")
        instructions, final = _statement(self.name, _ehrshot_files(task), side, _ehrshot_needed(task), key,
                                         _ehrshot_guidance(target))
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.task_id), category=rec.task_name,
            question=question_text(rec.task_description), key=final, kind="predictions", how_to_submit=_HOW,
            instructions=instructions, title=f"{rec.task_name}: {rec.task_description}",
        ).build()


    def task_files(self, raw: dict[str, Any]) -> list[str]:
        """The files a record's task needs: features, training labels and (server side) test labels."""
        task = _folder(EHRSHOTRecord.model_validate(raw).task_name)
        return [*_ehrshot_needed(task), f"{task}/test_labels.csv"]


def _ehrshot_needed(task: str) -> list[str]:
    return ["clmbr_train.pkl", "clmbr_test.pkl", f"{task}/train_labels.csv"]


def ehrshot_target(description: str) -> tuple[Target, list[str]]:
    """binary, or N-way multiclass (classes 0..N-1) / multilabel (bits 0..N-1), from the description."""
    match = _WAY.search(description)
    if match is None:
        return "binary", []
    target: Target = "multiclass" if match.group(2).lower() == "multiclass" else "multilabel"
    return target, [str(k) for k in range(int(match.group(1)))]


def _ehrshot_files(task: str) -> list[tuple[str, str]]:
    pickled = ("a pickled dict (pandas.read_pickle) with data_matrix (one CLMBR feature vector per row), "
               "patient_ids and labeling_time (each row's time)")
    labels = "patient_id, value (the label), label_type, prediction_time"
    return [("clmbr_train.pkl", f"training features: {pickled}"), ("clmbr_val.pkl", "validation features, same layout"),
            ("clmbr_test.pkl", "test features, same layout: the patients to predict"),
            (f"{task}/train_labels.csv", f"training labels: {labels}"),
            (f"{task}/val_labels.csv", "validation labels, same columns")]


def _ehrshot_guidance(target: Target) -> str:
    value = {"binary": "value is true/false", "multiclass": "value is the class number",
             "multilabel": "value is an integer bitmask of the labels (bit k set: label k present)"}[target]
    return (f"The test labels stay on the server. A label row matches a feature row by patient_id and "
            f"prediction_time = labeling_time; {value}. Predict once per test patient (the distinct patient_ids "
            "of clmbr_test.pkl): a patient with several test labels is scored on the label at their latest "
            "prediction_time, and rows for patients without a test label for this task are ignored.")


class MIMICExtract:
    name: ClassVar[str] = "mimic_extract"
    description: ClassVar[str] = "MIMIC-Extract: mortality, length-of-stay and intervention prediction"
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("predictions",)
    data: ClassVar[DataSpec] = DataSpec(
        summary="feature pickles <dir>/X_lab_*.pkl (+ X_static_*.pkl) and <dir>/{train,val,test}_<task>_labels.csv",
        required=("*/X_lab_train.pkl", "*/X_lab_test.pkl", "*/train_*_labels.csv"),
        files=("*/X_*.pkl", "*/train_*_labels.csv", "*/val_*_labels.csv"), never_mount=("test_*",),
        indexed_with=("*/X_*.pkl", "*/*_labels.csv"))

    def side_data(self, directory: Path) -> Mapping[str, str]:
        return present_files(directory, self.data.indexed_with)

    def parse(self, raw: dict[str, Any], split: str, row: int, side: Mapping[str, str]) -> IndexedTask:
        rec = MIMICExtractRecord.model_validate(raw)
        task, folder = _mimic_names(rec)
        interventions = task in INTERVENTIONS
        key = mimic_extract_key(rec, folder, task, interventions)
        files = _mimic_extract_files(folder, task, interventions)
        needed = _mimic_needed(folder, task)
        note = (" The classes c are the intervention_category values of the training labels." if interventions
                else "")
        instructions, final = _statement(self.name, files, side, needed, key, _mimic_guidance(interventions), note)
        return TaskParts(
            dataset=self.name, split=split, native_id=clean_id(rec.task_name),
            category=rec.task_category or "prediction", question=rec.task_description, key=final,
            kind="predictions", how_to_submit=_HOW, instructions=instructions,
            title=f"{rec.task_name}: {rec.task_description}",
        ).build()


    def task_files(self, raw: dict[str, Any]) -> list[str]:
        """The files a record's task needs: features, training labels and (server side) test labels."""
        task, folder = _mimic_names(MIMICExtractRecord.model_validate(raw))
        return [*_mimic_needed(folder, task), f"{folder}/test_{task}_labels.csv"]


def _mimic_names(rec: MIMICExtractRecord) -> tuple[str, str]:
    """(task name, feature/label folder), both safe to join to the dataset folder."""
    task = _folder(rec.task_name)
    default = "vasopressor_ventilation" if task in INTERVENTIONS else "mortality_los"
    return task, _folder(rec.feature_label_directory or default)


def _mimic_needed(folder: str, task: str) -> list[str]:
    return [f"{folder}/X_lab_train.pkl", f"{folder}/X_lab_test.pkl", f"{folder}/train_{task}_labels.csv"]


def mimic_extract_key(rec: MIMICExtractRecord, folder: str, task: str, interventions: bool) -> PredictionsKey:
    """Mortality / length of stay: one probability per patient; interventions: one per class per window."""
    baseline = rec.performance.get("AUC")
    rule = (f"the AUROC of the upstream {rec.model or 'baseline'} model recorded for this task" if baseline
            else "medgym's fixed threshold: this record carries no baseline AUROC")
    path = f"{folder}/test_{task}_labels.csv"
    if interventions:
        labels = LabelFile(path=path, id_columns=["subject_id", "6_hour_window_id"],
                           label_column="intervention_category")
        return PredictionsKey(id_columns=["subject_id", "window_idx"], target="multiclass", labels=labels,
                              threshold=baseline or FALLBACK_THRESHOLD, threshold_rule=rule, unit="window",
                              extra_ids="ignore")
    labels = LabelFile(path=path, id_columns=["subject_id"], label_column=task)
    return PredictionsKey(id_columns=["subject_id"], labels=labels, threshold=baseline or FALLBACK_THRESHOLD,
                          threshold_rule=rule, unit="patient", extra_ids="ignore")


def _mimic_extract_files(folder: str, task: str, interventions: bool) -> list[tuple[str, str]]:
    lab = ("a pickled pandas DataFrame: subject_id, hadm_id, icustay_id, hours_in, then (count, mean, std) of "
           "each measurement, imputed")
    files = [(f"{folder}/X_lab_{s}.pkl", f"{name} lab features: {lab}" if s == "train" else f"{name} lab features")
             for s, name in (("train", "training"), ("val", "validation"), ("test", "test"))]
    if interventions:
        files += [(f"{folder}/X_static_{s}.pkl", f"{name} demographics (one-hot gender, age group, ethnicity, "
                   "first care unit; intime)") for s, name in (("train", "training"), ("val", "validation"),
                                                                ("test", "test"))]
    columns = ("subject_id, 6_hour_window_id, intervention_category, label_type" if interventions
               else f"subject_id, hadm_id, {task}, label_type")
    return [*files, (f"{folder}/train_{task}_labels.csv", f"training labels: {columns}"),
            (f"{folder}/val_{task}_labels.csv", "validation labels, same columns")]


def _mimic_guidance(interventions: bool) -> str:
    if interventions:
        return ("The test labels stay on the server. Predict for every (subject_id, window) of the test patients: "
                "window_idx in your file is the label files' 6_hour_window_id.")
    return "The test labels stay on the server. Predict once per test patient (subject_id of X_lab_test.pkl)."
