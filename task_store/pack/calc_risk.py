"""Cardiovascular risk scores: CHA2DS2-VASc, HAS-BLED and HEART."""

from __future__ import annotations

import random

from task_store.pack.calc_patients import (
    Condition,
    Note,
    Values,
    add_history,
    adult,
    chance,
    distractor_labs,
    plain_vitals,
)
from task_store.pack.calc_spec import Calculator, age

_AF_REASONS = (
    "presented with palpitations and was found to have atrial fibrillation",
    "was referred to cardiology clinic for newly diagnosed atrial fibrillation",
    "was seen to discuss anticoagulation for paroxysmal atrial fibrillation",
)
_CHADS: tuple[Condition, ...] = (
    ("chf", 0.3, "congestive heart failure", "heart failure"),
    ("hypertension", 0.6, "hypertension", "hypertension"),
    ("stroke", 0.2, "an ischemic stroke", "stroke"),
    ("tia", 0.15, "a transient ischemic attack", "transient ischemic attack"),
    ("thromboembolism", 0.1, "a prior arterial thromboembolism to the left leg", ""),
    ("vascular_disease", 0.3, "a prior myocardial infarction", "vascular disease"),
    ("diabetes", 0.35, "type 2 diabetes mellitus", "diabetes"),
)
_HAS_BLED: tuple[Condition, ...] = (
    (
        "hypertension",
        0.35,
        "uncontrolled hypertension with systolic pressures above 160 mm Hg",
        "hypertension",
    ),
    ("renal", 0.25, "end-stage renal disease on hemodialysis", "kidney disease"),
    ("liver", 0.2, "cirrhosis", "liver disease"),
    ("stroke", 0.25, "a prior ischemic stroke", "stroke"),
    ("bleeding", 0.3, "a major gastrointestinal bleed requiring transfusion", "major bleeding"),
)
_HEART_FACTORS: tuple[Condition, ...] = (
    ("hypertension", 0.5, "hypertension", "hypertension"),
    ("hypercholesterolemia", 0.45, "hypercholesterolemia", "hyperlipidemia"),
    ("diabetes", 0.3, "type 2 diabetes mellitus", "diabetes"),
    ("obesity", 0.3, "obesity (BMI 33 kg/m²)", ""),
)


def _patient(rng: random.Random, reasons: tuple[str, ...], ages: tuple[int, int]) -> tuple[Values, Note]:
    values, note = adult(rng, reasons, *ages)
    note.vitals = plain_vitals(rng, set())
    note.labs = distractor_labs(rng, set(), 2)
    return values, note


def _sample_chads(rng: random.Random) -> tuple[Values, Note]:
    values, note = _patient(rng, _AF_REASONS, (42, 92))
    add_history(rng, _CHADS, values, note)
    return values, note


def _sample_has_bled(rng: random.Random) -> tuple[Values, Note]:
    values, note = _patient(rng, _AF_REASONS, (45, 90))
    add_history(rng, _HAS_BLED, values, note)
    values["labile_inr"] = chance(rng, 0.3)
    values["drugs"] = chance(rng, 0.35)
    values["alcohol"] = rng.choice((0, 0, 2, 4, 6, 9, 12, 15))
    note.medications = ["warfarin"] + (
        ["aspirin 81 mg daily", "ibuprofen as needed"] if values["drugs"] else []
    )
    note.story = [
        "{Pos} INR values have been labile, with time in the therapeutic range of about 40%."
        if values["labile_inr"]
        else "{Pos} INR has been stable within the therapeutic range.",
        f"{{Sub}} reports drinking about {values['alcohol']} alcoholic drinks per week."
        if values["alcohol"]
        else "{Sub} does not drink alcohol.",
    ]
    return values, note


_SUSPICION = ("slightly", "moderately", "highly")
_ECG = (
    "The ECG was normal.",
    "The ECG showed non-specific repolarization abnormalities without ST deviation.",
    "The ECG showed significant ST-segment depression in the lateral leads.",
)
_TROPONIN = (
    "The initial high-sensitivity troponin was within the normal limit.",
    "The initial troponin was elevated to about twice the upper limit of normal.",
    "The initial troponin was more than three times the upper limit of normal.",
)


def _sample_heart(rng: random.Random) -> tuple[Values, Note]:
    values, note = _patient(rng, ("presented to the emergency department with chest pain",), (30, 85))
    add_history(rng, _HEART_FACTORS, values, note)
    values["smoking"], values["family"] = chance(rng, 0.35), chance(rng, 0.3)
    history, ecg, troponin = rng.randrange(3), rng.randrange(3), rng.randrange(3)
    values.update(history=history, ecg=ecg, troponin=troponin)
    note.story = [
        "{Sub} has no known coronary artery disease, prior stroke or peripheral arterial disease.",
        "{Sub} currently smokes a pack of cigarettes a day."
        if values["smoking"]
        else "{Sub} has never smoked.",
        "{Pos} father had a myocardial infarction at age 52."
        if values["family"]
        else "There is no family history of premature cardiovascular disease.",
        f"The emergency physician judged the history to be {_SUSPICION[history]} suspicious for an acute "
        "coronary syndrome.",
    ]
    note.extra = [_ECG[ecg], _TROPONIN[troponin]]
    return values, note


def _heart_params(v: Values) -> dict[str, object]:
    return {
        "age": age(v),
        "history": ("Slightly suspicious", "Moderately suspicious", "Highly suspicious")[int(v["history"])],
        "electrocardiogram": (
            "Normal",
            "Non-specific repolarization disturbance",
            "Significant ST deviation",
        )[int(v["ecg"])],
        "initial_troponin": (
            "less than or equal to normal limit",
            "between the normal limit or up to three times the normal limit",
            "greater than three times normal limit",
        )[int(v["troponin"])],
        "hypertension": v["hypertension"],
        "hypercholesterolemia": v["hypercholesterolemia"],
        "diabetes_mellitus": v["diabetes"],
        "obesity": v["obesity"],
        "smoking": v["smoking"],
        "family_with_cvd": v["family"],
        "atherosclerotic_disease": False,
    }


_CHADS_FORMULA = """
def answer(v):
    score = 2 if v["age"] >= 75 else 1 if v["age"] >= 65 else 0
    score += v["sex"] == "Female"
    score += v["chf"] + v["hypertension"] + v["diabetes"] + v["vascular_disease"]
    score += 2 * (v["stroke"] or v["tia"] or v["thromboembolism"])
    return int(score)
"""
_HAS_BLED_FORMULA = """
def answer(v):
    items = ["hypertension", "renal", "liver", "stroke", "bleeding", "labile_inr", "drugs"]
    return sum(bool(v[item]) for item in items) + (v["age"] > 65) + (v["alcohol"] >= 8)
"""
_HEART_FORMULA = """
def answer(v):
    names = ["hypertension", "hypercholesterolemia", "diabetes", "obesity", "smoking", "family"]
    factors = sum(bool(v[k]) for k in names)
    risk = 0 if factors == 0 else 1 if factors <= 2 else 2
    age_points = 0 if v["age"] < 45 else 1 if v["age"] < 65 else 2
    return v["history"] + v["ecg"] + age_points + risk + v["troponin"]
"""

RISK_CALCULATORS = (
    Calculator(
        "cha2ds2-vasc",
        "CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk",
        "integer",
        "What is the patient's CHA2DS2-VASc Score?",
        "Add one point each for congestive heart failure, hypertension, diabetes, vascular disease "
        "(prior MI, peripheral artery disease or aortic plaque), female sex and age 65-74; two points "
        "for age 75 or older and two for any prior stroke, TIA or thromboembolism.",
        _sample_chads,
        ("cha2ds2_vasc_score", "generate_cha2ds2_vasc_explanation"),
        lambda v: {
            "age": age(v),
            "sex": v["sex"],
            "chf": v["chf"],
            "hypertension": v["hypertension"],
            "stroke": v["stroke"],
            "tia": v["tia"],
            "thromboembolism": v["thromboembolism"],
            "vascular_disease": v["vascular_disease"],
            "diabetes": v["diabetes"],
        },
        _CHADS_FORMULA,
    ),
    Calculator(
        "has-bled",
        "HAS-BLED Score for Major Bleeding Risk",
        "integer",
        "What is the patient's HAS-BLED score?",
        "One point each for: uncontrolled hypertension (systolic > 160 mm Hg), renal disease (dialysis, "
        "transplant or creatinine > 2.26 mg/dL), liver disease (cirrhosis or marked enzyme/bilirubin "
        "elevation), prior stroke, prior major bleeding or predisposition, labile INR, age > 65, "
        "drugs predisposing to bleeding (antiplatelets, NSAIDs), and alcohol use of 8 or more drinks a week.",
        _sample_has_bled,
        ("has_bled_score", "compute_has_bled_score_explanation"),
        lambda v: {
            "age": age(v),
            "alcoholic_drinks": v["alcohol"],
            "hypertension": v["hypertension"],
            "renal_disease_has_bled": v["renal"],
            "liver_disease_has_bled": v["liver"],
            "stroke": v["stroke"],
            "prior_bleeding": v["bleeding"],
            "labile_inr": v["labile_inr"],
            "medications_for_bleeding": v["drugs"],
        },
        _HAS_BLED_FORMULA,
    ),
    Calculator(
        "heart-score",
        "HEART Score for Major Cardiac Events",
        "integer",
        "What is the patient's HEART score?",
        "Five items scored 0-2 and summed: History (slightly/moderately/highly suspicious), ECG (normal / "
        "non-specific repolarization disturbance / significant ST deviation), Age (< 45, 45-64, >= 65), "
        "Risk factors (none; 1-2; 3 or more or known atherosclerotic disease; risk factors are "
        "hypertension, hypercholesterolemia, diabetes, obesity (BMI > 30), current or recent smoking and a "
        "family history of premature cardiovascular disease), Troponin (<= normal limit; 1-3× normal; > 3× "
        "normal).",
        _sample_heart,
        ("heart_score", "compute_heart_score_explanation"),
        _heart_params,
        _HEART_FORMULA,
    ),
)
