"""The MedAgentBench scoring rules (scoring.fhir_*), without a server: charts and writes made here.

Each family's rule, its dosing bands and boundaries, "no write where none is due", the deviations
from the upstream grader that docs/FHIR.md lists, and feedback that never quotes an expected value.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from medgym.errors import AnswerFormatError, TaskNotScorableError
from scoring.fhir_chart import Chart, ChartIndex, Measurement
from scoring.fhir_key import FhirTaskKey
from scoring.fhir_rules import expected_for, score_fhir
from scoring.keys import AnswerKey
from scoring.score import AnswerValue
from scoring.verify import verify
from task_store.fhir_seed import read_resources, seed_file, seed_sources

NOW = datetime(2023, 11, 13, 10, 15, tzinfo=UTC)
MRN = "S1234567"
SUBJECT = {"reference": f"Patient/{MRN}"}


def chart(code: str | None = None, *points: tuple[timedelta, float], born: date = date(1960, 11, 14)) -> Chart:
    measurements = tuple(Measurement(NOW - age, (NOW - age).isoformat(), value) for age, value in points)
    return Chart(MRN, born, {code: measurements} if code else {})


def key(family: int, **fields: Any) -> FhirTaskKey:
    return FhirTaskKey(family=family, mrn=MRN, **fields)


def created(resource: dict[str, Any]) -> dict[str, Any]:
    return {"interaction": "create", "resource": {**resource, "id": "x1", "meta": {"versionId": "1"}}}


def magnesium_order(grams: float, route: Any = "IV") -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": SUBJECT,
            "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc",
                                                      "code": "0338-1715-40"}]},
            "authoredOn": "2023-11-13T10:15:00+00:00", "dosageInstruction": [{"route": route, "doseAndRate": [{
                "doseQuantity": {"value": grams, "unit": "g"}, "rateQuantity": {"value": grams, "unit": "h"}}]}]}


def potassium_orders(dose: float) -> list[dict[str, Any]]:
    return [
        {"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": SUBJECT,
         "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "40032-917-01"}]},
         "authoredOn": "2023-11-13T10:15:30+00:00",
         "dosageInstruction": [{"route": {"text": "Oral"}, "doseAndRate": [{"doseQuantity": {"value": dose,
                                                                                            "unit": "mEq"}}]}]},
        service("http://loinc.org", "2823-3", occurrenceDateTime="2023-11-14T08:00:00-05:00"),
    ]


def service(system: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": "stat",
            "subject": SUBJECT, "code": {"coding": [{"system": system, "code": code}]},
            "authoredOn": "2023-11-13T10:15:00Z", **extra}


BP = {"resourceType": "Observation", "status": "final", "code": {"text": "BP"}, "subject": SUBJECT,
      "category": [{"coding": [{"system": "http://hl7.org/fhir/observation-category", "code": "vital-signs",
                                "display": "Vital Signs"}]}],
      "effectiveDateTime": "2023-11-13T10:15:00+00:00", "valueString": "118/77 mmHg"}
NOTE = "Situation: knee. Recommendation: evaluate."


def correct(k: FhirTaskKey, c: Chart, answer: Any, writes: list[dict[str, Any]] | None = None) -> bool:
    return score_fhir(k, c, answer, [created(w) for w in writes or []]).correct


# -- families without writes ----------------------------------------------------------------------------
def test_family1_text_and_no_write() -> None:
    k = key(1, accepted=["Patient not found"])
    assert correct(k, Chart(None), "patient not found ") and correct(k, Chart(None), ["Patient not found"])
    assert correct(k, Chart(None), '["Patient not found"]')
    assert not correct(k, Chart(None), "S1234567")
    assert not correct(k, Chart(None), "Patient not found", [BP])  # a write where none is due


def test_family2_age_turns_on_the_birthday() -> None:
    assert correct(key(2), chart(born=date(1960, 11, 13)), [63])  # birthday today: 63
    assert correct(key(2), chart(born=date(1960, 11, 14)), 62)  # tomorrow: still 62
    assert not correct(key(2), chart(born=date(1960, 11, 14)), 62.5)
    with pytest.raises(TaskNotScorableError):
        score_fhir(key(2), Chart(None), 62, [])


@pytest.mark.parametrize(("points", "expected"), [
    (((timedelta(hours=2), 1.8), (timedelta(hours=5), 1.2)), 1.8),  # the newest, not the lowest
    (((timedelta(hours=24), 1.4),), 1.4),  # exactly 24 h ago counts (>= cutoff)
    (((timedelta(hours=24, minutes=1), 1.4),), -1),  # just outside
    ((), -1),
])
def test_family4_newest_magnesium_within_a_day(points: tuple[tuple[timedelta, float], ...], expected: float) -> None:
    c = chart("MG", *points)
    assert correct(key(4), c, [expected]) and correct(key(4), c, str(expected))
    assert not correct(key(4), c, [expected + 0.1])


def test_family6_mean_within_a_tenth() -> None:
    c = chart("GLU", (timedelta(hours=1), 100), (timedelta(hours=3), 151), (timedelta(hours=30), 400))
    assert correct(key(6), c, [125.5]) and correct(key(6), c, 125.58)
    assert not correct(key(6), c, 125.61) and not correct(key(6), c, -1)
    assert correct(key(6), chart("GLU", (timedelta(hours=30), 400)), [-1])


def test_family7_newest_of_all_time() -> None:
    c = chart("GLU", (timedelta(days=40), 101), (timedelta(days=400), 88))
    assert correct(key(7), c, [101]) and not correct(key(7), c, [88])
    assert correct(key(7), chart("GLU"), [-1])


# -- families that write --------------------------------------------------------------------------------
def test_family3_records_exactly_one_observation() -> None:
    k = key(3, value="118/77 mmHg")
    assert correct(k, chart(), "done", [BP])
    assert correct(k, chart(), [], [{**BP, "effectiveDateTime": "2023-11-13T10:15:00Z"}])  # the same instant
    assert not correct(k, chart(), "done")  # nothing recorded
    assert not correct(k, chart(), "done", [BP, BP])  # twice
    assert not correct(k, chart(), "done", [{**BP, "valueString": "118/78 mmHg"}])
    assert not correct(k, chart(), "done", [{**BP, "subject": {"reference": "Patient/S7654321"}}])


@pytest.mark.parametrize(("level", "grams"), [(0.9, 4), (1.0, 2), (1.4, 2), (1.5, 1), (1.9, 1), (2.0, None)])
def test_family5_dosing_bands(level: float, grams: int | None) -> None:
    c = chart("MG", (timedelta(hours=3), level))
    due = [magnesium_order(grams)] if grams else []
    assert correct(key(5), c, [level], due)
    assert not correct(key(5), c, [level], [] if grams else [magnesium_order(1)])
    if grams:
        other = 4 if grams != 4 else 2
        result = score_fhir(key(5), c, [level], [created(magnesium_order(other))])
        assert not result.correct and "dose" in result.feedback and str(level) not in result.feedback


def test_family5_stale_or_missing_level_orders_nothing_and_answers_minus_one() -> None:
    stale = chart("MG", (timedelta(hours=30), 0.8))
    assert correct(key(5), stale, [-1])
    assert not correct(key(5), stale, [-1], [magnesium_order(4)])
    assert not correct(key(5), stale, [1.9])  # deviation: upstream accepts any answer here, and [] always
    with pytest.raises(AnswerFormatError):
        correct(key(5), stale, [])


def test_family5_route_as_string_or_codeable_concept() -> None:
    c = chart("MG", (timedelta(hours=3), 1.2))
    for route in ("IV", "iv", {"text": "IV"}, {"coding": [{"code": "IV"}]}):
        assert correct(key(5), c, 1.2, [magnesium_order(2, route)])
    assert not correct(key(5), c, 1.2, [magnesium_order(2, "oral")])


@pytest.mark.parametrize(("level", "dose"), [(3.4, 10), (3.1, 40), (2.5, 100)])
def test_family9_potassium_in_either_order(level: float, dose: float) -> None:
    c = chart("K", (timedelta(days=3), level), (timedelta(days=30), 4.4))
    orders = potassium_orders(dose + 0.05)
    assert correct(key(9), c, [level], orders) and correct(key(9), c, [level], orders[::-1])
    assert not correct(key(9), c, [level], orders[:1])
    assert not correct(key(9), c, [level], potassium_orders(dose + 0.2))
    late = copy.deepcopy(orders)
    late[1]["occurrenceDateTime"] = "2023-11-14T09:00:00-05:00"
    assert not correct(key(9), c, [level], late)


def test_family9_no_order_at_or_above_goal() -> None:
    assert correct(key(9), chart("K", (timedelta(days=3), 3.5)), 3.5)
    assert not correct(key(9), chart("K", (timedelta(days=3), 3.5)), 3.5, potassium_orders(0))
    assert correct(key(9), chart("K"), [-1])


def test_family10_a1c_value_time_and_order() -> None:
    a1c = service("http://loinc.org", "4548-4")
    fresh = chart("A1C", (timedelta(days=364), 7.9))
    written = (NOW - timedelta(days=364)).isoformat()
    assert correct(key(10), fresh, [7.9, written])
    assert correct(key(10), fresh, [7.9, written.replace("+00:00", "Z")])  # the same instant
    assert not correct(key(10), fresh, [7.9, written], [a1c])
    stale = chart("A1C", (timedelta(days=366), 6.1))
    assert correct(key(10), stale, [6.1, (NOW - timedelta(days=366)).isoformat()], [a1c])
    assert not correct(key(10), stale, [6.1, (NOW - timedelta(days=366)).isoformat()])
    assert correct(key(10), chart("A1C"), [-1], [a1c]) and correct(key(10), chart("A1C"), -1, [a1c])
    assert not correct(key(10), fresh, [7.9]) and not correct(key(10), fresh, ["no such item"])
    with pytest.raises(AnswerFormatError):
        score_fhir(key(10), fresh, [7.9, written, "x"], [])


def test_family8_referral_note_as_object_or_annotations() -> None:
    k = key(8, note=NOTE)
    snomed = ("http://snomed.info/sct", "306181000000106")
    assert correct(k, chart(), "ok", [service(*snomed, note={"text": "Order. " + NOTE})])
    assert correct(k, chart(), "ok", [service(*snomed, note=[{"text": NOTE}])])
    assert not correct(k, chart(), "ok", [service(*snomed, note={"text": "Situation: knee."})])
    assert not correct(k, chart(), "ok", [service(*snomed, note={"text": NOTE}, priority="routine")])


def test_updates_and_deletes_are_writes() -> None:
    writes = [{"interaction": "delete", "resource": {"resourceType": "Observation", "id": "lab-1"}}]
    assert not score_fhir(key(4), chart("MG"), [-1], writes).correct


def test_answers_that_cannot_be_read_are_format_errors() -> None:
    answers: list[AnswerValue] = ["about 1.8", ["1.8", "2.0"], "[1.8", ""]
    for answer in answers:
        with pytest.raises(AnswerFormatError):
            score_fhir(key(4), chart("MG"), answer, [])


def test_feedback_never_quotes_the_expected_value() -> None:
    c = chart("MG", (timedelta(hours=1), 1.37))
    tries: list[tuple[float, list[dict[str, Any]]]] = [(1.2, [magnesium_order(2)]), (1.37, []),
                                                      (1.37, [magnesium_order(4)])]
    for answer, writes in tries:
        feedback = score_fhir(key(5), c, [answer], [created(w) for w in writes]).feedback
        assert "1.37" not in feedback and "2 g" not in feedback


def test_fhir_keys_are_answer_keys_scored_only_with_a_server() -> None:
    from pydantic import TypeAdapter

    parsed = TypeAdapter(AnswerKey).validate_python({"kind": "fhir", "family": 4, "mrn": MRN})
    assert isinstance(parsed, FhirTaskKey)
    with pytest.raises(TaskNotScorableError):
        verify(parsed, 1.8)


def test_chart_index_finds_patients_by_id_or_identifier(tmp_path: Path) -> None:
    patient = {"resourceType": "Patient", "id": "p-1", "birthDate": "1950-02-03",
               "identifier": [{"system": "x", "value": MRN}]}
    lab = {"resourceType": "Observation", "subject": {"reference": "Patient/p-1"}, "code": {"coding": [{"code": "K"}]},
           "effectiveDateTime": "2023-11-10T08:00:00+00:00", "valueQuantity": {"value": 3.2}}
    index = ChartIndex.build([patient, lab, {**lab, "valueQuantity": None}])
    found = index.chart(MRN)
    assert found.patient_id == "p-1" and [m.value for m in found.lab("K")] == [3.2]
    assert index.chart("S0000000").patient_id is None
    assert expected_for(key(9), found).orders  # 3.2 is low: orders are due


def test_ehr_files_json_bundle_and_ndjson(tmp_path: Path) -> None:
    folder = tmp_path / "medagentbench" / "fhir"
    folder.mkdir(parents=True)
    resources = [{"resourceType": "Patient", "id": f"S{n}"} for n in range(4)]
    (folder / "Patient.ndjson").write_text("\n".join(json.dumps(r) for r in resources[:2]) + "\n")
    (folder / "bundle.json").write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                                    "entry": [{"resource": r} for r in resources[2:]]}))
    sources = seed_sources(tmp_path / "medagentbench")
    assert [r["id"] for r in read_resources(sources)] == ["S0", "S1", "S2", "S3"]
    joined = seed_file(tmp_path / "medagentbench", tmp_path / "cache")
    assert joined is not None and joined.parent == tmp_path / "cache"
    assert sorted(r["id"] for r in json.loads(joined.read_text())) == ["S0", "S1", "S2", "S3"]
    assert seed_file(tmp_path / "nothing", tmp_path / "cache") is None
