"""Haemodynamic and ECG calculators: mean arterial pressure and the five corrected QT formulas."""

from __future__ import annotations

import random

from task_store.pack.calc_patients import Note, Reading, Values, distractor_labs, pick_sex, plain_vitals
from task_store.pack.calc_spec import Calculator, quantity

_MAP_REASONS = (
    "presented to the emergency department with a severe headache",
    "was evaluated in the intensive care unit after abdominal surgery",
    "was seen in clinic for blood pressure follow-up",
    "presented with dizziness and generalized weakness",
)
_ECG_REASONS = (
    "presented with palpitations",
    "was evaluated for recurrent syncope",
    "had a routine electrocardiogram before starting a new antipsychotic medication",
    "presented with lightheadedness after starting azithromycin",
    "was admitted with chest discomfort",
)
_ECG_TEXT = (
    "A 12-lead electrocardiogram showed {rhythm} at {hr} beats per minute with a QT interval of {qt} msec.",
    "The ECG demonstrated {rhythm}, heart rate {hr} beats per minute, and a measured QT interval of {qt} ms.",
    "On ECG the heart rate was {hr} beats per minute ({rhythm}) and the QT interval measured {qt} msec.",
)


def _sample_map(rng: random.Random) -> tuple[Values, Note]:
    sex = pick_sex(rng)
    systolic = rng.randint(82, 205)
    diastolic = rng.randint(max(40, systolic // 2 - 10), min(120, systolic - 25))
    values: Values = {"sys_bp": float(systolic), "dia_bp": float(diastolic)}
    note = Note(age=rng.randint(19, 90), sex=sex, reason=rng.choice(_MAP_REASONS))
    note.vitals = [
        Reading("blood pressure", f"{systolic}/{diastolic}", "mm Hg"),
        *plain_vitals(rng, {"blood pressure"}),
    ]
    note.labs = distractor_labs(rng, set(), 2)
    return values, note


def _sample_qt(rng: random.Random) -> tuple[Values, Note]:
    sex = pick_sex(rng)
    hr = rng.randint(42, 165)
    qt = rng.randint(28, 52) * 10 if rng.random() < 0.5 else rng.randint(280, 520)
    rhythm = "sinus bradycardia" if hr < 60 else "sinus rhythm" if hr <= 100 else "sinus tachycardia"
    values: Values = {"heart_rate": float(hr), "qt": float(qt)}
    note = Note(age=rng.randint(19, 90), sex=sex, reason=rng.choice(_ECG_REASONS))
    note.vitals = plain_vitals(rng, {"heart rate"})
    note.labs = distractor_labs(rng, set(), 2)
    note.extra = [rng.choice(_ECG_TEXT).format(rhythm=rhythm, hr=hr, qt=qt)]
    return values, note


def _qt_params(v: Values) -> dict[str, object]:
    return {
        "heart_rate": quantity(v, "heart_rate", "beats per minute"),
        "qt_interval": quantity(v, "qt", "msec"),
    }


def _qt(slug: str, name: str, formula_name: str, summary: str, function: str, expression: str) -> Calculator:
    return Calculator(
        slug,
        name,
        "number",
        f"Using the {formula_name} Formula for corrected QT interval, what is the patient's corrected QT "
        "interval in terms of msec?",
        f"{summary} RR interval (seconds) = 60 / heart rate; QT and QTc are in msec.",
        _sample_qt,
        (slug.replace("qtc-", "qt_calculator_"), function),
        _qt_params,
        "def answer(v):\n    qt, hr = v['qt'], v['heart_rate']\n    rr = 60 / hr\n"
        f"    return round({expression}, 3)\n",
    )


CARDIAC_CALCULATORS = (
    Calculator(
        "mean-arterial-pressure",
        "Mean Arterial Pressure (MAP)",
        "number",
        "What is patient's mean arterial pressure in mm Hg?",
        "MAP = (2 × diastolic + systolic) / 3, i.e. two thirds of the diastolic plus one third of the "
        "systolic pressure, in mm Hg.",
        _sample_map,
        ("mean_arterial_pressure", "mean_arterial_pressure_explanation"),
        lambda v: {"sys_bp": quantity(v, "sys_bp", "mm hg"), "dia_bp": quantity(v, "dia_bp", "mm hg")},
        "def answer(v):\n    return round((2 * v['dia_bp'] + v['sys_bp']) / 3, 3)\n",
    ),
    _qt(
        "qtc-bazett",
        "QTc Bazett Calculator",
        "Bazett",
        "Bazett: QTc = QT / √RR.",
        "bazett_calculator_explanation",
        "qt / math.sqrt(rr)",
    ),
    _qt(
        "qtc-fredericia",
        "QTc Fridericia Calculator",
        "Fridericia",
        "Fridericia: QTc = QT / RR^(1/3).",
        "fredericia_calculator_explanation",
        "qt / rr ** (1 / 3)",
    ),
    _qt(
        "qtc-framingham",
        "QTc Framingham Calculator",
        "Framingham",
        "Framingham: QTc = QT + 154 × (1 - RR).",
        "framingham_calculator_explanation",
        "qt + 154 * (1 - rr)",
    ),
    _qt(
        "qtc-hodges",
        "QTc Hodges Calculator",
        "Hodges",
        "Hodges: QTc = QT + 1.75 × (heart rate - 60).",
        "hodges_calculator_explanation",
        "qt + 1.75 * (hr - 60)",
    ),
    _qt(
        "qtc-rautaharju",
        "QTc Rautaharju Calculator",
        "Rautaharju",
        "Rautaharju: QTc = QT × (120 + heart rate) / 180.",
        "rautaharju_calculator_explanation",
        "qt * (120 + hr) / 180",
    ),
)
