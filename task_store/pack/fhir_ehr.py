"""The `medgym_fhir` EHR: patients of the pack's synthetic MIMIC-III database as FHIR R4 resources.

Shaped like MedAgentBench's FHIR data: a patient's id is its MRN (`Patient/S1234567`), which is also
its MR identifier; labs are Observations coded MG/K/GLU/A1C (and other short codes) with
`valueQuantity` and `effectiveDateTime`; vitals are Observations in category vital-signs; problems
are Conditions in category problem-list-item; MedicationRequests and Procedures come from the
prescriptions and procedures. Times are the database's, shifted so that its reference time is
MedAgentBench's "now", 2023-11-13T10:15:00+00:00.

The four labs the tasks ask about (MG, K, GLU, A1C) are not taken from the database: each patient
gets a history per lab from a *scenario* (`fhir_scenarios`), so every edge case the tasks need
exists (nothing in the last 24 h, a value in each dosing band, no measurement at all, ...).
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from task_store.pack.ehr_db import REFERENCE_TIME, indexed_copy

NOW = datetime(2023, 11, 13, 10, 15, tzinfo=UTC)
SHIFT = NOW - REFERENCE_TIME.replace(tzinfo=UTC)
MRN_SYSTEM = "http://hospital.smarthealthit.org"
LAB_SYSTEM = "http://medgym.local/fhir/lab-code"
TASK_LABS = {"MG": ("Magnesium", "mg/dL"), "K": ("Potassium", "mmol/L"), "GLU": ("Glucose", "mg/dL"),
             "A1C": ("Hemoglobin A1c", "%")}
OTHER_LABS = {"creatinine": "CREAT", "sodium": "NA", "chloride": "CL", "bicarbonate": "HCO3",
              "urea nitrogen": "BUN", "calcium, total": "CA", "hemoglobin": "HGB", "white blood cells": "WBC",
              "platelet count": "PLT", "inr(pt)": "INR", "lactate": "LACTATE", "albumin": "ALB"}
VITALS = {211: ("HR", "/min"), 618: ("RR", "/min"), 646: ("SPO2", "%"), 676: ("TEMP", "Cel")}
GIVEN = ("Aurelio", "Bettina", "Casimir", "Delphine", "Emrys", "Fenella", "Gideon", "Honora", "Ignatius", "Jessamy",
         "Kasimir", "Leocadia", "Mordecai", "Nerissa", "Octavian", "Perpetua", "Quintus", "Rosamund", "Saoirse",
         "Thaddeus", "Ulrika", "Valentin", "Wilhelmina", "Xanthe", "Yevgeny", "Zenobia")
FAMILY = ("Abernathy", "Blackwood", "Crowther", "Dunmore", "Everleigh", "Fairweather", "Galloway", "Hartigan",
          "Ingleby", "Jessop", "Kilbride", "Lockhart", "Merriweather", "Northcott", "Ormsby", "Pemberton",
          "Quarrington", "Rutherford", "Stainforth", "Trelawney", "Umfreville", "Vavasour", "Whitlock")
PER_PATIENT = {"labs": 24, "vitals": 10, "conditions": 8, "medications": 8, "procedures": 4}


@dataclass
class FhirPatient:
    """One patient: demographics, and the resources of their chart (built by `fhir_scenarios`)."""

    mrn: str
    subject_id: int
    given: str
    family: str
    gender: str
    birth_date: date
    resources: list[dict[str, Any]] = field(default_factory=list)
    lab_counter: int = 0

    @property
    def reference(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.mrn}"}

    def resource(self) -> dict[str, Any]:
        return {"resourceType": "Patient", "id": self.mrn,
                "identifier": [{"use": "usual", "system": MRN_SYSTEM, "value": self.mrn, "type": {"coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}}],
                "name": [{"use": "official", "family": self.family, "given": [self.given]}],
                "gender": self.gender, "birthDate": self.birth_date.isoformat()}


def shifted(text: str | None) -> datetime | None:
    """A database time (`YYYY-MM-DD HH:MM:SS`, 2100-2105) moved to the FHIR EHR's timeline (UTC)."""
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC) + SHIFT


def when(moment: datetime) -> str:
    return moment.isoformat()


def lab(patient: FhirPatient, code: str, moment: datetime, value: float, unit: str, display: str) -> dict[str, Any]:
    patient.lab_counter += 1
    return {
        "resourceType": "Observation", "id": f"lab-{patient.mrn}-{patient.lab_counter}", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LAB_SYSTEM, "code": code, "display": display}], "text": code},
        "subject": patient.reference, "effectiveDateTime": when(moment), "issued": when(moment),
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def choose_patients(con: sqlite3.Connection, rng: random.Random, count: int) -> list[FhirPatient]:
    """`count` adult patients alive at the reference time, with names and MRNs."""
    rows = con.execute("select subject_id, gender, dob from patients where dod is null or dod = '' "
                       "order by subject_id").fetchall()
    picked = sorted(rng.sample(rows, count))
    mrns = rng.sample(range(1_000_000, 9_999_999), count)
    names = rng.sample([(g, f) for g in GIVEN for f in FAMILY], count)
    patients = []
    for (subject_id, gender, dob), number, (given, family) in zip(picked, mrns, names, strict=True):
        born = shifted(dob)
        assert born is not None
        patients.append(FhirPatient(f"S{number}", subject_id, given, family, "male" if gender == "m" else "female",
                                    born.date()))
    return patients


def chart_from_database(con: sqlite3.Connection, patient: FhirPatient) -> list[dict[str, Any]]:
    """Conditions, medications, procedures, vitals and other labs of one patient, newest first, capped."""
    return (_conditions(con, patient) + _medications(con, patient) + _procedures(con, patient)
            + _vitals(con, patient) + _other_labs(con, patient))


def _rows(con: sqlite3.Connection, sql: str, patient: FhirPatient, limit: int) -> list[tuple[Any, ...]]:
    return con.execute(sql + " limit ?", (patient.subject_id, limit)).fetchall()


def _conditions(con: sqlite3.Connection, patient: FhirPatient) -> list[dict[str, Any]]:
    rows = _rows(con, "select d.icd9_code, min(d.charttime), t.short_title from diagnoses_icd d join d_icd_diagnoses t "
                      "on t.icd9_code = d.icd9_code where d.subject_id = ? group by d.icd9_code "
                      "order by min(d.charttime) desc, d.icd9_code", patient, PER_PATIENT["conditions"])
    return [{"resourceType": "Condition", "id": f"cond-{patient.mrn}-{k}", "subject": patient.reference,
             "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                            "code": "active"}]},
             "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                       "code": "problem-list-item", "display": "Problem List Item"}]}],
             "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-9-cm", "code": code}], "text": title},
             "recordedDate": when(_moment(charttime))}
            for k, (code, charttime, title) in enumerate(rows)]


def _moment(text: str | None) -> datetime:
    moment = shifted(text)
    assert moment is not None
    return moment


def _medications(con: sqlite3.Connection, patient: FhirPatient) -> list[dict[str, Any]]:
    rows = _rows(con, "select startdate, drug, dose_val_rx, dose_unit_rx, route from prescriptions "
                      "where subject_id = ? order by startdate desc, drug", patient, PER_PATIENT["medications"])
    return [{"resourceType": "MedicationRequest", "id": f"med-{patient.mrn}-{k}", "status": "completed",
             "intent": "order", "subject": patient.reference, "authoredOn": when(_moment(start)),
             "medicationCodeableConcept": {"text": drug},
             "dosageInstruction": [{"route": {"text": route},
                                    "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit}}]}]}
            for k, (start, drug, dose, unit, route) in enumerate(rows)]


def _procedures(con: sqlite3.Connection, patient: FhirPatient) -> list[dict[str, Any]]:
    rows = _rows(con, "select p.icd9_code, p.charttime, t.short_title from procedures_icd p join d_icd_procedures t "
                      "on t.icd9_code = p.icd9_code where p.subject_id = ? order by p.charttime desc, p.icd9_code",
                 patient, PER_PATIENT["procedures"])
    return [{"resourceType": "Procedure", "id": f"proc-{patient.mrn}-{k}", "status": "completed",
             "subject": patient.reference, "performedDateTime": when(_moment(charttime)),
             "code": {"coding": [{"system": "http://www.cms.gov/Medicare/Coding/ICD9", "code": code}], "text": title}}
            for k, (code, charttime, title) in enumerate(rows)]


def _vitals(con: sqlite3.Connection, patient: FhirPatient) -> list[dict[str, Any]]:
    marks = ",".join(str(i) for i in VITALS)
    rows = _rows(con, "select itemid, charttime, valuenum from chartevents where subject_id = ? "
                      f"and itemid in ({marks}) order by charttime desc, itemid", patient, PER_PATIENT["vitals"])
    return [{"resourceType": "Observation", "id": f"vital-{patient.mrn}-{k}", "status": "final",
             "category": [{"coding": [{"system": "http://hl7.org/fhir/observation-category", "code": "vital-signs",
                                       "display": "Vital Signs"}]}],
             "code": {"text": VITALS[item][0]}, "subject": patient.reference, "effectiveDateTime": when(_moment(t)),
             "valueQuantity": {"value": value, "unit": VITALS[item][1]}}
            for k, (item, t, value) in enumerate(rows)]


def _other_labs(con: sqlite3.Connection, patient: FhirPatient) -> list[dict[str, Any]]:
    labels = ",".join(f"'{label}'" for label in OTHER_LABS)
    rows = _rows(con, "select d.label, l.charttime, l.valuenum, l.valueuom from labevents l join d_labitems d "
                      f"on d.itemid = l.itemid where l.subject_id = ? and d.label in ({labels}) "
                      "order by l.charttime desc, d.label", patient, PER_PATIENT["labs"])
    return [lab(patient, OTHER_LABS[label], _moment(t), value, unit, label) for label, t, value, unit in rows]


def load_database(path: Path) -> sqlite3.Connection:
    """The EHR database, indexed in memory for the per-patient chart queries."""
    return indexed_copy(path)
