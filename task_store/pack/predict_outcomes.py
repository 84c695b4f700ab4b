"""The planted outcomes of `medgym_predict`: each label is drawn from a hidden logistic model.

The synthetic EHR's own outcomes are independent of its features, so nothing could be learned
from them. Instead each task's label is drawn as Bernoulli(sigmoid(b0 + sum_j w_j z_j)), where
z_j is feature j standardised over the cohort (a missing value counts as the cohort mean) and b0
is set so the expected prevalence is the task's. The weights spread the signal over several
features, so no single feature sorts the test set well enough to pass; a model trained on the
features (e.g. a logistic regression) can.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from task_store.pack.predict_features import Cohort


@dataclass(frozen=True)
class Outcome:
    name: str  # column and file name, e.g. "mortality"
    cohort: str  # "admissions" or "icustays"
    title: str  # "in-hospital mortality"
    question: str
    prevalence: float
    weights: tuple[tuple[str, float], ...]  # feature -> weight per standard deviation


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("mortality", "admissions", "in-hospital mortality", "Will the patient die during this admission?",
            0.12, (("age", 0.6), ("lab_creatinine", 0.5), ("lab_bun", 0.5), ("emergency", 0.5),
                   ("lab_hemoglobin", -0.5), ("n_diagnoses", 0.4))),
    Outcome("long_stay", "admissions", "a length of stay of at least 7 days",
            "Will this admission last at least 7 days?", 0.30,
            (("n_procedures", 0.6), ("n_lab_tests", 0.5), ("icu_stays", 0.5), ("elective", -0.5),
             ("n_diagnoses", 0.4), ("lab_wbc", 0.3))),
    Outcome("readmission_30d", "admissions", "a readmission within 30 days of discharge",
            "Will the patient be readmitted within 30 days of this admission's discharge?", 0.15,
            (("prior_admissions", 0.6), ("n_diagnoses", 0.6), ("lab_hemoglobin", -0.5), ("medicare", 0.5),
             ("n_prescriptions", 0.4))),
    Outcome("acute_kidney_injury", "admissions", "acute kidney injury during the admission",
            "Will the patient develop acute kidney injury during this admission?", 0.20,
            (("lab_creatinine", 0.6), ("lab_bun", 0.6), ("lab_potassium", 0.5), ("age", 0.5),
             ("n_prescriptions", 0.4))),
    Outcome("sepsis", "admissions", "sepsis during the admission",
            "Will the patient be diagnosed with sepsis during this admission?", 0.15,
            (("lab_wbc", 0.6), ("emergency", 0.6), ("lab_glucose", 0.5), ("icu_stays", 0.5), ("lab_sodium", -0.4))),
    Outcome("discharge_to_facility", "admissions", "a discharge to a care facility rather than home",
            "Will the patient be discharged to a care facility (not home)?", 0.35,
            (("age", 0.6), ("n_prescriptions", 0.5), ("medicare", 0.5), ("gender_m", -0.4), ("n_diagnoses", 0.4),
             ("lab_albumin", -0.4))),
    Outcome("icu_long_stay", "icustays", "an ICU stay of at least 3 days", "Will this ICU stay last at least 3 days?",
            0.30, (("resp_rate", 0.6), ("input_ml", 0.6), ("heart_rate", 0.5), ("unit_micu", 0.5),
                   ("temperature", 0.4))),
    Outcome("icu_mortality", "icustays", "death in the ICU", "Will the patient die during this ICU stay?", 0.10,
            (("sbp", -0.6), ("age", 0.6), ("heart_rate", 0.5), ("lab_creatinine", 0.5), ("spo2", -0.4),
             ("gcs", -0.4))),
    Outcome("mechanical_ventilation", "icustays", "mechanical ventilation during the ICU stay",
            "Will the patient need mechanical ventilation during this ICU stay?", 0.30,
            (("spo2", -0.6), ("resp_rate", 0.6), ("unit_sicu", 0.5), ("output_ml", -0.4), ("lab_wbc", 0.4),
             ("age", 0.3))),
    Outcome("vasopressors", "icustays", "vasopressor treatment during the ICU stay",
            "Will the patient receive vasopressors during this ICU stay?", 0.20,
            (("sbp", -0.6), ("heart_rate", 0.6), ("emergency", 0.4), ("temperature", 0.4), ("lab_bun", 0.4),
             ("unit_ccu", 0.3))),
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def linear_predictor(cohort: Cohort, weights: Sequence[tuple[str, float]]) -> list[float]:
    """sum_j w_j z_j per row (z: standardised over the cohort; missing: 0)."""
    total = [0.0] * len(cohort.rows)
    for feature, weight in weights:
        j = cohort.features.index(feature)
        values = [row[j] for _, row in cohort.rows]
        present = [v for v in values if v is not None]
        mean, sd = statistics.fmean(present), statistics.pstdev(present) or 1.0
        for i, v in enumerate(values):
            total[i] += weight * ((v - mean) / sd if v is not None else 0.0)
    return total


def intercept(lp: Sequence[float], prevalence: float) -> float:
    """b0 such that the mean of sigmoid(b0 + lp) is `prevalence` (bisection)."""
    low, high = -20.0, 20.0
    for _ in range(80):
        mid = (low + high) / 2
        if statistics.fmean(sigmoid(mid + x) for x in lp) < prevalence:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def draw(cohort: Cohort, outcome: Outcome, seed: int) -> tuple[list[float], list[int]]:
    """(true probability, drawn label) per cohort row, deterministic for (seed, outcome)."""
    lp = linear_predictor(cohort, outcome.weights)
    b0 = intercept(lp, outcome.prevalence)
    rng = random.Random(f"{seed}:medgym_predict:{outcome.name}")
    probabilities = [sigmoid(b0 + x) for x in lp]
    return probabilities, [int(rng.random() < p) for p in probabilities]
