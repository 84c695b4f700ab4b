"""Certify FHIR tasks: each task gets a real episode bundle (sandbox + its own FHIR server).

For each task: the reference solution, run in the bundle, must score correct (its answer and the
writes its server recorded); constant answers with no writes ("do nothing") must score incorrect;
and for the families that write (3, 5, 8, 9, 10), "POST everything" — every order the family can
make, each twice, with the reference's own answer — must score incorrect, run for real after the
server is reloaded with the pristine EHR.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from medgym.errors import AnswerFormatError, MedgymError
from sandbox.contract import SandboxSpec
from sandbox.fhir_sandbox import FhirSandbox
from scoring.fhir_chart import Chart
from scoring.fhir_key import FhirTaskKey
from scoring.fhir_rules import score_fhir
from scoring.score import AnswerValue
from task_store.fhir_seed import seed_file
from task_store.models import Task
from tools.fhir_episodes import FhirEpisodes, missing_ehr
from tools.fhir_grading import pristine_chart

log = logging.getLogger(__name__)

SOLUTION_TIMEOUT_S = 120.0
WRITING_FAMILIES = (3, 5, 8, 9, 10)
CONSTANTS: tuple[AnswerValue, ...] = (0, 1, "0", ["0"], ["1"], [], "done")

# runs in the sandbox: POSTs every resource of the family's kinds of order, twice, then prints the answer
POST_EVERYTHING = r'''
import json, urllib.request
BASE, NOW, MRN, ANSWER, FAMILY = "http://fhir:8080/fhir/", "2023-11-13T10:15:00+00:00", {mrn!r}, {answer!r}, {family}
subject = {{"reference": "Patient/" + MRN}}
def post(kind, resource):
    resource = {{"status": "active", "intent": "order", "authoredOn": NOW, **resource, "resourceType": kind,
                "subject": subject}}
    request = urllib.request.Request(BASE + kind, data=json.dumps(resource).encode(), method="POST",
                                     headers={{"Content-Type": "application/fhir+json"}})
    urllib.request.urlopen(request, timeout=60).close()
def coded(system, code):
    return {{"coding": [{{"system": system, "code": code}}]}}
def medication(ndc, route, value, unit, rate=None):
    dose = {{"doseQuantity": {{"value": value, "unit": unit}}}}
    if rate:
        dose["rateQuantity"] = {{"value": rate, "unit": "h"}}
    return {{"medicationCodeableConcept": coded("http://hl7.org/fhir/sid/ndc", ndc),
            "dosageInstruction": [{{"route": {{"text": route}}, "doseAndRate": [dose]}}]}}
orders = {{
    3: [("Observation", {{"status": "final", "code": {{"text": "BP"}}, "effectiveDateTime": NOW,
                         "valueString": "120/80 mmHg", "category": [{{"coding": [{{
                             "system": "http://hl7.org/fhir/observation-category", "code": "vital-signs"}}]}}]}})],
    5: [("MedicationRequest", medication("0338-1715-40", "IV", g, "g", g)) for g in (1, 2, 4)],
    8: [("ServiceRequest", {{"code": coded("http://snomed.info/sct", "306181000000106"), "priority": "stat",
                           "note": {{"text": "referral"}}}})],
    9: [("MedicationRequest", medication("40032-917-01", "oral", 40, "mEq")),
        ("ServiceRequest", {{"code": coded("http://loinc.org", "2823-3"), "priority": "stat",
                           "occurrenceDateTime": "2023-11-14T08:00:00+00:00"}})],
    10: [("ServiceRequest", {{"code": coded("http://loinc.org", "4548-4"), "priority": "stat"}})],
}}[FAMILY]
for kind, resource in orders + orders:
    post(kind, resource)
print(json.dumps(ANSWER))
'''


def check_fhir_task(fhir: FhirEpisodes, spec: SandboxSpec, directory: Path, task: Task, key: FhirTaskKey,
                    solution: str | None) -> tuple[bool, bool, str]:
    """(reference correct, probes incorrect, detail) for one task, in a fresh episode bundle."""
    chart = pristine_chart(directory, key)
    constants_ok = not any(_scores(key, chart, c, []) for c in CONSTANTS)
    if not solution:
        return False, constants_ok, "no reference solution"
    if seed_file(directory, fhir.cache) is None:
        return False, constants_ok, missing_ehr(directory)
    bundle = fhir.sandbox(spec, directory)  # pooled: the next task's bundle starts while this one runs
    try:
        assert isinstance(bundle, FhirSandbox)
        return _in_bundle(bundle, task, key, chart, solution, constants_ok)
    finally:
        bundle.close()


def _in_bundle(bundle: FhirSandbox, task: Task, key: FhirTaskKey, chart: Chart, solution: str,
               constants_ok: bool) -> tuple[bool, bool, str]:
    answer, problem = _run(bundle, solution)
    if problem:
        return False, constants_ok, problem
    if not _scores(key, chart, answer, bundle.writes()):
        return False, constants_ok, "reference incorrect"
    if key.family in WRITING_FAMILIES:
        bundle.reload()
        probe, problem = _run(bundle, POST_EVERYTHING.format(mrn=key.mrn, answer=answer, family=key.family))
        if problem or _scores(key, chart, probe, bundle.writes()):
            return True, False, problem or "POST everything scores correct"
    return True, constants_ok, "ok" if constants_ok else "a constant answer scores correct"


def _run(bundle: FhirSandbox, code: str) -> tuple[Any, str | None]:
    result = bundle.run(code, SOLUTION_TIMEOUT_S, 1 << 20)
    lines = result.stdout.strip().splitlines()
    if result.exit_code != 0 or not lines:
        return None, f"program exited {result.exit_code}: {result.stderr.strip()[-300:]}"
    try:
        return json.loads(lines[-1]), None
    except ValueError:
        return None, "the program's last line is not JSON"


def _scores(key: FhirTaskKey, chart: Chart, answer: AnswerValue, writes: list[dict[str, Any]]) -> bool:
    try:
        return score_fhir(key, chart, answer, writes).correct
    except AnswerFormatError:
        return False
    except MedgymError as exc:
        log.warning("scoring failed: %s", exc)
        return False
