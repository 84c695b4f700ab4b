"""A small synthetic MedAgentGym data directory for EHRSHOT and MIMIC-Extract, in the upstream layout
(the real data needs a data-use agreement and is not here).

The task records are the public ones (read from `../shared/medagentgym/`, written only to a
temporary folder). Features are random with a planted signal. The pickles hold plain Python dicts
and lists: pandas / numpy pickles written by the host's newer versions would not load in the
sandbox image's older ones (the real files are pandas DataFrames / numpy arrays; agents load both
with `pandas.read_pickle`).
"""

from __future__ import annotations

import csv
import math
import pickle
import random
import shutil
from pathlib import Path

DIM = 6
SPLITS = (("train", 240), ("val", 60), ("test", 120))


def _vector(rng: random.Random) -> list[float]:
    return [round(rng.gauss(0, 1), 4) for _ in range(DIM)]


def _binary(x: list[float], rng: random.Random, strength: float = 3.0) -> int:
    return int(rng.random() < 1 / (1 + math.exp(-strength * (x[0] - 0.7 * x[1]))))


def _class(x: list[float], rng: random.Random, strength: float = 3.0, classes: int = 4) -> int:
    scores = [strength * x[k] - math.log(-math.log(rng.random())) for k in range(classes)]
    return max(range(classes), key=scores.__getitem__)


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def build_ehrshot(root: Path, shared: Path, seed: int = 5) -> None:
    """clmbr_{split}.pkl plus labels for guo_los (binary) and lab_anemia (4 classes); chexpert has none."""
    rng = random.Random(seed)
    folder = root / "ehrshot"
    folder.mkdir(parents=True)
    shutil.copy(shared / "ehrshot" / "task.jsonl", folder / "task.jsonl")
    patient = 1000
    for split, count in SPLITS:
        matrix, ids, times = [], [], []
        los, anemia = [], []
        for _ in range(count):
            patient += 1
            for visit in range(2 if rng.random() < 0.2 else 1):  # some patients have two labelled times
                x, when = _vector(rng), f"201{visit}-06-01 23:59:00"
                matrix.append(x)
                ids.append(patient)
                times.append(when)
                los.append([patient, bool(_binary(x, rng)), "boolean", when])
                anemia.append([patient, _class(x, rng), "categorical", when])
        extra = patient + 100_000  # a test patient with features but no label for these tasks
        matrix.append(_vector(rng))
        ids.append(extra)
        times.append("2012-01-01 23:59:00")
        with (folder / f"clmbr_{split}.pkl").open("wb") as handle:
            pickle.dump({"data_matrix": matrix, "patient_ids": ids, "labeling_time": times}, handle, protocol=4)
        header = ["patient_id", "value", "label_type", "prediction_time"]
        _csv(folder / "guo_los" / f"{split}_labels.csv", header, los)  # type: ignore[arg-type]
        _csv(folder / "lab_anemia" / f"{split}_labels.csv", header, anemia)  # type: ignore[arg-type]


def build_mimic_extract(root: Path, shared: Path, seed: int = 6) -> None:
    """mortality_los (mort_hosp scorable; los_3 without test labels) and vasopressor_ventilation windows."""
    rng = random.Random(seed)
    folder = root / "mimic_extract"
    folder.mkdir(parents=True)
    shutil.copy(shared / "mimic_extract" / "train_tasks.jsonl", folder / "train_tasks.jsonl")
    subject = 5000
    for split, count in SPLITS:
        lab: dict[str, list[object]] = {"subject_id": [], "hadm_id": [], "icustay_id": [], "hours_in": [],
                                        **{f"f{k}": [] for k in range(DIM)}}
        windows: dict[str, list[object]] = {key: [] for key in lab}
        static: dict[str, list[object]] = {"subject_id": [], "gender_F": [], "gender_M": []}
        mort, los, vaso = [], [], []
        for _ in range(count):
            subject += 1
            x = _vector(rng)
            _append(lab, subject, 0, x)
            mort.append([subject, subject + 1, _binary(x, rng, 6.0), "boolean"])
            los.append([subject, subject + 1, _binary(x, rng), "boolean"])
            female = rng.random() < 0.5
            for column, value in (("subject_id", subject), ("gender_F", female), ("gender_M", not female)):
                static[column].append(value)
            for window in range(2):
                w = _vector(rng)
                _append(windows, subject, window, w)
                vaso.append([subject, window, _class(w, rng, 6.0) + 1, "categorical"])  # classes 1..4
        _pickle(folder / "mortality_los" / f"X_lab_{split}.pkl", lab)
        _pickle(folder / "vasopressor_ventilation" / f"X_lab_{split}.pkl", windows)
        _pickle(folder / "vasopressor_ventilation" / f"X_static_{split}.pkl", static)
        _csv(folder / "mortality_los" / f"{split}_mort_hosp_labels.csv", ["subject_id", "hadm_id", "mort_hosp",
                                                                         "label_type"], mort)
        if split != "test":  # los_3 has no test labels on this server
            _csv(folder / "mortality_los" / f"{split}_los_3_labels.csv", ["subject_id", "hadm_id", "los_3",
                                                                         "label_type"], los)
        _csv(folder / "vasopressor_ventilation" / f"{split}_vasopressor_labels.csv",
             ["subject_id", "6_hour_window_id", "intervention_category", "label_type"], vaso)


def _append(table: dict[str, list[object]], subject: int, hour: int, x: list[float]) -> None:
    for column, value in (("subject_id", subject), ("hadm_id", subject + 1), ("icustay_id", subject + 2),
                          ("hours_in", hour)):
        table[column].append(value)
    for k, value in enumerate(x):
        table[f"f{k}"].append(value)


def _pickle(path: Path, table: dict[str, list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump(table, handle, protocol=4)


def hidden_label_lines(root: Path) -> set[str]:
    """Every data line of every test label file (what must never reach an agent)."""
    return {line.strip() for path in root.rglob("test_*labels.csv") for line in path.read_text().splitlines()[1:]}
