"""Features of the `medgym_predict` cohorts, computed from the synthetic EHR tables of `medgym_ehr`.

Two cohorts: finished hospital admissions (one row per `hadm_id`) and finished ICU stays (one row
per `icustay_id`). Features are what a MIMIC-style model would start from: demographics,
admission type, counts of coded events, and means of labs (per admission) and vital signs (per
ICU stay). A lab or vital sign never measured is a missing value (an empty CSV cell).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

Value = float | None

LABS = {"creatinine": "50912", "potassium": "50971", "sodium": "50983", "glucose": "50931", "hemoglobin": "51222",
        "wbc": "51301", "bun": "51006", "platelets": "51265", "albumin": "50862", "lactate": "50813",
        "bilirubin": "50885"}
VITALS = {"heart_rate": ("211",), "sbp": ("51", "455"), "resp_rate": ("618",), "spo2": ("646",),
          "temperature": ("676",), "gcs": ("198",)}
UNITS = ("micu", "sicu", "ccu", "csru")  # tsicu is the reference unit
ICU_LABS = ("creatinine", "lactate", "wbc", "bun")


@dataclass(frozen=True)
class Cohort:
    """One row per unit: its id columns (the first is the unit's id), then its features."""

    name: str
    unit: str
    id_columns: tuple[str, ...]
    features: tuple[str, ...]
    rows: tuple[tuple[tuple[int, ...], tuple[Value, ...]], ...]

    @property
    def id_column(self) -> str:
        return self.id_columns[0]


def read_table(ehr: Path, table: str) -> Iterator[dict[str, str]]:
    with (ehr / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def means(rows: Iterable[dict[str, str]], by: str, items: dict[str, tuple[str, ...]]) -> dict[tuple[str, str], float]:
    """(row[by], feature) -> mean valuenum of the feature's item ids."""
    feature_of = {itemid: name for name, ids in items.items() for itemid in ids}
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        name = feature_of.get(row["itemid"])
        if name is not None and row["valuenum"] and row[by]:
            acc = sums[(row[by], name)]
            acc[0] += float(row["valuenum"])
            acc[1] += 1
    return {key: round(total / n, 3) for key, (total, n) in sums.items()}


def admission_cohort(ehr: Path) -> Cohort:
    gender = {r["subject_id"]: r["gender"] for r in read_table(ehr, "PATIENTS")}
    admissions = list(read_table(ehr, "ADMISSIONS"))
    counts = {t: Counter(r["hadm_id"] for r in read_table(ehr, t))
              for t in ("DIAGNOSES_ICD", "PROCEDURES_ICD", "PRESCRIPTIONS", "LABEVENTS", "ICUSTAYS")}
    labs = means(read_table(ehr, "LABEVENTS"), "hadm_id", {k: (v,) for k, v in LABS.items()})
    prior = _prior_admissions(admissions)
    rows = []
    for adm in (a for a in admissions if a["dischtime"]):
        hadm = adm["hadm_id"]
        base: list[Value] = [float(adm["age"]), float(gender[adm["subject_id"]] == "m"),
                             float(adm["admission_type"] == "emergency"), float(adm["admission_type"] == "elective"),
                             float(adm["insurance"] == "medicare"), float(prior[hadm])]
        base += [float(counts[t][hadm]) for t in counts]
        rows.append(((int(hadm), int(adm["subject_id"])), (*base, *(labs.get((hadm, lab)) for lab in LABS))))
    features = ("age", "gender_m", "emergency", "elective", "medicare", "prior_admissions", "n_diagnoses",
                "n_procedures", "n_prescriptions", "n_lab_tests", "icu_stays", *(f"lab_{lab}" for lab in LABS))
    return Cohort("admissions", "admission", ("hadm_id", "subject_id"), features, tuple(sorted(rows)))


def _prior_admissions(admissions: list[dict[str, str]]) -> dict[str, int]:
    """hadm_id -> how many earlier admissions its patient had."""
    by_subject: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for adm in admissions:
        by_subject[adm["subject_id"]].append((adm["admittime"], adm["hadm_id"]))
    return {hadm: k for stays in by_subject.values() for k, (_, hadm) in enumerate(sorted(stays))}


def icu_cohort(ehr: Path) -> Cohort:
    gender = {r["subject_id"]: r["gender"] for r in read_table(ehr, "PATIENTS")}
    admissions = {r["hadm_id"]: r for r in read_table(ehr, "ADMISSIONS")}
    vitals = means(read_table(ehr, "CHARTEVENTS"), "icustay_id", VITALS)
    labs = means(read_table(ehr, "LABEVENTS"), "hadm_id", {k: (LABS[k],) for k in ICU_LABS})
    fluids = {t: _volumes(read_table(ehr, t), column) for t, column in (("INPUTEVENTS_CV", "amount"),
                                                                        ("OUTPUTEVENTS", "value"))}
    rows = []
    for stay in (s for s in read_table(ehr, "ICUSTAYS") if s["outtime"]):
        icu, adm = stay["icustay_id"], admissions[stay["hadm_id"]]
        base: list[Value] = [float(adm["age"]), float(gender[stay["subject_id"]] == "m"),
                             float(adm["admission_type"] == "emergency"),
                             *(float(stay["first_careunit"] == unit) for unit in UNITS)]
        base += [vitals.get((icu, v)) for v in VITALS] + [round(fluids[t].get(icu, 0.0), 1) for t in fluids]
        ids = (int(icu), int(stay["subject_id"]), int(stay["hadm_id"]))
        rows.append((ids, (*base, *(labs.get((stay["hadm_id"], lab)) for lab in ICU_LABS))))
    features = ("age", "gender_m", "emergency", *(f"unit_{u}" for u in UNITS), *VITALS, "input_ml", "output_ml",
                *(f"lab_{lab}" for lab in ICU_LABS))
    return Cohort("icustays", "ICU stay", ("icustay_id", "subject_id", "hadm_id"), features, tuple(sorted(rows)))


def _volumes(rows: Iterable[dict[str, str]], column: str) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        if row[column] and row["icustay_id"]:
            totals[row["icustay_id"]] += float(row[column])
    return totals
