"""Renal and water-balance calculators: creatinine clearance, MDRD and CKD-EPI eGFR, free water deficit."""

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
    plain_vitals,
)
from task_store.pack.calc_spec import Calculator, age, creatinine, height, quantity, weight

_REASONS = (
    "was referred to nephrology for a rising serum creatinine",
    "presented to the emergency department with two days of worsening fatigue",
    "was admitted with a urinary tract infection",
    "presented for a medication review with the clinical pharmacist before starting a renally cleared drug",
    "came to the clinic for follow-up of chronic kidney disease",
    "presented with nausea and poor oral intake for three days",
)


def _creatinine(rng: random.Random, values: Values, lo: float, hi: float) -> Reading:
    # Always mg/dL: medcalc-bench converts µmol/L through masses rounded to 0.001 g (93 µmol/L
    # becomes 1.1 mg/dL instead of 1.05), which would shift its ground truth by several percent.
    values["creatinine"] = draw(rng, lo, hi, 2)
    return Reading("creatinine", f"{values['creatinine']:.2f}", "mg/dL")


def _sample_crcl(rng: random.Random) -> tuple[Values, Note]:
    while True:
        values, note = adult(rng, _REASONS, 20, 90)
        kg, cm = add_body(rng, note.sex, values, note, (16.5, 38.0))
        bmi = kg / (cm / 100) ** 2
        if not (18.3 <= bmi <= 18.7 or 24.8 <= bmi <= 25.1):
            break
    note.labs = [_creatinine(rng, values, 0.6, 3.6), *distractor_labs(rng, {"creatinine"}, 2)]
    note.vitals = plain_vitals(rng, set())
    return values, note


def _sample_gfr(rng: random.Random, male_min: float) -> tuple[Values, Note]:
    values, note = adult(rng, _REASONS, 25, 88)
    lo = male_min if note.sex == "Male" else 0.5
    note.labs = [_creatinine(rng, values, lo, 5.5), *distractor_labs(rng, set(), 2)]
    note.vitals = plain_vitals(rng, set())
    return values, note


def _sample_mdrd(rng: random.Random) -> tuple[Values, Note]:
    values, note = _sample_gfr(rng, 0.6)
    race = rng.choice(("Black", "White", "Asian", "Hispanic"))
    values["race"] = race
    note.descriptor = {"Black": "Black", "White": "white", "Asian": "Asian", "Hispanic": "Hispanic"}[race]
    return values, note


def _sample_ckd_epi(rng: random.Random) -> tuple[Values, Note]:
    # medcalc-bench 1.7.0 uses A = 0.7 for men with creatinine <= 0.9 (the equation says 0.9),
    # so men are drawn above 0.9 mg/dL where both agree.
    return _sample_gfr(rng, 0.95)


def _sample_fwd(rng: random.Random) -> tuple[Values, Note]:
    values, note = adult(rng, _REASONS, 18, 92)
    add_body(rng, note.sex, values, note, (17.0, 34.0), imperial=0.15)
    sodium = rng.randint(146, 168) if chance(rng, 0.6) else rng.randint(118, 133)
    values["sodium"] = float(sodium)
    note.reason = rng.choice(("was found confused at home", "presented with lethargy and poor oral intake"))
    note.labs = [Reading("sodium", str(sodium), "mmol/L"), *distractor_labs(rng, set(), 2)]
    note.vitals = plain_vitals(rng, set())
    return values, note


_CRCL_FORMULA = """
def answer(v):
    w, ibw = kg(v), (50.0 if v["sex"] == "Male" else 45.5) + 2.3 * (cm(v) / 2.54 - 60)
    bmi = w / (cm(v) / 100) ** 2
    if bmi < 18.5:
        used = w
    elif bmi < 25:
        used = min(ibw, w)
    else:
        used = ibw + 0.4 * (w - ibw)
    sex_factor = 1.0 if v["sex"] == "Male" else 0.85
    return round((140 - v["age"]) * used * sex_factor / (72 * v['creatinine']), 3)
"""

_MDRD_FORMULA = """
def answer(v):
    gfr = 175 * v['creatinine'] ** -1.154 * v["age"] ** -0.203
    gfr *= 0.742 if v["sex"] == "Female" else 1.0
    gfr *= 1.212 if v["race"] == "Black" else 1.0
    return round(gfr, 3)
"""

_CKD_EPI_FORMULA = """
def answer(v):
    female = v["sex"] == "Female"
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = v['creatinine'] / kappa
    gfr = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.2 * 0.9938 ** v["age"]
    return round(gfr * (1.012 if female else 1.0), 3)
"""

_FWD_FORMULA = """
def answer(v):
    if v["age"] < 18:
        tbw = 0.6
    elif v["age"] < 65:
        tbw = 0.6 if v["sex"] == "Male" else 0.5
    else:
        tbw = 0.5 if v["sex"] == "Male" else 0.45
    return round(tbw * kg(v) * (v["sodium"] / 140 - 1), 3)
"""

RENAL_CALCULATORS = (
    Calculator(
        "creatinine-clearance",
        "Creatinine Clearance (Cockcroft-Gault Equation)",
        "number",
        "What is the patient's Creatinine Clearance using the Cockroft-Gault Equation in terms of mL/min? "
        "You should use the patient's adjusted body weight in kg instead of the patient's actual body "
        "weight if the patient is overweight or obese based on their BMI. If the patient's BMI's normal, "
        "set their adjusted body weight to the minimum of the ideal body and actual weight. If the "
        "patient is underweight, please set their adjusted body weight to their actual body weight.",
        "Cockcroft-Gault: CrCl = (140 - age) × weight × sex factor / (72 × serum creatinine in mg/dL), "
        "with sex factor 1 for men and 0.85 for women. The weight used depends on BMI: actual weight "
        "if BMI < 18.5, the smaller of ideal and actual weight if 18.5-24.9, and adjusted weight "
        "(IBW + 0.4 × (weight - IBW)) if 25 or more; IBW is the Devine formula.",
        _sample_crcl,
        ("creatinine_clearance", "generate_cockcroft_gault_explanation"),
        lambda v: {
            "sex": v["sex"],
            "age": age(v),
            "weight": weight(v),
            "height": height(v),
            "creatinine": creatinine(v),
        },
        _CRCL_FORMULA,
    ),
    Calculator(
        "mdrd-gfr",
        "MDRD GFR Equation",
        "number",
        "Using the MDRD GFR equation, what is the patient's Glomerular Filtration Rate (GFR) in terms of "
        "mL/min/1.73 m²?",
        "The 4-variable MDRD equation: GFR = 175 × Scr^-1.154 × age^-0.203, multiplied by 0.742 for "
        "women and by 1.212 for Black patients; Scr is serum creatinine in mg/dL.",
        _sample_mdrd,
        ("mdrd_gfr", "mrdr_gfr_explanation"),
        lambda v: {"sex": v["sex"], "age": age(v), "creatinine": creatinine(v), "race": v["race"]},
        _MDRD_FORMULA,
    ),
    Calculator(
        "ckd-epi-2021",
        "CKD-EPI Equations for Glomerular Filtration Rate",
        "number",
        "Using the 2021 CKD-EPI Creatinine equation, what is the patient's Glomerular Filtration Rate "
        "(GFR) in terms of mL/min/1.73 m²?",
        "The race-free 2021 CKD-EPI creatinine equation: GFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^-1.200 "
        "× 0.9938^age (× 1.012 if female), with κ = 0.7 and α = -0.241 for women, κ = 0.9 and "
        "α = -0.302 for men; Scr in mg/dL.",
        _sample_ckd_epi,
        ("ckd_epi_2021_creatinine", "ckd_epi_2021_explanation"),
        lambda v: {"sex": v["sex"], "age": age(v), "creatinine": creatinine(v)},
        _CKD_EPI_FORMULA,
    ),
    Calculator(
        "free-water-deficit",
        "Free Water Deficit",
        "number",
        "What is the patient's free water deficit in terms of liters? You may take the ideal sodium "
        "concentration to be 140 mEq/L.",
        "Free water deficit = total body water × (serum sodium / 140 - 1), where total body water is "
        "weight (kg) × a fraction: 0.6 for children and adult men under 65, 0.5 for women under 65 and "
        "men 65 or older, 0.45 for women 65 or older. The result is negative when sodium is below 140.",
        _sample_fwd,
        ("free_water_deficit", "free_water_deficit_explanation"),
        lambda v: {
            "sex": v["sex"],
            "age": age(v),
            "weight": weight(v),
            "sodium": quantity(v, "sodium", "mmol/L"),
        },
        _FWD_FORMULA,
    ),
)
