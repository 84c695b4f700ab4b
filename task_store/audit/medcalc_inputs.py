"""MedCalcBench entities -> pack calculator inputs: shared readers, and the calculators built on
measurements (body size, kidney, electrolytes, lipids, liver, drug doses).

Units are converted here, so every value handed to a pack formula is in the unit it expects
(kg, cm, °C, mg/dL, mmol/L, /µL).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from task_store.audit import units as u
from task_store.audit.entities import Entities, EntityError
from task_store.pack.calc_drugs import STEROIDS
from task_store.pack.calc_patients import Values

CHF = ("Congestive Heart Faliure", "Congestive Heart Failure")
HYPERTENSION = ("Hypertension history", "Hypertension")
HEART_RATE = ("Heart Rate or Pulse", "heart rate")
SYSTOLIC, DIASTOLIC = ("Systolic Blood Pressure",), ("Diastolic Blood Pressure",)
BUN_NAMES = ("Blood Urea Nitrogen (BUN)", "BUN")
PREV_PE, PREV_DVT = ("Previously Documented Pulmonary Embolism",), ("Previously documented Deep Vein Thrombosis",)
LMP = ("Last menstrual date",)


def date_iso(e: Entities, *names: str) -> str:
    text = e.text(*names)
    try:
        return datetime.strptime(text, "%m/%d/%Y").date().isoformat()
    except ValueError as exc:
        raise EntityError(f"entity {names[0]!r} is not a MM/DD/YYYY date: {text!r}") from exc


def body(e: Entities, *, weight: bool = True, height: bool = True) -> Values:
    values: Values = {}
    if weight:
        values.update(weight=e.kg(), weight_unit="kg")
    if height:
        values.update(height=e.cm(), height_unit="cm")
    return values


def patient(e: Entities) -> Values:
    return {"sex": e.sex(), "age": e.age()}


def electrolytes(e: Entities, albumin: bool = False) -> Values:
    values: Values = {
        "sodium": e.measure(u.SODIUM, "Sodium"),
        "chloride": e.measure(u.CHLORIDE, "Chloride"),
        "bicarbonate": e.measure(u.BICARBONATE, "Bicarbonate", "Bicarbonate (HCO₃⁻)"),
    }
    if albumin:
        values["albumin"] = e.measure(u.ALBUMIN, "Albumin")
    return values


def qt(e: Entities) -> Values:
    return {"heart_rate": e.number(*HEART_RATE), "qt": e.converted(u.milliseconds, "QT interval")}


def flags(e: Entities, names: Mapping[str, tuple[str, ...]]) -> Values:
    return {key: e.flag(*entity_names) for key, entity_names in names.items()}


def crcl(e: Entities) -> Values:
    return {**patient(e), **body(e), "creatinine": e.measure(u.CREATININE, "creatinine", "Creatinine")}


def mdrd(e: Entities) -> Values:
    race = e.text("Race").lower() if e.has("Race") else ""
    black = "black" in race or "african" in race
    return {**patient(e), "creatinine": e.measure(u.CREATININE, "creatinine"), "race": "Black" if black else "Other"}


def ckd_epi(e: Entities) -> Values:
    return {**patient(e), "creatinine": e.measure(u.CREATININE, "creatinine", "Creatinine")}


def fwd(e: Entities) -> Values:
    return {**patient(e), **body(e, height=False), "sodium": e.measure(u.SODIUM, "Sodium")}


def osmolality(e: Entities) -> Values:
    return {
        "sodium": e.measure(u.SODIUM, "Sodium"),
        "bun": e.measure(u.BUN, *BUN_NAMES),
        "glucose": e.measure(u.GLUCOSE, "Glucose"),
    }


def fena(e: Entities) -> Values:
    return {
        "sodium": e.measure(u.SODIUM, "Sodium"),
        "creatinine": e.measure(u.CREATININE, "creatinine", "Creatinine"),
        "urine_sodium": e.measure(u.URINE_SODIUM, "Urine sodium"),
        "urine_creatinine": e.measure(u.URINE_CREATININE, "Urine creatinine"),
    }


def ldl(e: Entities) -> Values:
    return {
        "total_cholesterol": e.measure(u.CHOLESTEROL, "Total cholesterol"),
        "hdl": e.measure(u.CHOLESTEROL, "high-density lipoprotein cholesterol"),
        "triglycerides": e.measure(u.TRIGLYCERIDES, "Triglycerides"),
    }


def fib4(e: Entities) -> Values:
    return {
        "age": e.age(),
        "ast": e.measure(u.ENZYME, "Aspartate aminotransferase"),
        "alt": e.measure(u.ENZYME, "Alanine aminotransferase"),
        "platelets": e.measure(u.PLATELETS, "Platelet count"),
    }


def meld(e: Entities) -> Values:
    dialysis = e.flag("Dialysis at least twice in the past week") or e.flag(
        "Continuous veno-venous hemodialysis for ≥24 hours in the past week"
    )
    return {
        "creatinine": e.measure(u.CREATININE, "creatinine", "Creatinine"),
        "bilirubin": e.measure(u.BILIRUBIN, "Bilirubin"),
        "inr": e.number("international normalized ratio"),
        "sodium": e.measure(u.SODIUM, "Sodium"),
        "dialysis": dialysis,
    }


def steroid(e: Entities) -> Values:
    given = e.value("input steroid")
    if not (isinstance(given, list | tuple) and len(given) == 3 and isinstance(given[0], str)):
        raise EntityError(f"entity 'input steroid' is not [name, dose, unit]: {given!r}")
    dose = u.milligrams(float(given[1]), str(given[2]))
    return {"source": _steroid_name(given[0]), "target": _steroid_name(e.text("target steroid")), "dose": dose}


def _steroid_name(name: str) -> str:
    for known in STEROIDS:
        if known.lower() == name.strip().lower():
            return known
    raise EntityError(f"steroid {name!r} is not in the pack's equivalence table")
