"""A synthetic EHR shaped like MedAgentBench's FHIR data, made here (no task file is copied).

Like MedAgentBench: a patient's id is its MRN (`Patient/S0000042`), which is also its identifier;
labs are Observations coded MG/K/GLU/A1C with `valueQuantity` and `effectiveDateTime` (UTC
offsets), vitals are Observations in category vital-signs, problems are Conditions in category
problem-list-item. "Now" is MedAgentBench's 2023-11-13T10:15:00+00:00.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

NOW = datetime(2023, 11, 13, 10, 15, tzinfo=UTC)
MRN_SYSTEM = "http://hospital.smarthealthit.org"
LAB_SYSTEM = "http://medgym.test/lab"
LABS = {"MG": ("Magnesium", "mg/dL", 1.0, 2.6), "K": ("Potassium", "mmol/L", 2.9, 5.2),
        "GLU": ("Glucose", "mg/dL", 60, 240), "A1C": ("Hemoglobin A1c", "%", 4.8, 10.5)}
GIVEN = ["Ada", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas"]
FAMILY = ["Quillfeather", "Marlowe", "Ostrander", "Penhallow", "Ravensworth", "Sallow", "Thorncastle",
          "Underhill", "Vantreight", "Wexford"]


def mrn(index: int) -> str:
    return f"S{index:07d}"


def patient(index: int, rng: random.Random) -> dict[str, Any]:
    birth = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 70))
    return {
        "resourceType": "Patient", "id": mrn(index),
        "identifier": [{"use": "usual", "system": MRN_SYSTEM, "value": mrn(index),
                        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                             "code": "MR"}]}}],
        "name": [{"use": "official", "family": FAMILY[index % 10], "given": [GIVEN[(index // 10) % 10]]}],
        "gender": rng.choice(["male", "female"]), "birthDate": birth.isoformat(),
    }


def lab(index: int, number: int, code: str, when: datetime, rng: random.Random) -> dict[str, Any]:
    display, unit, low, high = LABS[code]
    return {
        "resourceType": "Observation", "id": f"lab-{mrn(index)}-{number}", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": LAB_SYSTEM, "code": code, "display": display}], "text": code},
        "subject": {"reference": f"Patient/{mrn(index)}"},
        "effectiveDateTime": when.isoformat(), "issued": when.isoformat(),
        "valueQuantity": {"value": round(rng.uniform(low, high), 1), "unit": unit},
    }


def vital(index: int, number: int, when: datetime, rng: random.Random) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": f"bp-{mrn(index)}-{number}", "status": "final",
        "category": [{"coding": [{"system": "http://hl7.org/fhir/observation-category", "code": "vital-signs"}]}],
        "code": {"text": "BP"}, "subject": {"reference": f"Patient/{mrn(index)}"},
        "effectiveDateTime": when.isoformat(), "valueString": f"{rng.randint(95, 170)}/{rng.randint(55, 100)} mmHg",
    }


def chart(index: int, rng: random.Random) -> list[dict[str, Any]]:
    subject = {"reference": f"Patient/{mrn(index)}"}
    return [
        {"resourceType": "Condition", "id": f"cond-{mrn(index)}", "subject": subject,
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                   "code": "problem-list-item"}]}],
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}], "text": "Diabetes"}},
        {"resourceType": "MedicationRequest", "id": f"med-{mrn(index)}", "status": "active", "intent": "order",
         "subject": subject, "authoredOn": "2023-01-05T09:00:00+00:00",
         "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "0002-8215-01"}]}},
        {"resourceType": "Procedure", "id": f"proc-{mrn(index)}", "status": "completed", "subject": subject,
         "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "80053"}]},
         "performedDateTime": (NOW - timedelta(days=rng.randrange(1, 900))).isoformat()},
    ]


def dataset(patients: int = 100, labs_per_patient: int = 28, seed: int = 7) -> list[dict[str, Any]]:
    """Patients with labs over the last ~3 years (some within the last 24 h), vitals and a chart."""
    rng = random.Random(seed)
    resources: list[dict[str, Any]] = []
    for index in range(1, patients + 1):
        resources.append(patient(index, rng))
        for number in range(labs_per_patient):
            when = NOW - timedelta(minutes=rng.randrange(5, 60 * 24 * 3 if number % 3 else 60 * 24 * 1000))
            resources.append(lab(index, number, list(LABS)[number % 4], when, rng))
        resources.extend(vital(index, number, NOW - timedelta(days=number + 1), rng) for number in range(2))
        resources.extend(chart(index, rng))
    return resources
