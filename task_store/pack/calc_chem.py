"""Electrolyte calculators: anion gap family, calcium and sodium corrections, osmolality, FENa."""

from __future__ import annotations

import random
from functools import partial

from task_store.pack.calc_patients import LabSpec, Note, Values, lab_patient
from task_store.pack.calc_spec import Calculator, Sampler, quantity

_REASONS = (
    "presented to the emergency department with vomiting and diffuse abdominal pain",
    "was admitted with confusion and poor oral intake",
    "presented with polyuria, polydipsia and weight loss over two weeks",
    "was brought in after being found unresponsive at home",
    "presented with three days of profuse diarrhoea",
    "was admitted for management of a severe pneumonia",
)
_NA = ("sodium", "sodium", 128.0, 148.0, 0, "mEq/L")
_CL = ("chloride", "chloride", 92.0, 114.0, 0, "mEq/L")
_HCO3 = ("bicarbonate", "bicarbonate", 6.0, 28.0, 0, "mEq/L")
_ALB = ("albumin", "albumin", 1.8, 4.6, 1, "g/dL")


def _sampler(*labs: LabSpec) -> Sampler:
    return partial(lab_patient, reasons=_REASONS, labs=labs)


def _gap_sampler(*labs: LabSpec) -> Sampler:
    """Electrolytes with a physiological anion gap (3 mEq/L or more)."""
    draw_labs = _sampler(*labs)

    def sample(rng: random.Random) -> tuple[Values, Note]:
        while True:
            values, note = draw_labs(rng)
            if float(values["sodium"]) - float(values["chloride"]) - float(values["bicarbonate"]) >= 3:
                return values, note

    return sample


def _gap_params(v: Values) -> dict[str, object]:
    return {name: quantity(v, name, "mEq/L") for name in ("sodium", "chloride", "bicarbonate")}


def _alb_gap_params(v: Values) -> dict[str, object]:
    return {**_gap_params(v), "albumin": quantity(v, "albumin", "g/dL")}


_AG = 'v["sodium"] - (v["chloride"] + v["bicarbonate"])'

CHEM_CALCULATORS = (
    Calculator(
        "anion-gap",
        "Anion Gap",
        "number",
        "What is the patient's anion gap in terms of mEq/L?",
        "Anion gap = sodium - (chloride + bicarbonate), all in mEq/L.",
        _gap_sampler(_NA, _CL, _HCO3),
        ("anion_gap", "compute_anion_gap_explanation"),
        _gap_params,
        f"def answer(v):\n    return round({_AG}, 3)\n",
    ),
    Calculator(
        "delta-gap",
        "Delta Gap",
        "number",
        "What is the patient's delta gap in mEq/L?",
        "Delta gap = anion gap - 12, where anion gap = sodium - (chloride + bicarbonate) in mEq/L and 12 "
        "is the normal anion gap. It is negative when the anion gap is below normal.",
        _gap_sampler(_NA, _CL, _HCO3),
        ("delta_gap", "compute_delta_gap_explanation"),
        _gap_params,
        f"def answer(v):\n    return round({_AG} - 12, 3)\n",
    ),
    Calculator(
        "albumin-corrected-anion-gap",
        "Albumin Corrected Anion Gap",
        "number",
        "What is the patient's albumin corrected anion gap in mEq/L?",
        "Albumin-corrected anion gap = anion gap + 2.5 × (4 - albumin in g/dL), with anion gap = "
        "sodium - (chloride + bicarbonate) in mEq/L.",
        _gap_sampler(_NA, _CL, _HCO3, _ALB),
        ("albumin_corrected_anion", "compute_albumin_corrected_anion_explanation"),
        _alb_gap_params,
        f"def answer(v):\n    return round({_AG} + 2.5 * (4 - v['albumin']), 3)\n",
    ),
    Calculator(
        "calcium-correction",
        "Calcium Correction for Hypoalbuminemia",
        "number",
        "Using the Calcium Correction for Hypoalbuminemia formula, what is the patient's corrected calcium "
        "in mg/dL? Your may set your normal albumin concentration to be 4 g/dL.",
        "Corrected calcium (mg/dL) = measured calcium + 0.8 × (normal albumin - measured albumin), with "
        "albumin in g/dL and a normal albumin of 4 g/dL.",
        _sampler(("calcium", "calcium", 6.8, 10.6, 1, "mg/dL"), _ALB),
        ("calcium_correction", "calculate_corrected_calcium_explanation"),
        lambda v: {"calcium": quantity(v, "calcium", "mg/dL"), "albumin": quantity(v, "albumin", "g/dL")},
        "def answer(v):\n    return round(v['calcium'] + 0.8 * (4 - v['albumin']), 3)\n",
    ),
    Calculator(
        "serum-osmolality",
        "Serum Osmolality",
        "number",
        "What is the patient's serum osmolality in terms of mOsm/kg?",
        "Calculated serum osmolality = 2 × sodium (mmol/L) + BUN (mg/dL) / 2.8 + glucose (mg/dL) / 18.",
        _sampler(
            ("sodium", "sodium", 124.0, 156.0, 0, "mmol/L"),
            ("bun", "blood urea nitrogen (BUN)", 6.0, 85.0, 0, "mg/dL"),
            ("glucose", "glucose", 62.0, 650.0, 0, "mg/dL"),
        ),
        ("sOsm", "compute_serum_osmolality_explanation"),
        lambda v: {
            "sodium": quantity(v, "sodium", "mmol/L"),
            "bun": quantity(v, "bun", "mg/dL"),
            "glucose": quantity(v, "glucose", "mg/dL"),
        },
        "def answer(v):\n    return round(2 * v['sodium'] + v['bun'] / 2.8 + v['glucose'] / 18, 3)\n",
    ),
    Calculator(
        "sodium-correction-hyperglycemia",
        "Sodium Correction for Hyperglycemia",
        "number",
        "What is the patient's corrected sodium concentration in terms of mEq/L?",
        "Corrected sodium (Katz) = measured sodium + 0.024 × (glucose - 100), with sodium in mEq/L and "
        "glucose in mg/dL.",
        _sampler(
            ("sodium", "sodium", 119.0, 141.0, 0, "mEq/L"), ("glucose", "glucose", 160.0, 950.0, 0, "mg/dL")
        ),
        ("sch", "compute_sodium_correction_hyperglycemia_explanation"),
        lambda v: {"sodium": quantity(v, "sodium", "mEq/L"), "glucose": quantity(v, "glucose", "mg/dL")},
        "def answer(v):\n    return round(v['sodium'] + 0.024 * (v['glucose'] - 100), 3)\n",
    ),
    Calculator(
        "fena",
        "Fractional Excretion of Sodium (FENa)",
        "number",
        "What is the patient's Fractional Excretion of Sodium (FENa)? Please return your answer as a "
        "percentage value.",
        "FENa (%) = (serum creatinine × urine sodium) / (serum sodium × urine creatinine) × 100, with "
        "both creatinines in mg/dL and both sodiums in mEq/L.",
        _sampler(
            ("sodium", "serum sodium", 126.0, 146.0, 0, "mmol/L"),
            ("creatinine", "serum creatinine", 0.8, 6.5, 2, "mg/dL"),
            ("urine_sodium", "urine sodium", 8.0, 160.0, 0, "mmol/L"),
            ("urine_creatinine", "urine creatinine", 15.0, 220.0, 0, "mg/dL"),
        ),
        ("compute_fena", "compute_fena_explanation"),
        lambda v: {
            "sodium": quantity(v, "sodium", "mmol/L"),
            "creatinine": quantity(v, "creatinine", "mg/dL"),
            "urine_sodium": quantity(v, "urine_sodium", "mmol/L"),
            "urine_creatinine": quantity(v, "urine_creatinine", "mg/dL"),
        },
        "def answer(v):\n    ratio = v['creatinine'] * v['urine_sodium']\n"
        "    ratio /= v['sodium'] * v['urine_creatinine']\n"
        "    return round(100 * ratio, 3)\n",
    ),
)
