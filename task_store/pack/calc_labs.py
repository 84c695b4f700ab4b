"""Metabolic and liver calculators: LDL, HOMA-IR, FIB-4 and MELD Na."""

from __future__ import annotations

import random

from task_store.pack.calc_patients import Note, Reading, Values, chance, draw, fmt, lab_patient
from task_store.pack.calc_spec import Calculator, age, quantity

_CLINIC = (
    "came to the clinic for a cardiovascular risk assessment",
    "was seen for an annual wellness visit",
    "was referred by the primary care physician for abnormal blood tests",
    "presented for follow-up of type 2 diabetes and hypertension",
)
_LIVER = (
    "was referred to hepatology for evaluation of chronic liver disease",
    "presented with increasing abdominal girth and fatigue",
    "was admitted with jaundice and confusion",
    "came for routine follow-up of chronic hepatitis C",
)


def _sample_ldl(rng: random.Random) -> tuple[Values, Note]:
    while True:
        values, note = lab_patient(
            rng,
            _CLINIC,
            (
                ("total_cholesterol", "total cholesterol", 150.0, 320.0, 0, "mg/dL"),
                ("hdl", "HDL cholesterol", 26.0, 82.0, 0, "mg/dL"),
                ("triglycerides", "triglycerides", 55.0, 380.0, 0, "mg/dL"),
            ),
        )
        ldl = float(values["total_cholesterol"]) - float(values["hdl"]) - float(values["triglycerides"]) / 5
        if ldl > 40:
            return values, note


def _sample_homa(rng: random.Random) -> tuple[Values, Note]:
    values, note = lab_patient(
        rng,
        _CLINIC,
        (
            ("glucose", "fasting glucose", 72.0, 260.0, 0, "mg/dL"),
            ("insulin", "fasting insulin", 2.5, 42.0, 1, "µIU/mL"),
        ),
    )
    return values, note


def _sample_fib4(rng: random.Random) -> tuple[Values, Note]:
    values, note = lab_patient(
        rng,
        _LIVER,
        (
            ("ast", "aspartate aminotransferase (AST)", 14.0, 260.0, 0, "U/L"),
            ("alt", "alanine aminotransferase (ALT)", 10.0, 310.0, 0, "U/L"),
        ),
        ages=(24, 82),
    )
    platelets = rng.randint(45, 420)
    values["platelets"] = float(platelets * 1000)
    text = f"{platelets},000/µL" if chance(rng, 0.5) else f"{platelets} × 10³/µL"
    note.labs.insert(rng.randint(0, 2), Reading("platelet count", text))
    return values, note


def _sample_meld(rng: random.Random) -> tuple[Values, Note]:
    values, note = lab_patient(
        rng,
        _LIVER,
        (
            ("bilirubin", "total bilirubin", 0.6, 14.0, 1, "mg/dL"),
            ("inr", "INR", 0.9, 3.4, 2, ""),
            ("sodium", "sodium", 122.0, 142.0, 0, "mEq/L"),
        ),
        ages=(28, 78),
    )
    creatinine = draw(rng, 0.6, 4.6, 2)
    dialysis = creatinine >= 1.2 and chance(rng, 0.2)
    values.update(creatinine=creatinine, dialysis=dialysis)
    note.labs.insert(rng.randint(0, 3), Reading("creatinine", fmt(creatinine, 2), "mg/dL"))
    note.history = [
        rng.choice(("alcohol-related cirrhosis", "cirrhosis from chronic hepatitis C", "MASH cirrhosis"))
    ]
    note.story = [
        "{Sub} has undergone hemodialysis twice in the past week."
        if dialysis
        else "{Sub} has not required dialysis or continuous renal replacement therapy."
    ]
    return values, note


_ASCITES = ("Absent", "Slight", "Moderate")
_ASCITES_TEXT = (
    "Abdominal ultrasound showed no ascites.",
    "Ultrasound showed a small volume of ascites.",
    "There was moderate ascites with shifting dullness.",
)
_ENCEPHALOPATHY = ("No Encephalopathy", "Grade 1-2", "Grade 3-4")
_ENCEPHALOPATHY_TEXT = (
    "{Sub} was alert and oriented without asterixis.",
    "{Sub} was mildly confused with asterixis, consistent with grade 1-2 hepatic encephalopathy.",
    "{Sub} was somnolent and responded only to pain, consistent with grade 3-4 hepatic encephalopathy.",
)


def _off_boundary(rng: random.Random, lo: float, hi: float, places: int, cuts: tuple[float, ...]) -> float:
    """A draw that is not on a Child-Pugh cut-off, where the package and the criteria disagree."""
    while True:
        value = draw(rng, lo, hi, places)
        if all(abs(value - cut) > 0.05 for cut in cuts):
            return value


def _sample_child_pugh(rng: random.Random) -> tuple[Values, Note]:
    values, note = lab_patient(rng, _LIVER, (), ages=(28, 80))
    bilirubin = _off_boundary(rng, 0.5, 6.5, 1, (2.0, 3.0))
    albumin = _off_boundary(rng, 1.9, 4.5, 1, (2.8, 3.5))
    inr = _off_boundary(rng, 0.9, 3.2, 2, (1.7, 2.3))
    ascites, encephalopathy = rng.randrange(3), rng.choice((0, 0, 1, 1, 2))
    values.update(
        bilirubin=bilirubin, albumin=albumin, inr=inr, ascites=ascites, encephalopathy=encephalopathy
    )
    labs = [
        Reading("total bilirubin", f"{bilirubin:.1f}", "mg/dL"),
        Reading("albumin", f"{albumin:.1f}", "g/dL"),
        Reading("INR", f"{inr:.2f}"),
    ]
    rng.shuffle(labs)
    note.labs = labs + note.labs
    note.history = ["cirrhosis"]
    note.exam = [_ENCEPHALOPATHY_TEXT[encephalopathy]]
    note.extra = [_ASCITES_TEXT[ascites]]
    return values, note


_CHILD_PUGH_FORMULA = """
def answer(v):
    bili = 1 if v["bilirubin"] < 2 else 2 if v["bilirubin"] <= 3 else 3
    alb = 1 if v["albumin"] > 3.5 else 2 if v["albumin"] >= 2.8 else 3
    inr = 1 if v["inr"] < 1.7 else 2 if v["inr"] <= 2.3 else 3
    return bili + alb + inr + (v["ascites"] + 1) + (v["encephalopathy"] + 1)
"""

_MELD_FORMULA = """
def answer(v):
    cr = 4.0 if v["dialysis"] else min(max(v["creatinine"], 1.0), 4.0)
    bili, inr = max(v["bilirubin"], 1.0), max(v["inr"], 1.0)
    na = min(max(v["sodium"], 125.0), 137.0)
    meld_i = 0.957 * math.log(cr) + 0.378 * math.log(bili) + 1.120 * math.log(inr) + 0.643
    meld = round(round(meld_i, 1) * 10)
    if meld > 11:
        meld = round(meld + 1.32 * (137 - na) - 0.033 * meld * (137 - na))
    return min(meld, 40)
"""

LAB_CALCULATORS = (
    Calculator(
        "ldl-calculated",
        "LDL Calculated",
        "number",
        "What is the patient's LDL cholestrol concentration? Please outuput your answer in terms of mg/dL.",
        "Friedewald equation: LDL = total cholesterol - HDL - triglycerides / 5, all in mg/dL.",
        _sample_ldl,
        ("ldl_calculated", "compute_ldl_explanation"),
        lambda v: {
            "total_cholestrol": quantity(v, "total_cholesterol", "mg/dL"),
            "hdl_cholestrol": quantity(v, "hdl", "mg/dL"),
            "triglycerides": quantity(v, "triglycerides", "mg/dL"),
        },
        "def answer(v):\n    return round(v['total_cholesterol'] - v['hdl'] - v['triglycerides'] / 5, 3)\n",
    ),
    Calculator(
        "homa-ir",
        "HOMA-IR (Homeostatic Model Assessment for Insulin Resistance)",
        "number",
        "What is the patient's HOMA-IR score?",
        "HOMA-IR = fasting insulin (µIU/mL) × fasting glucose (mg/dL) / 405.",
        _sample_homa,
        ("homa_ir", "compute_homa_ir_explanation"),
        lambda v: {"insulin": quantity(v, "insulin", "µIU/mL"), "glucose": quantity(v, "glucose", "mg/dL")},
        "def answer(v):\n    return round(v['insulin'] * v['glucose'] / 405, 3)\n",
    ),
    Calculator(
        "fib-4",
        "Fibrosis-4 (FIB-4) Index for Liver Fibrosis",
        "number",
        "What is the patient's Fibrosis-4 (FIB-4) index?",
        "FIB-4 = age (years) × AST (U/L) / (platelet count (10⁹/L) × √ALT (U/L)). A platelet count per "
        "µL divided by 1000 gives 10⁹/L.",
        _sample_fib4,
        ("fibrosis_4", "compute_fib4_explanation"),
        lambda v: {
            "age": age(v),
            "ast": quantity(v, "ast", "U/L"),
            "alt": quantity(v, "alt", "U/L"),
            "platelet_count": quantity(v, "platelets", "µL"),
        },
        "def answer(v):\n    platelets_per_nl = v['platelets'] / 1000\n"
        "    return round(v['age'] * v['ast'] / (platelets_per_nl * math.sqrt(v['alt'])), 3)\n",
    ),
    Calculator(
        "meld-na",
        "MELD Na (UNOS/OPTN)",
        "integer",
        "What is the patient's MELD Na score?",
        "MELD(i) = 0.957 × ln(creatinine) + 0.378 × ln(bilirubin) + 1.120 × ln(INR) + 0.643, with "
        "values below 1.0 set to 1.0, creatinine capped at 4.0 (and set to 4.0 after dialysis twice in "
        "the past week), mg/dL units. Round MELD(i) to one decimal and multiply by 10. If that MELD "
        "exceeds 11, MELD Na = MELD + 1.32 × (137 - Na) - 0.033 × MELD × (137 - Na), with sodium bounded "
        "to 125-137 mEq/L; the result is rounded and capped at 40.",
        _sample_meld,
        ("meldna", "compute_meldna_explanation"),
        lambda v: {
            "creatinine": quantity(v, "creatinine", "mg/dL"),
            "bilirubin": quantity(v, "bilirubin", "mg/dL"),
            "inr": v["inr"],
            "sodium": quantity(v, "sodium", "mEq/L"),
            "dialysis_twice": v["dialysis"],
            "cvvhd": False,
        },
        _MELD_FORMULA,
        tolerance=0.05,
    ),
    Calculator(
        "child-pugh",
        "Child-Pugh Score for Cirrhosis Mortality",
        "integer",
        "What is the patient's Child-Pugh Score?",
        "Five items scored 1-3 and summed: bilirubin < 2 / 2-3 / > 3 mg/dL; albumin > 3.5 / 2.8-3.5 / "
        "< 2.8 g/dL; INR < 1.7 / 1.7-2.3 / > 2.3; ascites absent / slight / moderate; hepatic "
        "encephalopathy none / grade 1-2 / grade 3-4.",
        _sample_child_pugh,
        ("child_pugh_score", "compute_child_pugh_score_explanation"),
        lambda v: {
            "bilirubin": quantity(v, "bilirubin", "mg/dL"),
            "albumin": quantity(v, "albumin", "g/dL"),
            "inr": v["inr"],
            "ascites": _ASCITES[int(v["ascites"])],
            "encephalopathy": _ENCEPHALOPATHY[int(v["encephalopathy"])],
        },
        _CHILD_PUGH_FORMULA,
    ),
)
