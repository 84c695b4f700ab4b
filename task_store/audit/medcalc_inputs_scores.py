"""MedCalcBench entities -> pack calculator inputs for the points scores (liver, cardiovascular
risk, pharyngitis, pneumonia, sepsis, coma, thrombosis). Missing yes/no items count as "no" and
missing vital signs as normal, as MedCalcBench defines them.
"""

from __future__ import annotations

from task_store.audit import units as u
from task_store.audit.entities import Entities, EntityError
from task_store.audit.medcalc_inputs import (
    BUN_NAMES,
    CHF,
    DIASTOLIC,
    HEART_RATE,
    HYPERTENSION,
    PREV_DVT,
    PREV_PE,
    SYSTOLIC,
    flags,
    patient,
)
from task_store.pack.calc_patients import Values


def _grade(e: Entities, name: str, grades: tuple[tuple[str, ...], ...]) -> int:
    """Index of the grade whose keywords the entity's text contains; absent entity = grade 0."""
    if not e.has(name):
        return 0
    text = e.text(name).lower()
    for index in range(len(grades) - 1, -1, -1):
        if any(word in text for word in grades[index]):
            return index
    raise EntityError(f"entity {name!r} has an unknown grade: {text!r}")


def child_pugh(e: Entities) -> Values:
    return {
        "bilirubin": e.measure(u.BILIRUBIN, "Bilirubin"),
        "albumin": e.measure(u.ALBUMIN, "Albumin"),
        "inr": e.number("international normalized ratio"),
        "ascites": _grade(e, "Ascites", (("absent", "none", "no"), ("slight", "mild"), ("moderate", "severe"))),
        "encephalopathy": _grade(e, "Encephalopathy", (("no ",), ("grade 1-2", "1-2"), ("grade 3-4", "3-4"))),
    }


def cha2ds2_vasc(e: Entities) -> Values:
    names = {
        "chf": CHF, "hypertension": HYPERTENSION, "stroke": ("Stroke",),
        "tia": ("Transient Ischemic Attacks History",), "thromboembolism": ("Thromboembolism history",),
        "vascular_disease": ("Vascular disease history",), "diabetes": ("Diabetes history",),
    }
    return {**patient(e), **flags(e, names)}


def has_bled(e: Entities) -> Values:
    names = {
        "hypertension": HYPERTENSION, "renal": ("Renal disease criteria for the HAS-BLED rule",),
        "liver": ("Liver disease criteria for the HAS-BLED rule",), "stroke": ("Stroke",),
        "bleeding": ("Prior major bleeding or predisposition to bleeding",),
        "labile_inr": ("Labile international normalized ratio",),
        "drugs": ("Medication usage predisposing to bleeding",),
    }
    drinks = e.number("Number of Alcoholic Drinks Per Week") if e.has("Number of Alcoholic Drinks Per Week") else 0
    return {"age": e.age(), **flags(e, names), "alcohol": drinks}


def centor(e: Entities) -> Values:
    names = {
        "exudate": ("Exudate or swelling on tonsils",),
        "nodes": ("Tender/swollen anterior cervical lymph nodes",),
        "cough_absent": ("Cough Absent",),
    }
    return {"age": e.age(), "temp": e.celsius(), "temp_unit": "°C", **flags(e, names)}


def feverpain(e: Entities) -> Values:
    names = {
        "fever": ("Fever in past 24 hours",), "purulence": ("Purulent tonsils",),
        "inflamed": ("Severe tonsil inflammation",), "no_cough": ("Absence of cough or coryza",),
    }
    return {**flags(e, names), "onset_days": 1 if e.flag("Symptom onset ≤3 days") else 7}


def curb65(e: Entities) -> Values:
    return {
        "age": e.age(),
        "confusion": e.flag("Confusion"),
        "bun": e.measure(u.BUN, *BUN_NAMES) if e.has(*BUN_NAMES) else 0.0,
        "rr": e.number("respiratory rate") if e.has("respiratory rate") else 0.0,
        "sys_bp": e.measure(u.PRESSURE, *SYSTOLIC) if e.has(*SYSTOLIC) else 120.0,
        "dia_bp": e.measure(u.PRESSURE, *DIASTOLIC) if e.has(*DIASTOLIC) else 80.0,
    }


def sirs(e: Entities) -> Values:
    values: Values = {
        "temp": e.celsius() if e.has("Temperature") else 37.0,
        "temp_unit": "°C",
        "heart_rate": e.number(*HEART_RATE) if e.has(*HEART_RATE) else 0.0,
        "rr": e.number("respiratory rate") if e.has("respiratory rate") else 0.0,
        "wbc": e.measure(u.WBC, "White blood cell count") if e.has("White blood cell count") else 8000.0,
    }
    if e.has("PaCO₂"):
        values["paco2"] = e.measure(u.PRESSURE, "PaCO₂")
    return values


_EYE = (("no eye",), ("pain",), ("verbal", "speech", "sound"), ("spontan",))
_VERBAL = (("no verbal",), ("incomprehensible",), ("inappropriate",), ("confused",), ("oriented",))
_MOTOR = (("no motor",), ("extension",), ("flexion",), ("withdraw",), ("localiz",), ("obey",))


def _gcs_part(e: Entities, name: str, levels: tuple[tuple[str, ...], ...]) -> int:
    """Points of one GCS component; "not testable" or absent scores the maximum (the stated rule)."""
    if not e.has(name):
        return len(levels)
    text = e.text(name).lower()
    if "not testable" in text:
        return len(levels)
    matches = [i + 1 for i, words in enumerate(levels) if any(w in text for w in words)]
    if len(matches) != 1:
        raise EntityError(f"entity {name!r} has an unknown response: {text!r}")
    return matches[0]


def gcs(e: Entities) -> Values:
    return {
        "eye": _gcs_part(e, "Best eye response", _EYE),
        "verbal": _gcs_part(e, "Best verbal response", _VERBAL),
        "motor": _gcs_part(e, "Best motor response", _MOTOR),
    }


def wells_dvt(e: Entities) -> Values:
    names = {
        "cancer": ("Active cancer",),
        "bedridden": ("Bedridden recently >3 days or major surgery within 12 weeks",),
        "surgery": ("Major surgery within 12 weeks",),
        "calf_swelling": ("Calf swelling >3 centimeters compared to the other leg",),
        "collateral_veins": ("Collateral (nonvaricose) superficial veins present",),
        "leg_swollen": ("Entire Leg Swollen",),
        "tenderness": ("Localized tenderness along the deep venous system",),
        "pitting": ("Pitting edema, confined to symptomatic leg",),
        "plaster": ("Paralysis, paresis, or recent plaster immobilization of the lower extremity",),
        "previous_dvt": PREV_DVT,
        "alternative": ("Alternative diagnosis to Deep Vein Thrombosis as likely or more likely",),
    }
    return flags(e, names)


def wells_pe(e: Entities) -> Values:
    names = {
        "clinical_dvt": ("Clinical signs and symptoms of Deep Vein Thrombosis",),
        "pe_likely": ("Pulmonary Embolism is #1 diagnosis OR equally likely",),
        "immobilized": ("Immobilization for at least 3 days",),
        "surgery": ("Surgery in the previous 4 weeks",),
        "previous_pe": PREV_PE, "previous_dvt": PREV_DVT, "hemoptysis": ("Hemoptysis",),
        "malignancy": ("Malignancy with treatment within 6 months or palliative",),
    }
    rate = e.number(*HEART_RATE) if e.has(*HEART_RATE) else 0.0
    return {**flags(e, names), "heart_rate": rate}


def perc(e: Entities) -> Values:
    names = {
        "leg_swelling": ("Unilateral Leg Swelling",), "hemoptysis": ("Hemoptysis",),
        "recent_surgery": ("Recent surgery or trauma",), "previous_pe": PREV_PE, "previous_dvt": PREV_DVT,
        "hormones": ("Hormone use",),
    }
    return {
        **flags(e, names),
        "age": e.age(),
        "heart_rate": e.number(*HEART_RATE) if e.has(*HEART_RATE) else 0.0,
        "o2_sat": e.number("O₂ saturation percentage") if e.has("O₂ saturation percentage") else 100.0,
    }
