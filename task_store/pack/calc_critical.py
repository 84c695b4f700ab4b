"""Critical-care scores: SIRS criteria and the Glasgow Coma Scale."""

from __future__ import annotations

import random

from task_store.pack.calc_acute import draw_temperature
from task_store.pack.calc_patients import (
    Note,
    Reading,
    Values,
    chance,
    distractor_labs,
    pick_sex,
    plain_vitals,
)
from task_store.pack.calc_spec import Calculator, quantity, temperature


def _sample_sirs(rng: random.Random) -> tuple[Values, Note]:
    # medcalc-bench 1.7.0 counts the heart-rate criterion even at <= 90/min, so rates are drawn above 90.
    sex = pick_sex(rng)
    values: Values = {"age": rng.randint(19, 90), "sex": sex, "heart_rate": float(rng.randint(92, 135))}
    note = Note(age=int(values["age"]), sex=sex, reason="presented with fever, rigors and flank pain")
    rr = rng.randint(14, 32)
    values["rr"] = float(rr)
    wbc = rng.choice((rng.randint(15, 39), rng.randint(41, 119), rng.randint(121, 260))) * 100
    values["wbc"] = float(wbc)
    note.vitals = [
        draw_temperature(rng, values, 35.0, 39.8),
        Reading("heart rate", f"{values['heart_rate']:.0f}", "beats per minute"),
        Reading("respiratory rate", str(rr), "breaths per minute"),
        *plain_vitals(rng, {"temperature", "heart rate", "respiratory rate"}),
    ]
    note.labs = [
        Reading("white blood cell count", f"{wbc:,}/mm³"),
        *distractor_labs(rng, {"white blood cell count"}, 2),
    ]
    if chance(rng, 0.4):
        values["paco2"] = float(rng.randint(24, 44))
        note.extra = [f"An arterial blood gas showed a PaCO₂ of {values['paco2']:.0f} mm Hg."]
    return values, note


def _sirs_params(v: Values) -> dict[str, object]:
    params: dict[str, object] = {
        "temperature": temperature(v),
        "heart_rate": quantity(v, "heart_rate", "beats per minute"),
        "respiratory_rate": quantity(v, "rr", "breaths per minute"),
        "wbc": quantity(v, "wbc", "m^3"),
    }
    if "paco2" in v:
        params["paco2"] = quantity(v, "paco2", "mm Hg")
    return params


_EYE = (
    "did not open {pos} eyes even to pain",
    "opened {pos} eyes only to a painful stimulus",
    "opened {pos} eyes to verbal command",
    "had {pos} eyes open spontaneously",
)
_VERBAL = (
    "made no verbal response",
    "made only incomprehensible sounds",
    "spoke only inappropriate words",
    "was confused in conversation",
    "was oriented",
)
_MOTOR = (
    "had no motor response",
    "showed extension to pain",
    "showed abnormal flexion to pain",
    "withdrew from pain",
    "localized a painful stimulus",
    "obeyed commands",
)
_GCS_EYE = (
    "no eye opening",
    "eye opening to pain",
    "eye opening to verbal command",
    "eyes open spontaneously",
)
_GCS_VERBAL = ("no verbal response", "incomprehensible sounds", "inappropriate words", "confused", "oriented")
_GCS_MOTOR = (
    "no motor response",
    "extension to pain",
    "flexion to pain",
    "withdrawal from pain",
    "localizes pain",
    "obeys commands",
)


def _sample_gcs(rng: random.Random) -> tuple[Values, Note]:
    sex = pick_sex(rng)
    eye, verbal, motor = rng.randint(1, 4), rng.randint(1, 5), rng.randint(1, 6)
    values: Values = {"eye": eye, "verbal": verbal, "motor": motor}
    reason = rng.choice(
        (
            "was brought in by ambulance after a fall from a ladder",
            "was found unresponsive at home",
            "was brought in after a motor vehicle collision",
        )
    )
    note = Note(age=rng.randint(18, 88), sex=sex, reason=reason)
    note.vitals = plain_vitals(rng, set())
    note.exam = [
        f"On neurological examination {{sub}} {_EYE[eye - 1]}, {_VERBAL[verbal - 1]} and {_MOTOR[motor - 1]}."
    ]
    return values, note


_SIRS_FORMULA = """
def answer(v):
    t = celsius(v)
    met = (t > 38 or t < 36) + (v["heart_rate"] > 90) + (v["wbc"] > 12000 or v["wbc"] < 4000)
    met += v["rr"] > 20 or v.get("paco2", 40) < 32
    return int(met)
"""
CRITICAL_CALCULATORS = (
    Calculator(
        "sirs-criteria",
        "SIRS Criteria",
        "integer",
        "What is the number of SIRS critiera met by the patient?",
        "Count the criteria met: temperature > 38 °C or < 36 °C; heart rate > 90/min; respiratory rate "
        "> 20/min or PaCO₂ < 32 mm Hg; white cell count > 12,000/mm³ or < 4,000/mm³ (or > 10% bands).",
        _sample_sirs,
        ("sirs_criteria", "sirs_criteria_explanation"),
        _sirs_params,
        _SIRS_FORMULA,
    ),
    Calculator(
        "glasgow-coma-score",
        "Glasgow Coma Score (GCS)",
        "integer",
        "What is the patient's Glasgow Coma Score?",
        "Sum of three parts. Eyes: spontaneous 4, to voice 3, to pain 2, none 1. Verbal: oriented 5, "
        "confused 4, inappropriate words 3, incomprehensible sounds 2, none 1. Motor: obeys 6, localizes "
        "pain 5, withdraws 4, abnormal flexion 3, extension 2, none 1.",
        _sample_gcs,
        ("glasgow_coma_score", "compute_glasgow_coma_score_explanation"),
        lambda v: {
            "best_eye_response": _GCS_EYE[int(v["eye"]) - 1],
            "best_verbal_response": _GCS_VERBAL[int(v["verbal"]) - 1],
            "best_motor_response": _GCS_MOTOR[int(v["motor"]) - 1],
        },
        "def answer(v):\n    return v['eye'] + v['verbal'] + v['motor']\n",
    ),
)
