"""What a FHIR task's agent is told about its EHR: the base URL its sandbox reaches, the functions
(FHIR interactions) it may use, and how to answer.

MedAgentBench gives its agents `funcs_v1.json` with `{api_base}` in each name; a user's data
directory supplies that file and it is shown with the base URL filled in. The built-in pack
(`medgym_fhir`) describes the same interactions in `PACK_FUNCTIONS`, in its own words.
"""

from __future__ import annotations

import json
from typing import Any

FHIR_BASE_URL = "http://fhir:8080/fhir/"  # as the episode's sandbox sees it (sandbox.fhir.FHIR_BASE_URL)


def _param(description: str, kind: str = "string") -> dict[str, str]:
    return {"type": kind, "description": description}


def _search(resource: str, description: str, params: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {"name": f"GET {{api_base}}/{resource}", "description": description,
            "parameters": {"type": "object", "properties": {k: _param(v) for k, v in params.items()},
                           "required": required}}


def _create(resource: str, description: str, fields: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {"name": f"POST {{api_base}}/{resource}", "description": description,
            "parameters": {"type": "object", "properties": {k: _param(v) for k, v in fields.items()},
                           "required": required}}


PATIENT = "the patient's FHIR id (the MRN), e.g. S1234567, or Patient/S1234567"
PACK_FUNCTIONS: list[dict[str, Any]] = [
    _search("Patient", "Find patients by demographics or identifier (the MRN).", {
        "identifier": "the MRN", "given": "given name", "family": "family name", "name": "any part of the name",
        "birthdate": "date of birth, YYYY-MM-DD", "gender": "male or female"}, []),
    _search("Observation", "Labs (category laboratory) and vitals (category vital-signs) of a patient. Lab codes "
            "are short codes such as MG, K, GLU, A1C; `date` takes prefixes (ge2023-11-12T10:15:00+00:00); "
            "`_sort=-date` gives the newest first and `_count` caps the page.", {
                "patient": PATIENT, "code": "the lab code", "category": "laboratory or vital-signs",
                "date": "when it was measured, with a prefix such as ge or le", "_sort": "e.g. -date",
                "_count": "page size"}, ["patient"]),
    _search("Condition", "The patient's problem list.", {"patient": PATIENT, "category": "problem-list-item"},
            ["patient"]),
    _search("MedicationRequest", "The patient's medication orders.", {"patient": PATIENT, "status": "e.g. active"},
            ["patient"]),
    _search("Procedure", "Procedures performed on the patient.", {"patient": PATIENT, "date": "date or range"},
            ["patient"]),
    _create("Observation", "Record a vital sign: a JSON Observation with resourceType, status \"final\", "
            "category [{\"coding\": [{\"system\": \"http://hl7.org/fhir/observation-category\", \"code\": "
            "\"vital-signs\", \"display\": \"Vital Signs\"}]}], code {\"text\": <flowsheet id>}, effectiveDateTime "
            "(ISO), valueString and subject {\"reference\": \"Patient/<id>\"}.", {
                "resourceType": "Observation", "status": "final", "category": "vital-signs category (see above)",
                "code": "{\"text\": flowsheet id}", "effectiveDateTime": "ISO date-time", "valueString": "the value",
                "subject": "{\"reference\": \"Patient/<id>\"}"},
            ["resourceType", "status", "category", "code", "effectiveDateTime", "valueString", "subject"]),
    _create("MedicationRequest", "Order a medication: medicationCodeableConcept {\"coding\": [{\"system\": "
            "\"http://hl7.org/fhir/sid/ndc\", \"code\": <NDC>}]}, authoredOn (ISO), dosageInstruction [{\"route\": "
            "{\"text\": <route>}, \"doseAndRate\": [{\"doseQuantity\": {\"value\": <number>, \"unit\": <unit>}, "
            "\"rateQuantity\": {\"value\": <number>, \"unit\": \"h\"}}]}], status \"active\", intent \"order\", "
            "subject.", {
                "resourceType": "MedicationRequest", "medicationCodeableConcept": "NDC coding",
                "authoredOn": "ISO date-time", "dosageInstruction": "route, dose (and rate)", "status": "active",
                "intent": "order", "subject": "{\"reference\": \"Patient/<id>\"}"},
            ["resourceType", "medicationCodeableConcept", "authoredOn", "dosageInstruction", "status", "intent",
             "subject"]),
    _create("ServiceRequest", "Order a lab test or a referral: code {\"coding\": [{\"system\": <LOINC "
            "http://loinc.org or SNOMED http://snomed.info/sct>, \"code\": <code>}]}, authoredOn (ISO), status "
            "\"active\", intent \"order\", priority \"stat\", subject, optionally note {\"text\": <free text>} and "
            "occurrenceDateTime (ISO: when it is to be done).", {
                "resourceType": "ServiceRequest", "code": "LOINC or SNOMED coding", "authoredOn": "ISO date-time",
                "status": "active", "intent": "order", "priority": "stat",
                "subject": "{\"reference\": \"Patient/<id>\"}", "note": "{\"text\": free text}",
                "occurrenceDateTime": "ISO date-time"},
            ["resourceType", "code", "authoredOn", "status", "intent", "priority", "subject"]),
]


def fill(functions: list[dict[str, Any]], base: str = FHIR_BASE_URL) -> list[dict[str, Any]]:
    """The functions with `{api_base}` replaced by the base URL (without its trailing slash)."""
    text = json.dumps(functions).replace("{api_base}", base.rstrip("/"))
    filled: list[dict[str, Any]] = json.loads(text)
    return filled


def instructions(functions: list[dict[str, Any]]) -> str:
    """A FHIR task's instructions: where the EHR is, how to call it, how to answer, the functions."""
    return (
        f"The patient's EHR is a FHIR R4 server at {FHIR_BASE_URL} (reachable from your run_code sandbox only; "
        "there is no other network and no data files). Query it from run_code with urllib.request or requests, "
        "JSON in and out (Content-Type application/fhir+json for POST). A search returns a Bundle: the "
        "resources are in entry[].resource. Make the orders or records the task asks for with POST, and only "
        "those: every write to the server is checked. Then call submit_answer with the answer as MedAgentBench's "
        "FINISH takes it: a JSON list such as [\"S1234567\"], [54], [1.8], [-1] or "
        "[6.1, \"2023-01-02T03:04:00+00:00\"] "
        "(a single value may also be given bare). The functions of this EHR (FHIR interactions):\n"
        + json.dumps(fill(functions), indent=1)
    )
