"""Venous thromboembolism scores: Wells' criteria for DVT and for PE, and the PERC rule."""

from __future__ import annotations

import random

from task_store.pack.calc_patients import (
    Condition,
    Note,
    Reading,
    Values,
    add_findings,
    add_history,
    chance,
    pick_sex,
    plain_vitals,
)
from task_store.pack.calc_spec import Calculator, age, quantity

_DVT_HISTORY: tuple[Condition, ...] = (
    ("cancer", 0.25, "metastatic colon cancer currently treated with chemotherapy", "cancer"),
    ("previous_dvt", 0.2, "a deep vein thrombosis of the right leg four years ago", "venous thromboembolism"),
)
_DVT_FINDINGS: tuple[Condition, ...] = (
    ("bedridden", 0.25, "{Sub} has been largely bedridden for the past five days with influenza.", ""),
    (
        "surgery",
        0.25,
        "{Sub} underwent an open abdominal operation under general anesthesia three weeks ago.",
        "",
    ),
    ("plaster", 0.12, "The left lower leg was immobilized in a plaster cast after an ankle fracture.", ""),
    (
        "calf_swelling",
        0.45,
        "The left calf circumference was 3.5 cm greater than the right.",
        "Calf circumferences differed by less than 1 cm.",
    ),
    (
        "collateral_veins",
        0.2,
        "Collateral non-varicose superficial veins were visible over the left shin.",
        "",
    ),
    ("leg_swollen", 0.35, "The entire left leg was swollen.", ""),
    (
        "tenderness",
        0.45,
        "There was localized tenderness along the distribution of the deep venous system.",
        "There was no tenderness along the deep veins.",
    ),
    ("pitting", 0.35, "Pitting edema was confined to the symptomatic leg.", "There was no pitting edema."),
    (
        "alternative",
        0.3,
        "The team felt that a ruptured Baker's cyst was at least as likely as a DVT.",
        "No alternative diagnosis seemed as likely as a DVT.",
    ),
)
_PE_FINDINGS: tuple[Condition, ...] = (
    (
        "clinical_dvt",
        0.3,
        "The right leg was swollen and tender along the deep veins, suggesting a DVT.",
        "There were no clinical signs of deep vein thrombosis.",
    ),
    (
        "pe_likely",
        0.45,
        "The clinicians considered pulmonary embolism the most likely diagnosis.",
        "Pneumonia was considered more likely than pulmonary embolism.",
    ),
    ("immobilized", 0.2, "{Sub} had been immobilized in bed for four days before presentation.", ""),
    ("surgery", 0.2, "{Sub} had a laparoscopic cholecystectomy two weeks ago.", ""),
    ("hemoptysis", 0.2, "{Sub} reports coughing up small amounts of blood.", "{Sub} denies hemoptysis."),
)
_PE_HISTORY: tuple[Condition, ...] = (
    ("previous_pe", 0.15, "a pulmonary embolism treated two years ago", "pulmonary embolism"),
    ("previous_dvt", 0.15, "a previous deep vein thrombosis", "deep vein thrombosis"),
    ("malignancy", 0.2, "breast cancer treated with chemotherapy within the last six months", "cancer"),
)
_PERC_HISTORY: tuple[Condition, ...] = (
    ("previous_pe", 0.15, "a prior pulmonary embolism", "pulmonary embolism"),
    ("previous_dvt", 0.15, "a prior deep vein thrombosis", "deep vein thrombosis"),
)
_PERC_FINDINGS: tuple[Condition, ...] = (
    ("leg_swelling", 0.25, "The left leg was swollen compared with the right.", "There was no leg swelling."),
    ("hemoptysis", 0.2, "{Sub} reports blood-streaked sputum.", "{Sub} denies hemoptysis."),
    ("recent_surgery", 0.2, "{Sub} had a knee arthroscopy under general anesthesia three weeks ago.", ""),
    ("hormones", 0.25, "{Sub} takes estrogen-containing hormone therapy.", ""),
)


def _patient(rng: random.Random, reason: str, ages: tuple[int, int]) -> tuple[Values, Note]:
    sex = pick_sex(rng)
    values: Values = {"age": rng.randint(*ages), "sex": sex}
    return values, Note(age=int(values["age"]), sex=sex, reason=reason)


def _sample_dvt(rng: random.Random) -> tuple[Values, Note]:
    values, note = _patient(rng, "presented with three days of left leg pain and swelling", (25, 88))
    add_history(rng, _DVT_HISTORY, values, note)
    add_findings(rng, _DVT_FINDINGS, values, note)
    note.vitals = plain_vitals(rng, set())
    return values, note


def _sample_pe(rng: random.Random) -> tuple[Values, Note]:
    values, note = _patient(rng, "presented with sudden pleuritic chest pain and dyspnea", (22, 88))
    add_history(rng, _PE_HISTORY, values, note)
    add_findings(rng, _PE_FINDINGS, values, note)
    hr = rng.randint(72, 128)
    values["heart_rate"] = float(hr)
    note.vitals = [Reading("heart rate", str(hr), "beats per minute"), *plain_vitals(rng, {"heart rate"})]
    return values, note


def _sample_perc(rng: random.Random) -> tuple[Values, Note]:
    values, note = _patient(rng, "presented with shortness of breath and chest pain", (20, 80))
    add_history(rng, _PERC_HISTORY, values, note)
    add_findings(rng, _PERC_FINDINGS, values, note)
    hr, sat = rng.randint(70, 125), rng.randint(88, 99) if chance(rng, 0.6) else rng.randint(95, 100)
    values.update(heart_rate=float(hr), o2_sat=float(sat))
    note.vitals = [
        Reading("heart rate", str(hr), "beats per minute"),
        Reading("oxygen saturation", f"{sat}%", "on room air"),
        *plain_vitals(rng, {"heart rate"}),
    ]
    return values, note


def _dvt_params(v: Values) -> dict[str, object]:
    names = {
        "active_cancer": "cancer",
        "bedridden_for_atleast_3_days": "bedridden",
        "major_surgery_in_last_12_weeks": "surgery",
        "calf_swelling_3cm": "calf_swelling",
        "collateral_superficial_veins": "collateral_veins",
        "leg_swollen": "leg_swollen",
        "localized_tenderness_on_deep_venuous_system": "tenderness",
        "pitting_edema_on_symptomatic_leg": "pitting",
        "paralysis_paresis_immobilization_in_lower_extreme": "plaster",
        "previous_dvt": "previous_dvt",
        "alternative_to_dvt_diagnosis": "alternative",
    }
    return {medcalc_name: v[ours] for medcalc_name, ours in names.items()}


_DVT_FORMULA = """
def answer(v):
    ones = ["cancer", "calf_swelling", "collateral_veins", "leg_swollen", "tenderness", "pitting", "plaster",
            "previous_dvt"]
    score = sum(bool(v[k]) for k in ones) + (v["bedridden"] or v["surgery"])
    return int(score - 2 * v["alternative"])
"""
_PE_FORMULA = """
def answer(v):
    score = 3.0 * v["clinical_dvt"] + 3.0 * v["pe_likely"] + 1.5 * (v["heart_rate"] > 100)
    score += 1.5 * (v["immobilized"] or v["surgery"]) + 1.5 * (v["previous_pe"] or v["previous_dvt"])
    return score + v["hemoptysis"] + v["malignancy"]
"""
_PERC_FORMULA = """
def answer(v):
    met = (v["age"] >= 50) + (v["heart_rate"] >= 100) + (v["o2_sat"] < 95)
    met += v["leg_swelling"] + v["hemoptysis"] + v["recent_surgery"] + v["hormones"]
    return int(met + (v["previous_pe"] or v["previous_dvt"]))
"""

THROMBO_CALCULATORS = (
    Calculator(
        "wells-dvt",
        "Wells' Criteria for DVT",
        "integer",
        "What is the patient's Wells' criteria score for Deep Vein Thrombosis?",
        "One point each for: active cancer; bedridden > 3 days or major surgery within 12 weeks; calf "
        "swelling > 3 cm versus the other leg; collateral superficial (non-varicose) veins; entire leg "
        "swollen; localized tenderness along the deep veins; pitting edema confined to the symptomatic "
        "leg; paralysis, paresis or recent plaster immobilization of the leg; previously documented DVT. "
        "Subtract 2 if an alternative diagnosis is at least as likely as DVT.",
        _sample_dvt,
        ("wells_criteria_dvt", "compute_wells_criteria_dvt_explanation"),
        _dvt_params,
        _DVT_FORMULA,
    ),
    Calculator(
        "wells-pe",
        "Wells' Criteria for Pulmonary Embolism",
        "number",
        "What is the patient's score of Wells' criteria for Pulmonary Embolism?",
        "Clinical signs of DVT +3; PE the most likely diagnosis (or equally likely) +3; heart rate > 100 "
        "+1.5; immobilization >= 3 days or surgery in the previous 4 weeks +1.5; previous PE or DVT "
        "+1.5; hemoptysis +1; malignancy treated within 6 months or palliative +1.",
        _sample_pe,
        ("wells_criteria_pe", "calculate_pe_wells_explanation"),
        lambda v: {
            "clinical_dvt": v["clinical_dvt"],
            "pe_number_one": v["pe_likely"],
            "heart_rate": quantity(v, "heart_rate", "beats per minute"),
            "immobilization_for_3days": v["immobilized"],
            "surgery_in_past4weeks": v["surgery"],
            "previous_pe": v["previous_pe"],
            "previous_dvt": v["previous_dvt"],
            "hemoptysis": v["hemoptysis"],
            "malignancy_with_treatment": v["malignancy"],
        },
        _PE_FORMULA,
        tolerance=0.0,
    ),
    Calculator(
        "perc-rule",
        "PERC Rule for Pulmonary Embolism",
        "integer",
        "What are the number of criteria met for the PERC Rule for Pulmonary Embolism (PE)?",
        "Count the PERC criteria met: age >= 50; heart rate >= 100; oxygen saturation on room air < 95%; "
        "unilateral leg swelling; hemoptysis; surgery or trauma requiring general anesthesia within 4 "
        "weeks; prior PE or DVT; hormone use (oral contraceptives, hormone replacement or estrogen).",
        _sample_perc,
        ("perc_rule", "compute_perc_rule_explanation"),
        lambda v: {
            "age": age(v),
            "heart_rate": quantity(v, "heart_rate", "beats per minute"),
            "oxygen_sat": quantity(v, "o2_sat", "%"),
            "unilateral_leg_swelling": v["leg_swelling"],
            "hemoptysis": v["hemoptysis"],
            "recent_surgery_or_trauma": v["recent_surgery"],
            "previous_pe": v["previous_pe"],
            "previous_dvt": v["previous_dvt"],
            "hormonal_use": v["hormones"],
        },
        _PERC_FORMULA,
    ),
)
