"""Bedside scores for acute illness: Centor, FeverPAIN and CURB-65."""

from __future__ import annotations

import random

from task_store.pack.calc_patients import (
    Condition,
    Note,
    Reading,
    Values,
    add_findings,
    chance,
    distractor_labs,
    draw,
    pick_sex,
    plain_vitals,
)
from task_store.pack.calc_spec import Calculator, age, quantity, temperature

_CENTOR: tuple[Condition, ...] = (
    (
        "exudate",
        0.5,
        "Examination revealed swollen tonsils with white exudates.",
        "The tonsils were not enlarged and there was no exudate.",
    ),
    (
        "nodes",
        0.5,
        "Tender, swollen anterior cervical lymph nodes were palpable.",
        "There was no anterior cervical lymphadenopathy.",
    ),
    ("cough_absent", 0.55, "{Sub} denies any cough.", "{Sub} also reports a dry cough."),
)
_FEVERPAIN: tuple[Condition, ...] = (
    ("fever", 0.55, "{Sub} reports having had a fever in the past 24 hours.", "{Sub} has not had a fever."),
    ("purulence", 0.5, "Purulent exudate was visible on the tonsils.", "No tonsillar exudate was seen."),
    ("inflamed", 0.45, "The tonsils were severely inflamed.", "The tonsils were only mildly erythematous."),
    ("no_cough", 0.55, "There is no cough or coryza.", "{Sub} also has a cough and a runny nose."),
)


def draw_temperature(rng: random.Random, values: Values, lo: float, hi: float) -> Reading:
    """A temperature in °C or °F that is not within rounding distance of 36 °C or 38 °C."""
    while True:
        celsius = draw(rng, lo, hi, 1)
        if chance(rng, 0.3):
            value, unit = round(celsius * 9 / 5 + 32, 1), "°F"
            celsius = (value - 32) * 5 / 9
        else:
            value, unit = celsius, "°C"
        if min(abs(celsius - 38), abs(celsius - 36)) > 0.04:
            values.update(temp=value, temp_unit=unit)
            return Reading("temperature", f"{value:.1f}", unit)


def _throat_patient(rng: random.Random, ages: tuple[int, int]) -> tuple[Values, Note]:
    sex = pick_sex(rng)
    values: Values = {"age": rng.randint(*ages), "sex": sex}
    days = rng.randint(1, 7)
    values["onset_days"] = days
    reason = f"presented with a sore throat that began {days} day{'s' if days > 1 else ''} ago"
    return values, Note(age=int(values["age"]), sex=sex, reason=reason)


def _sample_centor(rng: random.Random) -> tuple[Values, Note]:
    values, note = _throat_patient(rng, (3, 70))
    note.vitals = [
        draw_temperature(rng, values, 36.6, 39.8),
        *plain_vitals(rng, {"temperature", "blood pressure"}),
    ]
    add_findings(rng, _CENTOR, values, note)
    return values, note


def _sample_feverpain(rng: random.Random) -> tuple[Values, Note]:
    values, note = _throat_patient(rng, (8, 65))
    note.vitals = plain_vitals(rng, {"blood pressure"})
    add_findings(rng, _FEVERPAIN, values, note)
    return values, note


def _sample_curb(rng: random.Random) -> tuple[Values, Note]:
    sex = pick_sex(rng)
    values: Values = {"age": rng.randint(35, 95), "sex": sex, "confusion": chance(rng, 0.35)}
    low_bp = chance(rng, 0.4)
    systolic = rng.randint(78, 100) if low_bp else rng.randint(100, 150)
    diastolic = rng.randint(42, 62) if low_bp else rng.randint(58, 88)
    rr, bun = rng.randint(16, 38), float(rng.randint(8, 55))
    values.update(sys_bp=float(systolic), dia_bp=float(diastolic), rr=float(rr), bun=bun)
    note = Note(age=int(values["age"]), sex=sex, reason="presented with fever, productive cough and dyspnea")
    note.vitals = [
        Reading("blood pressure", f"{systolic}/{diastolic}", "mm Hg"),
        Reading("respiratory rate", str(rr), "breaths per minute"),
        *plain_vitals(rng, {"blood pressure", "respiratory rate"}),
    ]
    note.exam = [
        "{Sub} was disoriented to time and place." if values["confusion"] else "{Sub} was alert and oriented."
    ]
    note.labs = [Reading("blood urea nitrogen", f"{bun:.0f}", "mg/dL"), *distractor_labs(rng, set(), 2)]
    note.extra = ["Chest radiograph showed a right lower lobe consolidation."]
    return values, note


_CURB_FORMULA = """
def answer(v):
    low_bp = v["sys_bp"] < 90 or v["dia_bp"] <= 60
    return int(v["confusion"] + (v["bun"] > 19) + (v["rr"] >= 30) + low_bp + (v["age"] >= 65))
"""
_CENTOR_FORMULA = """
def answer(v):
    age_points = 1 if 3 <= v["age"] <= 14 else 0 if v["age"] <= 44 else -1
    return age_points + (celsius(v) > 38) + v["exudate"] + v["nodes"] + v["cough_absent"]
"""

ACUTE_CALCULATORS = (
    Calculator(
        "centor-score",
        "Centor Score (Modified/McIsaac) for Strep Pharyngitis",
        "integer",
        "What is the patient's Centor Score?",
        "Modified (McIsaac) Centor: age 3-14 +1, 15-44 0, 45 or older -1; tonsillar exudate or swelling "
        "+1; tender/swollen anterior cervical nodes +1; temperature > 38 °C (100.4 °F) +1; absence of "
        "cough +1.",
        _sample_centor,
        ("centor_score", "compute_centor_score_explanation"),
        lambda v: {
            "age": age(v),
            "temperature": temperature(v),
            "exudate_swelling_tonsils": v["exudate"],
            "tender_lymph_nodes": v["nodes"],
            "cough_absent": v["cough_absent"],
        },
        _CENTOR_FORMULA,
    ),
    Calculator(
        "feverpain",
        "FeverPAIN Score for Strep Pharyngitis",
        "integer",
        "What is the patient's FeverPAIN score?",
        "One point each for: Fever in the past 24 hours, Purulence (tonsillar exudate), Attendance within "
        "3 days of symptom onset, severely Inflamed tonsils, and No cough or coryza.",
        _sample_feverpain,
        ("feverpain", "compute_fever_pain_explanation"),
        lambda v: {
            "fever_24_hours": v["fever"],
            "purulent_tonsils": v["purulence"],
            "symptom_onset": int(v["onset_days"]) <= 3,
            "severe_tonsil_inflammation": v["inflamed"],
            "cough_coryza_absent": v["no_cough"],
        },
        "def answer(v):\n    items = ['fever', 'purulence', 'inflamed', 'no_cough']\n"
        "    return sum(bool(v[k]) for k in items) + (v['onset_days'] <= 3)\n",
    ),
    Calculator(
        "curb-65",
        "CURB-65 Score for Pneumonia Severity",
        "integer",
        "What is the patient's CURB-65 score?",
        "One point each for: Confusion, BUN > 19 mg/dL (urea > 7 mmol/L), Respiratory rate >= 30/min, "
        "low Blood pressure (systolic < 90 or diastolic <= 60 mm Hg), and age >= 65.",
        _sample_curb,
        ("curb_65", "curb_65_explanation"),
        lambda v: {
            "age": age(v),
            "confusion": v["confusion"],
            "bun": quantity(v, "bun", "mg/dL"),
            "respiratory_rate": quantity(v, "rr", "breaths per minute"),
            "sys_bp": quantity(v, "sys_bp", "mm hg"),
            "dia_bp": quantity(v, "dia_bp", "mm hg"),
        },
        _CURB_FORMULA,
    ),
)
