"""MedCalcBench entities -> the built-in pack's independent calculators (`Calculator.formula`).

Each pack calculator carries a plain-Python `answer(v)` written for the pack (not medcalc-bench).
This module turns a record's entities into that calculator's input values (`v`) and runs it.
Units are converted here, so every value handed to a formula is in the unit it expects (kg, cm,
°C, mg/dL, mmol/L, /µL). Missing yes/no items count as "no", as MedCalcBench defines them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date, datetime

from task_store.audit import units as u
from task_store.audit.entities import Entities, EntityError
from task_store.pack.calc_drugs import STEROIDS
from task_store.pack.calc_patients import Values
from task_store.pack.calc_spec import SOLUTION_PRELUDE
from task_store.pack.calc_tasks import CALCULATORS

Answer = float | date | tuple[int, int]
Inputs = Callable[[Entities], Values]

CHF = ("Congestive Heart Faliure", "Congestive Heart Failure")
HYPERTENSION = ("Hypertension history", "Hypertension")
HEART_RATE = ("Heart Rate or Pulse", "heart rate")
SYSTOLIC, DIASTOLIC = ("Systolic Blood Pressure",), ("Diastolic Blood Pressure",)
BUN_NAMES = ("Blood Urea Nitrogen (BUN)", "BUN")
PREV_PE, PREV_DVT = ("Previously Documented Pulmonary Embolism",), ("Previously documented Deep Vein Thrombosis",)
LMP = ("Last menstrual date",)


def run_formula(slug: str, values: Values) -> Answer:
    """The pack calculator `slug`'s own answer for `values`, normalised."""
    return _normalise(_answer_function(slug)(values))


@functools.cache
def _answer_function(slug: str) -> Callable[[Values], object]:
    calc = next(c for c in CALCULATORS if c.slug == slug)
    namespace: dict[str, object] = {}
    exec(compile(f"{SOLUTION_PRELUDE}\n\n{calc.formula}", f"<pack formula {slug}>", "exec"), namespace)
    answer = namespace["answer"]
    assert callable(answer)
    return answer


def _normalise(result: object) -> Answer:
    if isinstance(result, str):
        return datetime.strptime(result, "%m/%d/%Y").date()
    if isinstance(result, list) and len(result) == 2:
        return int(result[0]), int(result[1])
    if isinstance(result, int | float):
        return float(result)
    raise TypeError(f"unexpected pack answer {result!r}")


def pack_name_to_slug() -> dict[str, str]:
    """MedCalcBench calculator name -> pack slug, for every pack calculator with an input mapping."""
    return {c.name: c.slug for c in CALCULATORS if c.slug in PACK_INPUTS}


# ------------------------------------------------------------------ shared readers


def _date(e: Entities, *names: str) -> str:
    text = e.text(*names)
    try:
        return datetime.strptime(text, "%m/%d/%Y").date().isoformat()
    except ValueError as exc:
        raise EntityError(f"entity {names[0]!r} is not a MM/DD/YYYY date: {text!r}") from exc


def _body(e: Entities, *, weight: bool = True, height: bool = True) -> Values:
    values: Values = {}
    if weight:
        values.update(weight=e.kg(), weight_unit="kg")
    if height:
        values.update(height=e.cm(), height_unit="cm")
    return values


def _patient(e: Entities) -> Values:
    return {"sex": e.sex(), "age": e.age()}


def _electrolytes(e: Entities, albumin: bool = False) -> Values:
    values: Values = {
        "sodium": e.measure(u.SODIUM, "Sodium"),
        "chloride": e.measure(u.CHLORIDE, "Chloride"),
        "bicarbonate": e.measure(u.BICARBONATE, "Bicarbonate", "Bicarbonate (HCO₃⁻)"),
    }
    if albumin:
        values["albumin"] = e.measure(u.ALBUMIN, "Albumin")
    return values


def _qt(e: Entities) -> Values:
    return {"heart_rate": e.number(*HEART_RATE), "qt": e.converted(u.milliseconds, "QT interval")}


def _flags(e: Entities, names: Mapping[str, tuple[str, ...]]) -> Values:
    return {key: e.flag(*entity_names) for key, entity_names in names.items()}


# ------------------------------------------------------------------ per calculator


def _crcl(e: Entities) -> Values:
    return {**_patient(e), **_body(e), "creatinine": e.measure(u.CREATININE, "creatinine", "Creatinine")}


def _mdrd(e: Entities) -> Values:
    race = e.text("Race").lower() if e.has("Race") else ""
    black = "black" in race or "african" in race
    return {**_patient(e), "creatinine": e.measure(u.CREATININE, "creatinine"), "race": "Black" if black else "Other"}


def _ckd_epi(e: Entities) -> Values:
    return {**_patient(e), "creatinine": e.measure(u.CREATININE, "creatinine", "Creatinine")}


def _fwd(e: Entities) -> Values:
    return {**_patient(e), **_body(e, height=False), "sodium": e.measure(u.SODIUM, "Sodium")}


def _osmolality(e: Entities) -> Values:
    return {
        "sodium": e.measure(u.SODIUM, "Sodium"),
        "bun": e.measure(u.BUN, *BUN_NAMES),
        "glucose": e.measure(u.GLUCOSE, "Glucose"),
    }


def _fena(e: Entities) -> Values:
    return {
        "sodium": e.measure(u.SODIUM, "Sodium"),
        "creatinine": e.measure(u.CREATININE, "creatinine", "Creatinine"),
        "urine_sodium": e.measure(u.URINE_SODIUM, "Urine sodium"),
        "urine_creatinine": e.measure(u.URINE_CREATININE, "Urine creatinine"),
    }


def _ldl(e: Entities) -> Values:
    return {
        "total_cholesterol": e.measure(u.CHOLESTEROL, "Total cholesterol"),
        "hdl": e.measure(u.CHOLESTEROL, "high-density lipoprotein cholesterol"),
        "triglycerides": e.measure(u.TRIGLYCERIDES, "Triglycerides"),
    }


def _fib4(e: Entities) -> Values:
    return {
        "age": e.age(),
        "ast": e.measure(u.ENZYME, "Aspartate aminotransferase"),
        "alt": e.measure(u.ENZYME, "Alanine aminotransferase"),
        "platelets": e.measure(u.PLATELETS, "Platelet count"),
    }


def _meld(e: Entities) -> Values:
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


def _grade(e: Entities, name: str, grades: tuple[tuple[str, ...], ...]) -> int:
    """Index of the grade whose keywords the entity's text contains; absent entity = grade 0."""
    if not e.has(name):
        return 0
    text = e.text(name).lower()
    for index in range(len(grades) - 1, -1, -1):
        if any(word in text for word in grades[index]):
            return index
    raise EntityError(f"entity {name!r} has an unknown grade: {text!r}")


def _child_pugh(e: Entities) -> Values:
    return {
        "bilirubin": e.measure(u.BILIRUBIN, "Bilirubin"),
        "albumin": e.measure(u.ALBUMIN, "Albumin"),
        "inr": e.number("international normalized ratio"),
        "ascites": _grade(e, "Ascites", (("absent", "none", "no"), ("slight", "mild"), ("moderate", "severe"))),
        "encephalopathy": _grade(e, "Encephalopathy", (("no ",), ("grade 1-2", "1-2"), ("grade 3-4", "3-4"))),
    }


def _cha2ds2_vasc(e: Entities) -> Values:
    names = {
        "chf": CHF, "hypertension": HYPERTENSION, "stroke": ("Stroke",),
        "tia": ("Transient Ischemic Attacks History",), "thromboembolism": ("Thromboembolism history",),
        "vascular_disease": ("Vascular disease history",), "diabetes": ("Diabetes history",),
    }
    return {**_patient(e), **_flags(e, names)}


def _has_bled(e: Entities) -> Values:
    names = {
        "hypertension": HYPERTENSION, "renal": ("Renal disease criteria for the HAS-BLED rule",),
        "liver": ("Liver disease criteria for the HAS-BLED rule",), "stroke": ("Stroke",),
        "bleeding": ("Prior major bleeding or predisposition to bleeding",),
        "labile_inr": ("Labile international normalized ratio",),
        "drugs": ("Medication usage predisposing to bleeding",),
    }
    drinks = e.number("Number of Alcoholic Drinks Per Week") if e.has("Number of Alcoholic Drinks Per Week") else 0
    return {"age": e.age(), **_flags(e, names), "alcohol": drinks}


def _centor(e: Entities) -> Values:
    names = {
        "exudate": ("Exudate or swelling on tonsils",),
        "nodes": ("Tender/swollen anterior cervical lymph nodes",),
        "cough_absent": ("Cough Absent",),
    }
    return {"age": e.age(), "temp": e.celsius(), "temp_unit": "°C", **_flags(e, names)}


def _feverpain(e: Entities) -> Values:
    names = {
        "fever": ("Fever in past 24 hours",), "purulence": ("Purulent tonsils",),
        "inflamed": ("Severe tonsil inflammation",), "no_cough": ("Absence of cough or coryza",),
    }
    return {**_flags(e, names), "onset_days": 1 if e.flag("Symptom onset ≤3 days") else 7}


def _curb65(e: Entities) -> Values:
    return {
        "age": e.age(),
        "confusion": e.flag("Confusion"),
        "bun": e.measure(u.BUN, *BUN_NAMES) if e.has(*BUN_NAMES) else 0.0,
        "rr": e.number("respiratory rate") if e.has("respiratory rate") else 0.0,
        "sys_bp": e.measure(u.PRESSURE, *SYSTOLIC) if e.has(*SYSTOLIC) else 120.0,
        "dia_bp": e.measure(u.PRESSURE, *DIASTOLIC) if e.has(*DIASTOLIC) else 80.0,
    }


def _sirs(e: Entities) -> Values:
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


def _gcs(e: Entities) -> Values:
    return {
        "eye": _gcs_part(e, "Best eye response", _EYE),
        "verbal": _gcs_part(e, "Best verbal response", _VERBAL),
        "motor": _gcs_part(e, "Best motor response", _MOTOR),
    }


def _wells_dvt(e: Entities) -> Values:
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
    return _flags(e, names)


def _wells_pe(e: Entities) -> Values:
    names = {
        "clinical_dvt": ("Clinical signs and symptoms of Deep Vein Thrombosis",),
        "pe_likely": ("Pulmonary Embolism is #1 diagnosis OR equally likely",),
        "immobilized": ("Immobilization for at least 3 days",),
        "surgery": ("Surgery in the previous 4 weeks",),
        "previous_pe": PREV_PE, "previous_dvt": PREV_DVT, "hemoptysis": ("Hemoptysis",),
        "malignancy": ("Malignancy with treatment within 6 months or palliative",),
    }
    rate = e.number(*HEART_RATE) if e.has(*HEART_RATE) else 0.0
    return {**_flags(e, names), "heart_rate": rate}


def _perc(e: Entities) -> Values:
    names = {
        "leg_swelling": ("Unilateral Leg Swelling",), "hemoptysis": ("Hemoptysis",),
        "recent_surgery": ("Recent surgery or trauma",), "previous_pe": PREV_PE, "previous_dvt": PREV_DVT,
        "hormones": ("Hormone use",),
    }
    return {
        **_flags(e, names),
        "age": e.age(),
        "heart_rate": e.number(*HEART_RATE) if e.has(*HEART_RATE) else 0.0,
        "o2_sat": e.number("O₂ saturation percentage") if e.has("O₂ saturation percentage") else 100.0,
    }


def _steroid(e: Entities) -> Values:
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


PACK_INPUTS: dict[str, Inputs] = {
    "bmi": _body,
    "ideal-body-weight": lambda e: {"sex": e.sex(), **_body(e, weight=False)},
    "adjusted-body-weight": lambda e: {"sex": e.sex(), **_body(e)},
    "body-surface-area": _body,
    "maintenance-fluids": lambda e: _body(e, height=False),
    "creatinine-clearance": _crcl,
    "mdrd-gfr": _mdrd,
    "ckd-epi-2021": _ckd_epi,
    "free-water-deficit": _fwd,
    "anion-gap": _electrolytes,
    "delta-gap": _electrolytes,
    "albumin-corrected-anion-gap": lambda e: _electrolytes(e, albumin=True),
    "calcium-correction": lambda e: {
        "calcium": e.measure(u.CALCIUM, "Calcium"), "albumin": e.measure(u.ALBUMIN, "Albumin")
    },
    "serum-osmolality": _osmolality,
    "sodium-correction-hyperglycemia": lambda e: {
        "sodium": e.measure(u.SODIUM, "Sodium"), "glucose": e.measure(u.GLUCOSE, "Glucose")
    },
    "fena": _fena,
    "ldl-calculated": _ldl,
    "homa-ir": lambda e: {"insulin": e.measure(u.INSULIN, "Insulin"), "glucose": e.measure(u.GLUCOSE, "Glucose")},
    "fib-4": _fib4,
    "meld-na": _meld,
    "child-pugh": _child_pugh,
    "mean-arterial-pressure": lambda e: {
        "sys_bp": e.measure(u.PRESSURE, *SYSTOLIC), "dia_bp": e.measure(u.PRESSURE, *DIASTOLIC)
    },
    "qtc-bazett": _qt,
    "qtc-fredericia": _qt,
    "qtc-framingham": _qt,
    "qtc-hodges": _qt,
    "qtc-rautaharju": _qt,
    "cha2ds2-vasc": _cha2ds2_vasc,
    "has-bled": _has_bled,
    "centor-score": _centor,
    "feverpain": _feverpain,
    "curb-65": _curb65,
    "sirs-criteria": _sirs,
    "glasgow-coma-score": _gcs,
    "wells-dvt": _wells_dvt,
    "wells-pe": _wells_pe,
    "perc-rule": _perc,
    "due-date": lambda e: {"lmp": _date(e, *LMP), "cycle_length": int(e.number("cycle length"))},
    "conception-date": lambda e: {"lmp": _date(e, *LMP)},
    "gestational-age": lambda e: {"lmp": _date(e, *LMP), "today": _date(e, "Current Date")},
    "steroid-conversion": _steroid,
}
