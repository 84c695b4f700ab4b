"""Body-size calculators: BMI, ideal and adjusted body weight, body surface area, maintenance fluids."""

from __future__ import annotations

import random

from task_store.pack.calc_patients import (
    Note,
    Reading,
    Values,
    add_body,
    adult,
    chance,
    distractor_labs,
    draw,
    fmt,
    pick_sex,
    plain_vitals,
)
from task_store.pack.calc_spec import Calculator, height, weight

_REASONS = (
    "presented to the emergency department with two days of worsening fatigue",
    "came to the clinic for a routine follow-up visit",
    "was referred for evaluation of bilateral lower-extremity edema",
    "presented with nausea and poor oral intake for three days",
    "was seen in the pre-operative clinic before elective knee replacement",
    "was admitted with a urinary tract infection",
    "presented for a medication review with the clinical pharmacist",
)


def _sample_body(rng: random.Random, bmi: tuple[float, float] = (16.5, 40.0)) -> tuple[Values, Note]:
    values, note = adult(rng, _REASONS)
    add_body(rng, note.sex, values, note, bmi)
    note.vitals = plain_vitals(rng, set())
    note.labs = distractor_labs(rng, set(), 3)
    return values, note


def _sample_obese(rng: random.Random) -> tuple[Values, Note]:
    return _sample_body(rng, (27.0, 42.0))


def _sample_fluids(rng: random.Random) -> tuple[Values, Note]:
    sex = pick_sex(rng)
    if chance(rng, 0.2):
        note = Note(age=rng.randint(5, 11), sex=sex, age_unit="month", reason="was brought in with vomiting")
        kg = draw(rng, 6.0, 9.8)
    elif chance(rng, 0.6):
        years = rng.randint(1, 14)
        note = Note(
            age=years, sex=sex, reason="was brought in by a parent with vomiting and poor oral intake"
        )
        kg = round(max(9.0, (2 * years + 8) * rng.uniform(0.8, 1.25)), 1)
    else:
        note = Note(age=rng.randint(18, 85), sex=sex, reason="was kept nil by mouth before surgery")
        kg = draw(rng, 45.0, 115.0)
    values: Values = {"weight": kg, "weight_unit": "kg"}
    note.body = [Reading("weight", fmt(kg), "kg")]
    note.vitals = plain_vitals(rng, {"blood pressure"})
    return values, note


_IBW_FORMULA = """
def ideal(v):
    return (50.0 if v["sex"] == "Male" else 45.5) + 2.3 * (cm(v) / 2.54 - 60)


def answer(v):
    return round(ideal(v), 3)
"""

_ABW_FORMULA = _IBW_FORMULA.replace("round(ideal(v), 3)", "round(ideal(v) + 0.4 * (kg(v) - ideal(v)), 3)")

_FLUIDS_FORMULA = """
def answer(v):
    w = kg(v)
    rate = 4 * w if w < 10 else 40 + 2 * (w - 10) if w <= 20 else 60 + (w - 20)
    return round(rate, 3)
"""

BODY_CALCULATORS = (
    Calculator(
        "bmi",
        "Body Mass Index (BMI)",
        "number",
        "What is the patient's body mass index (BMI)? Your answer should be in terms of kg/m².",
        "Body mass index is weight divided by the square of height: BMI = weight (kg) / height (m)². "
        "Convert pounds to kilograms (1 lb = 0.453592 kg) and inches to metres (1 in = 0.0254 m) first.",
        _sample_body,
        ("bmi_calculator", "bmi_calculator_explanation"),
        lambda v: {"weight": weight(v), "height": height(v)},
        "def answer(v):\n    return round(kg(v) / (cm(v) / 100) ** 2, 3)\n",
    ),
    Calculator(
        "ideal-body-weight",
        "Ideal Body Weight",
        "number",
        "Using the Ideal Body Weight Formula, what is the patient's ideal body weight in terms of kg?",
        "The Devine formula gives ideal body weight from sex and height in inches: "
        "IBW = 50 kg + 2.3 kg per inch over 60 in for men, and 45.5 kg + 2.3 kg per inch over 60 in for "
        "women (1 in = 2.54 cm).",
        _sample_body,
        ("ideal_body_weight", "ibw_explanation"),
        lambda v: {"sex": v["sex"], "height": height(v)},
        _IBW_FORMULA,
    ),
    Calculator(
        "adjusted-body-weight",
        "Adjusted Body Weight",
        "number",
        "Using the adjusted body weight formula, what is the patient's adjusted body weight in terms of kg?",
        "Adjusted body weight moves 40% of the way from ideal to actual weight: "
        "ABW = IBW + 0.4 × (actual weight - IBW), with IBW from the Devine formula "
        "(50 kg for men or 45.5 kg for women, plus 2.3 kg per inch of height over 60 in).",
        _sample_obese,
        ("adjusted_body_weight", "abw_explanation"),
        lambda v: {"sex": v["sex"], "weight": weight(v), "height": height(v)},
        _ABW_FORMULA,
    ),
    Calculator(
        "body-surface-area",
        "Body Surface Area Calculator",
        "number",
        "What is the patient's body surface area? Please output your answer in terms of m².",
        "The Mosteller formula: BSA (m²) = √(height (cm) × weight (kg) / 3600).",
        _sample_body,
        ("bsa_calculator", "bsa_calculator_explaination"),
        lambda v: {"weight": weight(v), "height": height(v)},
        "def answer(v):\n    return round(math.sqrt(kg(v) * cm(v) / 3600), 3)\n",
    ),
    Calculator(
        "maintenance-fluids",
        "Maintenance Fluids Calculations",
        "number",
        "Based on the patient's weight, what is the patient's maintenance fluid in mL/hr?",
        "The 4-2-1 (Holliday-Segar) rule: 4 mL/kg/hr for the first 10 kg, 2 mL/kg/hr for the next "
        "10 kg, and 1 mL/kg/hr for every kg above 20 (so 40 mL/hr + 2 per kg over 10, or 60 mL/hr + "
        "1 per kg over 20).",
        _sample_fluids,
        ("maintenance_fluid_calc", "maintenance_fluid_explanation"),
        lambda v: {"weight": weight(v)},
        _FLUIDS_FORMULA,
    ),
)
