"""Drug-dose conversions: corticosteroid equivalents and morphine milligram equivalents."""

from __future__ import annotations

import random

from task_store.pack.calc_patients import Note, Values, pick_sex, plain_vitals
from task_store.pack.calc_spec import Calculator

# name as MedCalcBench writes it -> equivalent dose in mg (0.75 mg dexamethasone ≈ 5 mg prednisone)
STEROIDS = {
    "Betamethasone IV": 0.75,
    "Cortisone PO": 25.0,
    "Dexamethasone IV": 0.75,
    "Dexamethasone PO": 0.75,
    "Hydrocortisone IV": 20.0,
    "Hydrocortisone PO": 20.0,
    "MethylPrednisoLONE IV": 4.0,
    "MethylPrednisoLONE PO": 4.0,
    "PrednisoLONE PO": 5.0,
    "PredniSONE PO": 5.0,
    "Triamcinolone IV": 4.0,
}
# opioid -> (MME conversion factor, typical single doses in mg)
OPIOIDS: dict[str, tuple[float, tuple[float, ...]]] = {
    "Codeine": (0.15, (15.0, 30.0, 60.0)),
    "HYDROcodone": (1.0, (5.0, 7.5, 10.0)),
    "HYDROmorphone": (5.0, (2.0, 4.0, 8.0)),
    "Methadone": (4.7, (5.0, 10.0, 20.0)),
    "Morphine": (1.0, (15.0, 30.0, 60.0)),
    "OxyCODONE": (1.5, (5.0, 10.0, 20.0)),
    "OxyMORphone": (3.0, (5.0, 10.0)),
    "Tapentadol": (0.4, (50.0, 75.0, 100.0)),
    "TraMADol": (0.2, (50.0, 100.0)),
}
_FREQUENCY = ("once daily", "twice daily", "three times daily", "four times daily")


def _sample_steroid(rng: random.Random) -> tuple[Values, Note]:
    source, target = rng.sample(sorted(STEROIDS), 2)
    while STEROIDS[source] == STEROIDS[target]:
        source, target = rng.sample(sorted(STEROIDS), 2)
    prednisone_mg = rng.choice((5, 7.5, 10, 15, 20, 30, 40, 50, 60, 80))
    dose = prednisone_mg * STEROIDS[source] / 5
    dose = round(dose * 4) / 4 if dose < 10 else float(round(dose))
    values: Values = {"source": source, "target": target, "dose": dose}
    drug, route = source.rsplit(" ", 1)
    reason = rng.choice(
        (
            "was admitted with an exacerbation of asthma",
            "was seen in rheumatology clinic",
            "presented with a flare of ulcerative colitis",
        )
    )
    note = Note(age=rng.randint(20, 85), sex=pick_sex(rng), reason=reason)
    note.story = [f"{{Sub}} is currently receiving {drug.lower()} {dose:g} mg {route} daily."]
    note.vitals = plain_vitals(rng, set())
    return values, note


def _sample_mme(rng: random.Random) -> tuple[Values, Note]:
    drugs = rng.sample(sorted(OPIOIDS), rng.choice((1, 2, 2, 3)))
    values: Values = {}
    regimen = []
    for drug in drugs:
        dose, per_day = rng.choice(OPIOIDS[drug][1]), rng.randint(1, 4)
        values[f"{drug} dose"], values[f"{drug} per day"] = dose, per_day
        regimen.append(f"{drug.lower()} {dose:g} mg {_FREQUENCY[per_day - 1]}")
    reason = rng.choice(
        (
            "was seen in the pain clinic for chronic low back pain",
            "was admitted for a hip fracture and a medication reconciliation was performed",
        )
    )
    note = Note(age=rng.randint(25, 88), sex=pick_sex(rng), reason=reason, medications=regimen)
    note.vitals = plain_vitals(rng, set())
    return values, note


def _mme_params(v: Values) -> dict[str, object]:
    params: dict[str, object] = {}
    for key, value in v.items():
        drug, kind = key.rsplit(" ", 1) if key.endswith(" dose") else key.rsplit(" per ", 1)
        if kind == "dose":
            params[f"{drug} Dose"] = (value, "mg")
        else:
            params[f"{drug} Dose Per Day"] = (value, "per day")
    return params


_STEROID_FORMULA = f"""
EQUIVALENT_MG = {STEROIDS!r}


def answer(v):
    return round(v["dose"] * EQUIVALENT_MG[v["target"]] / EQUIVALENT_MG[v["source"]], 3)
"""
_MME_FORMULA = f"""
FACTOR = {dict((name, factor) for name, (factor, _) in OPIOIDS.items())!r}


def answer(v):
    total = 0.0
    for name, factor in FACTOR.items():
        if f"{{name}} dose" in v:
            total += v[f"{{name}} dose"] * v[f"{{name}} per day"] * factor
    return round(total, 3)
"""

DRUG_CALCULATORS = (
    Calculator(
        "steroid-conversion",
        "Steroid Conversion Calculator",
        "number",
        "Based on the patient's dose of {source}, what is the equivalent dosage in mg of {target}?",
        "Equivalent anti-inflammatory doses: betamethasone IV 0.75 mg = cortisone PO 25 mg = "
        "dexamethasone IV/PO 0.75 mg = hydrocortisone IV/PO 20 mg = methylprednisolone IV/PO 4 mg = "
        "prednisolone PO 5 mg = prednisone PO 5 mg = triamcinolone IV 4 mg. Target dose = input dose × "
        "(target equivalent / input equivalent).",
        _sample_steroid,
        ("steroid_conversion", "compute_steroid_conversion_explanation"),
        lambda v: {"input steroid": [v["source"], v["dose"], "mg"], "target steroid": v["target"]},
        _STEROID_FORMULA,
    ),
    Calculator(
        "morphine-milligram-equivalents",
        "Morphine Milligram Equivalents (MME) Calculator",
        "number",
        "Based on the number of doses per day and the quantity of different doses, what is the patient's "
        "daily Morphine Miligram Equivalents (MME)?",
        "Daily MME = sum over opioids of (dose in mg × doses per day × conversion factor). Factors: "
        "codeine 0.15, hydrocodone 1, hydromorphone 5, methadone 4.7, morphine 1, oxycodone 1.5, "
        "oxymorphone 3, tapentadol 0.4, tramadol 0.2.",
        _sample_mme,
        ("mme", "mme_explanation"),
        _mme_params,
        _MME_FORMULA,
    ),
)
