"""Reference solutions of the `medgym_fhir` tasks: Python that uses ONLY the FHIR API (urllib, from
inside the episode's sandbox), makes the writes the task requires and prints the answer as JSON on
its last line. Written independently of the grader (`scoring.fhir_rules`): they search the server
the way an agent would (`_sort=-date`, `date=ge...`), the grader reads the pristine files.
"""

from __future__ import annotations

PRELUDE = r'''
import json, urllib.parse, urllib.request
from datetime import datetime, timedelta
BASE = "http://fhir:8080/fhir/"
NOW = "2023-11-13T10:15:00+00:00"

def get(path, **params):
    with urllib.request.urlopen(BASE + path + "?" + urllib.parse.urlencode(params), timeout=60) as reply:
        return [e["resource"] for e in json.load(reply).get("entry", [])]

def post(path, resource):
    request = urllib.request.Request(BASE + path, data=json.dumps(resource).encode(), method="POST",
                                     headers={"Content-Type": "application/fhir+json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.status == 201, reply.status
        return json.load(reply)

def newest(mrn, code, since=None):
    params = {"patient": mrn, "code": code, "_sort": "-date", "_count": 1}
    if since:
        params["date"] = "ge" + since
    found = get("Observation", **params)
    return found[0] if found else None

def since_day_ago():
    return (datetime.fromisoformat(NOW) - timedelta(hours=24)).isoformat()

def subject(mrn):
    return {"reference": "Patient/" + mrn}
'''

FIND_PATIENT = r'''
given, family, born = {given!r}, {family_name!r}, {born!r}
found = [p for p in get("Patient", given=given, family=family, birthdate=born)
         if any(n.get("family") == family and given in n.get("given", []) for n in p.get("name", []))
         and p.get("birthDate") == born]
mrns = [i["value"] for p in found for i in p.get("identifier", []) if i.get("system") == "{system}"]
print(json.dumps([mrns[0]] if mrns else ["Patient not found"]))
'''

AGE = r'''
(patient,) = get("Patient", identifier={mrn!r})
born = datetime.fromisoformat(patient["birthDate"]).date()
today = datetime.fromisoformat(NOW).date()
print(json.dumps([today.year - born.year - ((today.month, today.day) < (born.month, born.day))]))
'''

RECORD_BP = r'''
post("Observation", {{"resourceType": "Observation", "status": "final",
    "category": [{{"coding": [{{"system": "http://hl7.org/fhir/observation-category", "code": "vital-signs",
                              "display": "Vital Signs"}}]}}],
    "code": {{"text": "BP"}}, "effectiveDateTime": NOW, "valueString": {value!r}, "subject": subject({mrn!r})}})
print(json.dumps(["recorded"]))
'''

LATEST_IN_DAY = r'''
last = newest({mrn!r}, {code!r}, since_day_ago())
print(json.dumps([last["valueQuantity"]["value"] if last else -1]))
'''

MAGNESIUM = r'''
mrn = {mrn!r}
last = newest(mrn, "MG", since_day_ago())
level = last["valueQuantity"]["value"] if last else None
if level is not None and level <= 1.9:
    grams = 4 if level < 1 else 2 if level < 1.5 else 1
    post("MedicationRequest", {{"resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": {{"coding": [{{"system": "http://hl7.org/fhir/sid/ndc", "code": "0338-1715-40"}}],
                                      "text": "magnesium sulfate in water for injection"}},
        "authoredOn": NOW, "subject": subject(mrn),
        "dosageInstruction": [{{"route": {{"text": "IV"}}, "doseAndRate": [{{
            "doseQuantity": {{"value": grams, "unit": "g"}}, "rateQuantity": {{"value": grams, "unit": "h"}}}}]}}]}})
print(json.dumps([level if level is not None else -1]))
'''

MEAN_IN_DAY = r'''
values = [o["valueQuantity"]["value"] for o in get("Observation", patient={mrn!r}, code="GLU",
                                                   date="ge" + since_day_ago(), _count=1000)]
print(json.dumps([sum(values) / len(values) if values else -1]))
'''

LATEST = r'''
last = newest({mrn!r}, {code!r})
print(json.dumps([last["valueQuantity"]["value"] if last else -1]))
'''

REFERRAL = r'''
post("ServiceRequest", {{"resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": "stat",
    "code": {{"coding": [{{"system": "http://snomed.info/sct", "code": "306181000000106",
                          "display": "Referral to orthopedic surgery service"}}]}},
    "authoredOn": NOW, "subject": subject({mrn!r}), "note": {{"text": {note!r}}}}})
print(json.dumps(["ordered"]))
'''

POTASSIUM = r'''
mrn = {mrn!r}
last = newest(mrn, "K")
level = last["valueQuantity"]["value"] if last else None
if level is not None and level < 3.5:
    dose = round((3.5 - level) * 100, 1)
    post("MedicationRequest", {{"resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": {{"coding": [{{"system": "http://hl7.org/fhir/sid/ndc", "code": "40032-917-01"}}],
                                      "text": "potassium chloride"}},
        "authoredOn": NOW, "subject": subject(mrn),
        "dosageInstruction": [{{"route": {{"text": "oral"}}, "doseAndRate": [{{"doseQuantity": {{"value": dose,
                                                                                          "unit": "mEq"}}}}]}}]}})
    morning = (datetime.fromisoformat(NOW) + timedelta(days=1)).replace(hour=8, minute=0)
    post("ServiceRequest", {{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "priority": "stat", "code": {{"coding": [{{"system": "http://loinc.org", "code": "2823-3"}}]}},
        "authoredOn": NOW, "subject": subject(mrn), "occurrenceDateTime": morning.isoformat()}})
print(json.dumps([level if level is not None else -1]))
'''

A1C = r'''
mrn = {mrn!r}
last = newest(mrn, "A1C")
year_ago = datetime.fromisoformat(NOW).replace(year=2022)
if last is None or datetime.fromisoformat(last["effectiveDateTime"]) < year_ago:
    post("ServiceRequest", {{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "priority": "stat", "code": {{"coding": [{{"system": "http://loinc.org", "code": "4548-4"}}]}},
        "authoredOn": NOW, "subject": subject(mrn)}})
print(json.dumps([last["valueQuantity"]["value"], last["effectiveDateTime"]] if last else [-1]))
'''


def reference(family: int, **params: object) -> str:
    """The reference solution of a task of `family` with its parameters filled in."""
    templates = {1: FIND_PATIENT, 2: AGE, 3: RECORD_BP, 4: LATEST_IN_DAY, 5: MAGNESIUM, 6: MEAN_IN_DAY, 7: LATEST,
                 8: REFERRAL, 9: POTASSIUM, 10: A1C}
    return PRELUDE + templates[family].format(**params)
