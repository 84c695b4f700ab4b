"""Independent calculators for MedCalcBench calculators the built-in pack does not have.

Written from the published definitions (cited per function), never from medcalc-bench. Each takes
a record's `Entities` and returns the value in the unit the MedCalcBench question asks for.
"""

from __future__ import annotations

from collections.abc import Callable

from task_store.audit import units as u
from task_store.audit.entities import Entities, EntityError
from task_store.pack.calc_drugs import OPIOIDS

Extra = Callable[[Entities], float]


def _anion_gap(e: Entities) -> float:
    sodium = e.measure(u.SODIUM, "Sodium")
    return sodium - e.measure(u.CHLORIDE, "Chloride") - e.measure(u.BICARBONATE, "Bicarbonate")


def _albumin_corrected_gap(e: Entities) -> float:
    """Figge et al., Crit Care Med 1998: AG + 2.5 × (4 - albumin g/dL)."""
    return _anion_gap(e) + 2.5 * (4.0 - e.measure(u.ALBUMIN, "Albumin"))


def _ratio(gap: float, e: Entities) -> float:
    denominator = 24.0 - e.measure(u.BICARBONATE, "Bicarbonate")
    if denominator == 0:
        raise EntityError("bicarbonate is 24 mEq/L: the delta ratio is undefined")
    return gap / denominator


def delta_ratio(e: Entities) -> float:
    """Delta ratio (Wrenn, Ann Emerg Med 1990): (AG - 12) / (24 - HCO3)."""
    return _ratio(_anion_gap(e) - 12.0, e)


def albumin_corrected_delta_gap(e: Entities) -> float:
    """Albumin-corrected anion gap minus the normal gap of 12 mEq/L."""
    return _albumin_corrected_gap(e) - 12.0


def albumin_corrected_delta_ratio(e: Entities) -> float:
    """(albumin-corrected AG - 12) / (24 - HCO3)."""
    return _ratio(_albumin_corrected_gap(e) - 12.0, e)


def target_weight(e: Entities) -> float:
    """Weight at a target BMI: BMI (kg/m²) × height (m)²."""
    bmi = e.number("Body Mass Index (BMI)")
    return bmi * (e.cm() / 100.0) ** 2


def _either(e: Entities, first: str, second: str) -> bool:
    """One item recorded under two names; conflicting values count as present, noted as an assumption."""
    a, b = e.flag(first), e.flag(second)
    if e.has(first) and e.has(second) and a != b:
        e.assume(f"the entities conflict: {first!r} = {a}, {second!r} = {b}; counted as present")
    return a or b


def revised_cardiac_risk_index(e: Entities) -> float:
    """Lee et al., Circulation 1999: one point each for high-risk surgery, ischemic heart disease,
    heart failure, cerebrovascular disease, insulin treatment and creatinine > 2 mg/dL."""
    items = (
        e.flag("Elevated-risk surgery"),
        e.flag("History of ischemic heart disease"),
        e.flag("Congestive Heart Failure criteria for the Cardiac Risk Index rule"),
        _either(e, "History of cerebrovascular disease", "Cerebrovascular disease history"),
        e.flag("Pre-operative treatment with insulin"),
        e.has("Pre-operative creatinine") and e.measure(u.CREATININE, "Pre-operative creatinine") > 2.0,
    )
    return float(sum(items))


def _gbs_bun(bun_mg_dl: float) -> int:
    """Blatchford et al., Lancet 2000, urea bands 6.5/8/10/25 mmol/L as BUN mg/dL."""
    for limit, points in ((70.0, 6), (28.0, 4), (22.4, 3), (18.2, 2)):
        if bun_mg_dl >= limit:
            return points
    return 0


def _gbs_hemoglobin(hb: float, male: bool) -> int:
    bands = ((13.0, 0), (12.0, 1), (10.0, 3)) if male else ((12.0, 0), (10.0, 1))
    for limit, points in bands:
        if hb >= limit:
            return points
    return 6


def _gbs_systolic(sbp: float) -> int:
    return 0 if sbp >= 110 else 1 if sbp >= 100 else 2 if sbp >= 90 else 3


def glasgow_blatchford(e: Entities) -> float:
    """Glasgow-Blatchford bleeding score (Blatchford et al., Lancet 2000)."""
    score = _gbs_bun(e.measure(u.BUN, "Blood Urea Nitrogen (BUN)"))
    score += _gbs_hemoglobin(e.measure(u.HEMOGLOBIN, "Hemoglobin"), e.sex() == "Male")
    score += _gbs_systolic(e.measure(u.PRESSURE, "Systolic Blood Pressure"))
    score += int(e.has("Heart Rate or Pulse") and e.number("Heart Rate or Pulse") >= 100)
    score += e.flag("Melena present") + 2 * e.flag("Recent syncope")
    score += 2 * e.flag("Hepatic disease history") + 2 * e.flag("Cardiac failure present")
    return float(score)


_CCI_ONE = (
    "Myocardial infarction", "Congestive Heart Faliure", "Peripheral vascular disease", "Dementia",
    "Chronic Obstructive Pulmonary Disease", "Connective tissue disease", "Peptic ulcer disease",
)
_CCI_TWO = ("Hemiplegia", "Moderate to severe Chronic Kidney Disease", "Leukemia", "Lymphoma")


def _cci_graded(e: Entities, name: str, grades: dict[str, int], present: int) -> int:
    """Points of a graded item; a bare True counts as its mildest present grade."""
    if not e.has(name):
        return 0
    value = e.value(name)
    if isinstance(value, bool):
        e.flag(name)
        if value:
            e.assume(f"{name!r} is True without a grade; scored as its mildest grade ({present} points)")
        return present if value else 0
    text = e.text(name).lower()
    for word, points in grades.items():
        if word in text:
            return points
    raise EntityError(f"entity {name!r} has an unknown grade: {text!r}")


def charlson(e: Entities) -> float:
    """Age-adjusted Charlson comorbidity index (Charlson et al., J Chronic Dis 1987; age points
    as in Charlson et al., J Clin Epidemiol 1994: 50-59 +1 ... >= 80 +4)."""
    age = e.age()
    score = 0 if age < 50 else 1 if age < 60 else 2 if age < 70 else 3 if age < 80 else 4
    score += sum(e.flag(n) for n in _CCI_ONE) + 2 * sum(e.flag(n) for n in _CCI_TWO)
    score += int(e.flag("Cerebrovascular Accident") or e.flag("Transient Ischemic Attacks History"))
    score += 6 * e.flag("AIDS")
    score += _cci_graded(e, "Liver disease severity", {"none": 0, "mild": 1, "moderate": 3, "severe": 3}, 1)
    score += _cci_graded(
        e, "Diabetes mellitus criteria for CCI rule",
        {"none": 0, "diet": 0, "uncomplicated": 1, "end-organ": 2, "end organ": 2}, 1,
    )
    score += _cci_graded(e, "Solid tumor", {"none": 0, "localized": 2, "metastatic": 6}, 2)
    return float(score)


_HEART_LEVELS = {
    "Suspicion History": ("slightly", "moderately", "highly"),
    "Electrocardiogram Test": ("normal", "non-specific", "significant"),
    "Initial troponin": ("less than", "between", "greater than"),
}
_HEART_RISKS = (
    "Hypertension history", "hypercholesterolemia", "Diabetes mellitus criteria for CCI rule", "obesity",
    "smoking", "parent or sibling with Cardiovascular disease before age 65",
)


def _heart_level(e: Entities, name: str) -> int:
    if not e.has(name):
        return 0
    text = e.text(name).lower()
    hits = [i for i, word in enumerate(_HEART_LEVELS[name]) if text.startswith(word) or word in text[:20]]
    if not hits:
        raise EntityError(f"entity {name!r} has an unknown level: {text!r}")
    return hits[-1]


def heart_score(e: Entities) -> float:
    """HEART score (Six et al., Neth Heart J 2008). Known atherosclerotic disease (prior MI,
    revascularisation, stroke/TIA, peripheral arterial disease) scores risk 2 like >= 3 factors."""
    age = e.age()
    factors = sum(e.flag(name) for name in _HEART_RISKS)
    known = e.flag("atherosclerotic disease") or e.flag("Transient Ischemic Attacks History")
    risk = 2 if known or factors >= 3 else 1 if factors else 0
    score = sum(_heart_level(e, name) for name in _HEART_LEVELS) + risk
    return float(score + (0 if age < 45 else 1 if age < 65 else 2))


_MME_FACTORS = {name.lower(): factor for name, (factor, _) in OPIOIDS.items()}
_MME_FACTORS.update({"fentanyl patch": 2.4, "fentanyl buccal": 0.13})
"""The pack's factors (CDC 2022) plus transdermal fentanyl 2.4 per µg/h and buccal fentanyl 0.13 per µg
(CDC 2016 opioid guideline, the table MedCalcBench's instructions refer to)."""


def morphine_equivalents(e: Entities) -> float:
    """Daily MME = sum of dose × doses per day × conversion factor."""
    total = 0.0
    for key in e.keys():  # noqa: SIM118 - Entities is not a mapping
        if not key.endswith(" Dose"):
            continue
        drug = key.removesuffix(" Dose")
        factor = _MME_FACTORS.get(drug.lower())
        if factor is None:
            raise EntityError(f"no MME conversion factor for {drug!r}")
        total += e.number(key) * e.number(f"{drug} Dose Per Day") * factor
    return total


EXTRA_CALCULATORS: dict[str, Extra] = {
    "Delta Ratio": delta_ratio,
    "Albumin Corrected Delta Gap": albumin_corrected_delta_gap,
    "Albumin Corrected Delta Ratio": albumin_corrected_delta_ratio,
    "Target weight": target_weight,
    "Revised Cardiac Risk Index for Pre-Operative Risk": revised_cardiac_risk_index,
    "Glasgow-Blatchford Bleeding Score (GBS)": glasgow_blatchford,
    "Charlson Comorbidity Index (CCI)": charlson,
    "HEART Score for Major Cardiac Events": heart_score,
    "Morphine Milligram Equivalents (MME) Calculator": morphine_equivalents,
}


def _band(value: float, cuts: tuple[float, ...]) -> int:
    """How many of the ascending `cuts` `value` reaches (0 below the first)."""
    return sum(value >= cut for cut in cuts)


def _sofa_respiration(e: Entities) -> int:
    if not e.has("Partial pressure of oxygen (PaO₂) for Apache II", "FiO₂"):
        return 0
    fio2 = e.number("FiO₂")
    pao2 = e.measure(u.PRESSURE, "Partial pressure of oxygen (PaO₂) for Apache II")
    ratio = pao2 / (fio2 / 100 if fio2 > 1 else fio2)
    points = 4 - _band(ratio, (100.0, 200.0, 300.0, 400.0))
    ventilated = e.flag("On mechanical ventilation") or e.flag("Continous positive airway pressure")
    return points if ventilated else min(points, 2)


def _sofa_cardiovascular(e: Entities) -> int:
    def dose(name: str) -> float:
        return e.number(name) if e.has(name) else 0.0

    dopamine, dobutamine = dose("DOPamine"), dose("DOBUTamine")
    catecholamine = max(dose("EPINEPHrine"), dose("norEPINEPHrine"))
    if dopamine > 15 or catecholamine > 0.1:
        return 4
    if dopamine > 5 or catecholamine > 0:
        return 3
    if dopamine > 0 or dobutamine > 0:
        return 2
    return int(_mean_pressure_low(e))


def _mean_pressure_low(e: Entities) -> bool:
    if e.has("Systolic Blood Pressure") and e.has("Diastolic Blood Pressure"):
        sbp = e.measure(u.PRESSURE, "Systolic Blood Pressure")
        return (sbp + 2 * e.measure(u.PRESSURE, "Diastolic Blood Pressure")) / 3 < 70
    return e.flag("Hypotension")


def _sofa_renal(e: Entities) -> int:
    points = _band(e.measure(u.CREATININE, "creatinine"), (1.2, 2.0, 3.5, 5.0)) if e.has("creatinine") else 0
    if e.has("Urine Output"):
        output = e.number("Urine Output")
        points = max(points, 4 if output < 200 else 3 if output < 500 else 0)
    return points


def sofa(e: Entities) -> float:
    """Sequential Organ Failure Assessment (Vincent et al., Intensive Care Med 1996): six organ
    systems scored 0-4 (respiration needs ventilatory support, here mechanical ventilation or CPAP,
    for 3-4; vasopressor doses in µg/kg/min; missing systems score 0)."""
    gcs = e.number("Glasgow Coma Score") if e.has("Glasgow Coma Score") else 15.0
    score = _sofa_respiration(e) + _sofa_cardiovascular(e) + _sofa_renal(e)
    score += 4 - _band(gcs, (6.0, 10.0, 13.0, 15.0))
    if e.has("Bilirubin"):
        score += _band(e.measure(u.BILIRUBIN, "Bilirubin"), (1.2, 2.0, 6.0, 12.0))
    if e.has("Platelet count"):
        score += 4 - _band(e.measure(u.PLATELETS, "Platelet count") / 1000, (20.0, 50.0, 100.0, 150.0))
    return float(score)


EXTRA_CALCULATORS["Sequential Organ Failure Assessment (SOFA) Score"] = sofa
