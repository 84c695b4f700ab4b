"""What the agent reads for a prediction task: where its data is, what file to write, how it is
scored (shared by the EHRSHOT / MIMIC-Extract adapters and the pack's `medgym_predict`; it lives in
the pack so that a change of wording rebuilds the cached pack).

Statements of MedAgentGym data name only files that were present when the task was indexed (the
index is rebuilt when that set changes, see `DataSpec.indexed_with`), so a server without a
task's data never promises files that are not there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from scoring.prediction_keys import PredictionsKey, value_columns

PREDICTIONS_FILE = "predictions.csv"
# upstream descriptions end by asking for hard labels; medgym scores probabilities by AUROC
_UPSTREAM_FORMAT = re.compile(r"\s*Given the patient feature vector, please predict[^\n]*\s*$", re.IGNORECASE)


def question_text(description: str) -> str:
    """The upstream task description without its closing request for hard labels."""
    return _UPSTREAM_FORMAT.sub("", description).strip()


def data_lines(dataset: str, files: Sequence[tuple[str, str]]) -> str:
    """`- /data/<dataset>/<path>: what it holds` for each present file."""
    return "\n".join(f"- /data/{dataset}/{path}: {what}" for path, what in files)


def output_text(key: PredictionsKey, classes_note: str = "") -> str:
    """How to write and submit the predictions file, and how it is scored."""
    header = ",".join([*key.id_columns, *value_columns(key.target, key.classes)]) if (
        key.classes or key.target == "binary") else ",".join([*key.id_columns, "prob_<c>", "..."])
    what = {"binary": "the probability that the label is 1 (true)",
            "multiclass": "one probability per class c in the column prob_<c>",
            "multilabel": "for each bit k of the label bitmask, the probability that it is set, in prob_<k>"}
    macro = "" if key.target == "binary" else "macro (the mean over the probability columns) "
    return (
        f"Write /workspace/{PREDICTIONS_FILE} (CSV) with the header `{header}` and one row for EVERY test "
        f"{key.unit}: {what[key.target]}, a number in [0, 1].{classes_note} Then call submit_answer with "
        f'answer="{PREDICTIONS_FILE}" (the file name, relative to /workspace).\n'
        f"Scoring: {macro}AUROC over all test {key.unit}s, computed by the server from test labels that never "
        f"enter the sandbox; a test {key.unit} missing from the file counts as the worst possible prediction. "
        f"Correct when the AUROC is at least {key.threshold:.3f} ({key.threshold_rule}). A file that cannot be "
        "read (missing, wrong columns, duplicate or unknown ids, values that are not probabilities) is "
        "rejected without using an attempt."
    )


def missing_text(dataset: str, missing: Sequence[str], what: str) -> str:
    """The statement of a task whose data this server does not have."""
    names = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
    return (f"This server does not have {what} of this task (missing under the {dataset} data folder: {names}), "
            "so it can be read here but not solved or scored.")


INTRO = ("Train a model on the training {unit}s and predict for every test {unit}. The outcome labels of this "
         "built-in task are synthetic: each was drawn at random from a hidden model of a few of the features, so "
         "a model trained on the features can learn them (the best possible AUROC is below 1).")

_REFERENCE = """\
import json

import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

folder = "/data/medgym_predict/{cohort}"
train = pd.read_csv(f"{{folder}}/X_train.csv")
test = pd.read_csv(f"{{folder}}/X_test.csv")
train = train.merge(pd.read_csv(f"{{folder}}/train_{outcome}_labels.csv"), on="{id_column}")
features = [c for c in test.columns if c not in {id_columns!r}]
model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=1000))
model.fit(train[features], train["{outcome}"])
probability = model.predict_proba(test[features])[:, 1]
predictions = pd.DataFrame({{"{id_column}": test["{id_column}"], "probability": probability}})
predictions.to_csv("/workspace/{file}", index=False)
print(json.dumps("{file}"))
"""


def reference_solution(cohort: str, id_columns: tuple[str, ...], outcome: str) -> str:
    """Trains a logistic regression, writes the predictions file, prints its name (JSON) last."""
    return _REFERENCE.format(cohort=cohort, outcome=outcome, id_column=id_columns[0], id_columns=list(id_columns),
                             file=PREDICTIONS_FILE)


FEATURES_MD = """\
# medgym_predict features

Synthetic data (medgym's built-in pack): computed from the same synthetic MIMIC-III-shaped database as
`medgym_ehr`. One CSV row per unit; an empty cell is a missing value (never measured).

## admissions/X_train.csv, admissions/X_test.csv (one row per finished hospital admission)

| column | meaning |
|---|---|
| hadm_id | admission id (the row's id) |
| subject_id | patient id (a patient is either a training or a test patient, never both) |
| age | age at admission, years |
| gender_m | 1 male, 0 female |
| emergency, elective | 1 when the admission type is emergency / elective (else urgent) |
| medicare | 1 when the insurance is Medicare |
| prior_admissions | earlier admissions of the same patient |
| n_diagnoses, n_procedures, n_prescriptions, n_lab_tests | coded events during the admission |
| icu_stays | ICU stays during the admission |
| lab_creatinine, lab_potassium, lab_sodium, lab_glucose, lab_hemoglobin, lab_wbc, lab_bun | mean lab value during \
the admission |
| lab_platelets, lab_albumin, lab_lactate, lab_bilirubin | mean lab value during the admission (often not measured) |

## icustays/X_train.csv, icustays/X_test.csv (one row per finished ICU stay)

| column | meaning |
|---|---|
| icustay_id | ICU stay id (the row's id) |
| subject_id, hadm_id | patient and admission |
| age, gender_m, emergency | as above |
| unit_micu, unit_sicu, unit_ccu, unit_csru | first care unit (all 0: TSICU) |
| heart_rate, sbp, resp_rate, spo2, temperature, gcs | mean charted vital sign during the stay |
| input_ml, output_ml | total fluid input / output during the stay, ml |
| lab_creatinine, lab_lactate, lab_wbc, lab_bun | mean lab value during the admission |
"""
