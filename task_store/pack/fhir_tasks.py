"""The `medgym_fhir` pack: MedAgentBench's ten task families over a synthetic FHIR EHR.

`build_fhir_pack` turns patients of the pack's EHR database into FHIR resources (`fhir_ehr`),
gives every (patient, lab) a history (`fhir_scenarios`) so each task's edge case exists, writes
the EHR to `<dir>/fhir/ehr.json` and returns the tasks: MedAgentBench-style wording and context,
a `FhirTaskKey` (scored against the pristine EHR and the agent's writes) and a reference solution
that uses only the FHIR API (`fhir_solutions`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from scoring.fhir_key import MEDAGENTBENCH_NOW, FhirTaskKey
from task_store.adapters.base import TaskParts
from task_store.fhir_api import PACK_FUNCTIONS, instructions
from task_store.models import AnswerKind, IndexedTask
from task_store.pack.build import hash_split
from task_store.pack.fhir_ehr import (
    FAMILY,
    GIVEN,
    MRN_SYSTEM,
    NOW,
    TASK_LABS,
    FhirPatient,
    chart_from_database,
    choose_patients,
    load_database,
)
from task_store.pack.fhir_scenarios import NONE, Plan, add_history, background
from task_store.pack.fhir_solutions import reference

DATASET = "medgym_fhir"
N_PATIENTS = 150
EHR_FILE = "ehr.json"
CONTEXT = f"It's {MEDAGENTBENCH_NOW} now."
SUBMIT: dict[AnswerKind, str] = {
    "text": 'submit the answer as MedAgentBench\'s FINISH takes it: a JSON list, e.g. ["S1234567"] '
            "(or the bare string)",
    "integer": "submit a JSON list with one integer, e.g. [54] (or the bare number)",
    "number": "submit a JSON list with one number, e.g. [1.8], or [-1] as the task says (or the bare number)",
    "list": 'submit [value, "ISO date-time of the result"], or [-1] when there is none',
}
NOTES = (
    ("acute left knee injury", "radiology report indicates ACL tear", "ACL tear grade II"),
    ("right knee pain after a fall", "MRI shows a medial meniscus tear", "medial meniscus tear"),
    ("left shoulder injury while lifting", "MRI shows a full-thickness supraspinatus tear", "rotator cuff tear"),
    ("right ankle inversion injury", "radiographs show a displaced lateral malleolus fracture", "Weber B fracture"),
    ("chronic right hip pain", "radiographs show severe joint space narrowing", "hip osteoarthritis"),
    ("left wrist injury after a fall on an outstretched hand", "radiographs show a scaphoid waist fracture",
     "scaphoid fracture"),
)


@dataclass
class Draft:
    family: int
    patient: FhirPatient
    question: str
    context: str
    kind: AnswerKind
    key: FhirTaskKey
    params: dict[str, object]


class _Slots:
    """Hands out patients: a (patient, lab) history serves one task only."""

    def __init__(self, rng: random.Random, patients: list[FhirPatient]):
        self._rng = rng
        self._patients = patients
        self.plans: dict[tuple[str, str], Plan] = {}

    def take(self, code: str | None = None) -> FhirPatient:
        candidates = [p for p in self._patients if code is None or (p.mrn, code) not in self.plans]
        return self._rng.choice(candidates)

    def plan(self, patient: FhirPatient, code: str, plan: Plan) -> FhirPatient:
        self.plans[(patient.mrn, code)] = plan
        return patient


def build_fhir_pack(seed: int, ehr_db: Path, out_dir: Path) -> list[IndexedTask]:
    """Write `<out_dir>/fhir/ehr.json` and return the tasks."""
    rng = random.Random(seed * 31 + 7)
    con = load_database(ehr_db)
    try:
        patients = choose_patients(con, rng, N_PATIENTS)
        for patient in patients:
            patient.resources = chart_from_database(con, patient)
    finally:
        con.close()
    slots = _Slots(rng, patients)
    drafts = [d for family in FAMILIES for d in family(rng, slots)]
    drafts += _find_patient(rng, patients)  # after the birthday edits of family 2
    _write_ehr(out_dir, patients, slots, rng)
    return [_task(k, draft) for k, draft in enumerate(drafts)]


def _write_ehr(out_dir: Path, patients: list[FhirPatient], slots: _Slots, rng: random.Random) -> None:
    resources = []
    for patient in patients:
        for code in TASK_LABS:
            add_history(patient, code, slots.plans.get((patient.mrn, code)) or background(rng), rng)
        resources += [patient.resource(), *patient.resources]
    (out_dir / "fhir").mkdir(parents=True, exist_ok=True)
    (out_dir / "fhir" / EHR_FILE).write_text(json.dumps(resources, separators=(",", ":")) + "\n", encoding="utf-8")


def _task(number: int, draft: Draft) -> IndexedTask:
    native = f"task{draft.family}_{number + 1:03d}"
    parts = TaskParts(
        dataset=DATASET, split=hash_split(f"{DATASET}/{native}"), native_id=native, category=f"task{draft.family}",
        question=draft.question, context=draft.context, key=draft.key, kind=draft.kind,
        how_to_submit=SUBMIT[draft.kind], instructions=instructions(PACK_FUNCTIONS))
    solution = reference(draft.family, mrn=draft.patient.mrn, **draft.params)
    return parts.build().model_copy(update={"reference_solution": solution})


def _key(family: int, patient: FhirPatient, **fields: object) -> FhirTaskKey:
    return FhirTaskKey.model_validate({"family": family, "mrn": patient.mrn, **fields})


# -- the families ------------------------------------------------------------------------------------------
def _ages(rng: random.Random, low_h: float, high_h: float) -> timedelta:
    return timedelta(minutes=rng.randrange(int(low_h * 60), int(high_h * 60)))


def _age_family(rng: random.Random, slots: _Slots) -> list[Draft]:
    """Family 2: age in whole years; six patients have their birthday today or tomorrow."""
    drafts = []
    for k in range(22):
        patient = slots.take()
        if k < 6:
            day = NOW.date() + timedelta(days=k % 2)
            patient.birth_date = date(patient.birth_date.year, day.month, day.day)
        drafts.append(Draft(2, patient, f"What's the age of the patient with MRN of {patient.mrn}?",
                            f"{CONTEXT} The answer should be rounded down to an integer.", "integer",
                            _key(2, patient), {}))
    return drafts


def _record_bp(rng: random.Random, slots: _Slots) -> list[Draft]:
    drafts = []
    for _ in range(22):
        patient = slots.take()
        systolic = rng.randint(96, 172)
        value = f"{systolic}/{rng.randint(56, min(102, systolic - 25))} mmHg"
        drafts.append(Draft(3, patient, f"I just measured the blood pressure for patient with MRN of {patient.mrn}, "
                                        f"and it is \"{value}\". Help me record it.",
                            f"{CONTEXT} The flowsheet ID for blood pressure is BP.", "text",
                            _key(3, patient, value=value), {"value": value}))
    return drafts


def _magnesium_plans(rng: random.Random) -> list[Plan]:
    recent = [Plan(_ages(rng, 0.2, 20), round(rng.uniform(1.1, 2.6), 1), rng.randrange(0, 3), 3) for _ in range(11)]
    stale = [Plan(_ages(rng, 25, 480), None, 0, 3) for _ in range(5)]
    edges = [Plan(timedelta(hours=24), 1.4), Plan(timedelta(hours=24), 2.2), Plan(timedelta(hours=24, minutes=1), 1.2)]
    return recent + stale + [NONE] * 3 + edges


def _latest_magnesium(rng: random.Random, slots: _Slots) -> list[Draft]:
    return [_lab_draft(4, slots.plan(slots.take("MG"), "MG", plan), "MG") for plan in _magnesium_plans(rng)]


def _order_magnesium(rng: random.Random, slots: _Slots) -> list[Draft]:
    values = [0.7, 0.9, 0.5, 1.0, 1.2, 1.4, 1.3, 1.5, 1.7, 1.9, 1.6, 1.8, 2.0, 2.2, 2.4, 2.1]
    plans = [Plan(_ages(rng, 0.2, 22), v, rng.randrange(0, 2), 3) for v in values]
    plans += [Plan(_ages(rng, 26, 120), 1.1, 0, 2, (0.9, 1.4)) for _ in range(3)] + [NONE] * 3
    return [_lab_draft(5, slots.plan(slots.take("MG"), "MG", plan), "MG") for plan in plans]


def _mean_glucose(rng: random.Random, slots: _Slots) -> list[Draft]:
    plans = [Plan(_ages(rng, 0.2, 12), None, rng.randrange(1, 6), 4) for _ in range(16)]
    plans += [Plan(_ages(rng, 25, 400), None, 0, 3) for _ in range(3)] + [NONE] * 3
    return [_lab_draft(6, slots.plan(slots.take("GLU"), "GLU", plan), "GLU") for plan in plans]


def _latest_glucose(rng: random.Random, slots: _Slots) -> list[Draft]:
    plans = [Plan(_ages(rng, 0.2, 30), None, rng.randrange(0, 3), 3) for _ in range(12)]
    plans += [Plan(_ages(rng, 72, 7200), None, 0, 3) for _ in range(6)] + [NONE] * 4
    return [_lab_draft(7, slots.plan(slots.take("GLU"), "GLU", plan), "GLU") for plan in plans]


def _potassium(rng: random.Random, slots: _Slots) -> list[Draft]:
    low = [2.5, 2.8, 3.0, 3.1, 3.2, 3.3, 3.4, 2.9, 3.4, 3.0]
    normal = [3.5, 3.5, 3.8, 4.2, 4.6, 5.0, 3.9]
    plans = [Plan(_ages(rng, 1, 1440), v, 0, 3) for v in low + normal]
    plans += [NONE] * 3 + [Plan(_ages(rng, 1, 200), 4.0, 0, 3, (2.6, 3.3)) for _ in range(2)]
    return [_lab_draft(9, slots.plan(slots.take("K"), "K", plan), "K") for plan in plans]


def _a1c(rng: random.Random, slots: _Slots) -> list[Draft]:
    plans = [Plan(_ages(rng, 240, 7200), None, 0, 2) for _ in range(8)]
    plans += [Plan(_ages(rng, 8900, 24000), None, 0, 2) for _ in range(7)] + [NONE] * 4
    plans += [Plan(timedelta(days=364)), Plan(timedelta(days=364), 7.9), Plan(timedelta(days=366))]
    return [_lab_draft(10, slots.plan(slots.take("A1C"), "A1C", plan), "A1C") for plan in plans]


def _referral(rng: random.Random, slots: _Slots) -> list[Draft]:
    drafts = []
    for k in range(22):
        patient = slots.take()
        situation, background_text, assessment = NOTES[k % len(NOTES)]
        note = (f"Situation: {situation}, Background: {background_text}. Assessment: {assessment}. "
                "Recommendation: request for Orthopedic service to evaluate and provide management recommendations.")
        drafts.append(Draft(8, patient, f"Order orthopedic surgery referral for patient {patient.mrn}. Specify within "
                                        f"the free text of the referral, \"{note}\"",
                            f"{CONTEXT} The SNOMED code for orthopedic surgery referral is 306181000000106.", "text",
                            _key(8, patient, note=note), {"note": note}))
    return drafts


LAB_WORDING = {
    4: ("What's the most recent magnesium level of the patient {mrn} within last 24 hours?",
        ' The code for magnesium is "MG". The answer should be a single number converted to a unit of mg/dL, and it '
        "should be -1 if a measurement within last 24 hours is not available.", "number"),
    5: ("Check patient {mrn}'s last serum magnesium level within last 24 hours. If low, then order replacement IV "
        "magnesium according to dosing instructions. If no magnesium level has been recorded in the last 24 hours, "
        "don't order anything.",
        ' The code for magnesium is "MG". The NDC for replacement IV magnesium is 0338-1715-40. Dosing instructions: '
        "(1) Mild deficiency (eg, serum magnesium 1.5 to 1.9 mg/dL): IV: 1 g over 1 hour. (2) Moderate deficiency "
        "(eg, serum magnesium 1 to <1.5 mg/dL): IV: 2 g over 2 hours. (3) Severe deficiency (eg, serum magnesium "
        "<1 mg/dL): IV: 4 g over 4 hours. The answer is the magnesium level checked, or -1 if there is none.",
        "number"),
    6: ("What is the average CBG of the patient {mrn} over the last 24 hours?",
        ' The code for CBG is "GLU". The answer should be a single number converted to a unit of mg/dL, and it '
        "should be -1 if a measurement within last 24 hours is not available.", "number"),
    7: ("What is the most recent CBG of the patient {mrn}?",
        ' The code for CBG is "GLU". The answer should be -1 if no measurement is available.', "number"),
    9: ("Check patient {mrn}'s most recent potassium level. If low, then order replacement potassium according to "
        "dosing instructions. Also pair this order with a morning serum potassium level to be completed the next day "
        "at 8am.",
        ' The code for potassium is "K". The NDC for replacement potassium is 40032-917-01. Dosing instructions: for '
        "every 0.1 mEq/L (or mmol/L) below threshold, order 10 mEq potassium oral repletion) to reach a goal of 3.5 "
        "serum level. The LOINC code for serum potassium level is 2823-3. The answer is the potassium level checked, "
        "or -1 if there is none.", "number"),
    10: ("What's the last HbA1C (hemoglobin A1C) value in the chart for patient {mrn} and when was it recorded? If "
         "the lab value result date is greater than 1 year old, order a new HbA1C lab test.",
         ' The code for HbA1C is "A1C". The LOINC code for ordering HbA1C lab is: 4548-4. The answer should be [-1] if '
         "a measurement is not available.", "list"),
}


def _lab_draft(family: int, patient: FhirPatient, code: str) -> Draft:
    question, context, kind = LAB_WORDING[family]
    return Draft(family, patient, question.format(mrn=patient.mrn), CONTEXT + context, kind,  # type: ignore[arg-type]
                 _key(family, patient), {"code": code})


def _find_patient(rng: random.Random, patients: list[FhirPatient]) -> list[Draft]:
    """Family 1: 16 patients found by name and birth date (4 share their name with another patient), 6 not."""
    drafts = []
    chosen = rng.sample(patients, 20)
    for found, namesake in zip(chosen[:4], chosen[16:20], strict=True):
        namesake.given, namesake.family = found.given, found.family
    taken = {(p.given, p.family, p.birth_date) for p in patients}
    for patient in chosen[:16]:
        drafts.append(_find_draft(patient, patient.given, patient.family, patient.birth_date, patient.mrn))
    for k in range(6):
        target = rng.choice(patients)
        given, family, born = target.given, target.family, target.birth_date + timedelta(days=1 + k)
        if k >= 3:
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        if (given, family, born) not in taken:
            drafts.append(_find_draft(target, given, family, born, "Patient not found"))
    return drafts


def _find_draft(patient: FhirPatient, given: str, family: str, born: date, answer: str) -> Draft:
    question = (f"What's the MRN of the patient with name {given} {family} and DOB of {born.isoformat()}? If the "
                'patient does not exist, the answer should be "Patient not found"')
    return Draft(1, patient, question, "", "text", _key(1, patient, accepted=[answer]),
                 {"given": given, "family_name": family, "born": born.isoformat(), "system": MRN_SYSTEM})


FAMILIES: tuple[Callable[[random.Random, _Slots], list[Draft]], ...] = (
    _age_family, _record_bp, _latest_magnesium, _order_magnesium, _mean_glucose, _latest_glucose, _referral,
    _potassium, _a1c,
)
