"""Scoring of the ten MedAgentBench task families: the submitted answer and the agent's FHIR writes.

`score_fhir(key, chart, answer, writes)` is pure: `chart` is the patient's PRISTINE chart (read
from the data the episode's server was loaded with, never from the server the agent could
change) and `writes` is what the agent's server recorded (`{"interaction", "resource"}` items).
The expected answer and the orders that are due follow MedAgentBench's reference grader
(`src/server/tasks/medagentbench/refsol.py`); the deviations are listed in `docs/FHIR.md`.

| family | answer | writes |
|---|---|---|
| 1 | the MRN, or "Patient not found" | none |
| 2 | age in whole years at "now" | none |
| 3 | not checked | one vital-signs Observation (BP) |
| 4 | newest MG within 24 h, or -1 | none |
| 5 | newest MG within 24 h, or -1 | IV magnesium by band if <= 1.9 mg/dL, else none |
| 6 | mean GLU within 24 h (within 0.1), or -1 | none |
| 7 | newest GLU, or -1 | none |
| 8 | not checked | one orthopedic referral ServiceRequest with the note |
| 9 | newest K, or -1 | if K < 3.5: oral potassium (10 mEq per 0.1 below 3.5) and a K lab the next day at 8 |
| 10 | [newest A1C, its time], or [-1] | an A1C lab order when none is newer than a year |
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from medgym.errors import AnswerFormatError, TaskNotScorableError
from scoring import fhir_orders as orders
from scoring.fhir_chart import Chart, Measurement, parse_instant
from scoring.fhir_key import FhirTaskKey
from scoring.fhir_orders import Order
from scoring.numbers import as_number, show
from scoring.score import AnswerValue, Scalar, Score

VERIFIER = "medagentbench_fhir"
FAMILY_LAB = {4: "MG", 5: "MG", 6: "GLU", 7: "GLU", 9: "K", 10: "A1C"}
NUMBER_SLACK = 1e-6  # the grader compares parsed JSON numbers exactly; this only absorbs float noise
MEAN_TOLERANCE = 0.1  # family 6, as the grader
MISSING = -1
AnswerShape = Literal["text", "integer", "number", "value_and_time", "unchecked"]
FORMS: dict[AnswerShape, str] = {
    "text": 'one string (the MRN, or "Patient not found")', "integer": "one integer",
    "number": "one number (-1 when there is no measurement)",
    "value_and_time": "a list [value, \"ISO date-time\"] ([-1] when there is no measurement)",
    "unchecked": "any short confirmation",
}


@dataclass(frozen=True)
class Expected:
    shape: AnswerShape
    answer: tuple[Scalar, ...] = ()
    orders: tuple[Order, ...] = ()
    tolerance: float = NUMBER_SLACK


def shape_of(family: int) -> AnswerShape:
    shapes: dict[int, AnswerShape] = {1: "text", 2: "integer", 3: "unchecked", 8: "unchecked", 10: "value_and_time"}
    return shapes.get(family, "number")


def score_fhir(key: FhirTaskKey, chart: Chart, answer: AnswerValue, writes: Sequence[Mapping[str, Any]]) -> Score:
    """The verdict on one submission: its writes must be exactly the orders due, and its answer right."""
    items = answer_items(answer, shape_of(key.family))
    expected = expected_for(key, chart)
    problem = orders.match(expected.orders, writes)
    if problem is not None:
        return _score(False, problem)
    if not answer_matches(expected, items):
        return _score(False, f"the writes are right, but the answer is not the expected one; got {_echo(items)}")
    return _score(True, "the answer and the writes to the FHIR server are what the task requires")


def _score(correct: bool, feedback: str) -> Score:
    return Score(correct=correct, score=1.0 if correct else 0.0, feedback=feedback, verifier=VERIFIER, error=None)


def _echo(items: list[Scalar]) -> str:
    return show(items[0]) if len(items) == 1 else "[" + ", ".join(show(i, 40) for i in items[:4]) + "]"


# -- what is expected --------------------------------------------------------------------------------------
def expected_for(key: FhirTaskKey, chart: Chart) -> Expected:
    now = _now(key)
    if key.family == 1:
        return Expected("text", tuple(key.accepted))
    patient = chart.patient_id
    if patient is None:
        raise TaskNotScorableError(f"the task's patient {key.mrn} is not in this FHIR data")
    if key.family in (3, 8):
        order = _family3(key, patient, now) if key.family == 3 else _family8(key, patient, now)
        return Expected("unchecked", orders=(order,))
    if key.family == 2:
        return Expected("integer", (_age(chart, now),))
    labs = chart.lab(FAMILY_LAB[key.family])
    return _lab_family(key.family, labs, patient, now)


def _now(key: FhirTaskKey) -> datetime:
    now = parse_instant(key.now)
    if now is None:
        raise TaskNotScorableError(f"the task's time {key.now!r} is not an ISO date-time")
    return now


def _age(chart: Chart, now: datetime) -> int:
    born = chart.birth_date
    if born is None:
        raise TaskNotScorableError("the task's patient has no birth date in this FHIR data")
    today = now.date()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _family3(key: FhirTaskKey, patient: str, now: datetime) -> Order:
    if key.value is None:
        raise TaskNotScorableError("this task's key has no value to record")
    return orders.vitals_observation(patient, now, orders.BP_FLOWSHEET, key.value)


def _family8(key: FhirTaskKey, patient: str, now: datetime) -> Order:
    return orders.service_order(patient, now, orders.SNOMED, orders.REFERRAL_SNOMED, note=key.note or "")


def newest(labs: tuple[Measurement, ...], since: datetime | None = None) -> Measurement | None:
    """The latest measurement (at or after `since`); the first of equal times, as the grader's loop."""
    best: Measurement | None = None
    for item in labs:
        if (since is None or item.time >= since) and (best is None or item.time > best.time):
            best = item
    return best


def _lab_family(family: int, labs: tuple[Measurement, ...], patient: str, now: datetime) -> Expected:
    day_ago = now - timedelta(hours=24)
    if family == 6:
        recent = [m.value for m in labs if m.time >= day_ago]
        return Expected("number", (sum(recent) / len(recent) if recent else MISSING,), tolerance=MEAN_TOLERANCE)
    last = newest(labs, day_ago if family in (4, 5) else None)
    value: Scalar = last.value if last is not None else MISSING
    if family == 5:
        return Expected("number", (value,), _magnesium(last, patient, now))
    if family == 9:
        return Expected("number", (value,), _potassium(last, patient, now))
    if family == 10:
        return _a1c(last, patient, now)
    return Expected("number", (value,))


def _magnesium(last: Measurement | None, patient: str, now: datetime) -> tuple[Order, ...]:
    if last is None or last.value > 1.9:
        return ()
    grams = 4.0 if last.value < 1 else 2.0 if last.value < 1.5 else 1.0
    return (orders.medication_order(patient, now, orders.MAGNESIUM_NDC, "IV", (grams, "g", 0.0), (grams, "h")),)


def _potassium(last: Measurement | None, patient: str, now: datetime) -> tuple[Order, ...]:
    if last is None or last.value >= 3.5:
        return ()
    dose = (3.5 - last.value) / 0.1 * 10
    return (orders.medication_order(patient, now, orders.POTASSIUM_NDC, "oral", (dose, "mEq", 0.1), None),
            orders.service_order(patient, now, orders.LOINC, orders.POTASSIUM_LOINC,
                                 occurrence=orders.next_morning(now)))


def _a1c(last: Measurement | None, patient: str, now: datetime) -> Expected:
    order = (orders.service_order(patient, now, orders.LOINC, orders.A1C_LOINC),)
    if last is None:
        return Expected("value_and_time", (MISSING,), order)
    stale = last.time < now.replace(year=now.year - 1)
    return Expected("value_and_time", (last.value, last.written), order if stale else ())


# -- reading and comparing the answer ----------------------------------------------------------------------
def answer_items(answer: AnswerValue, shape: AnswerShape) -> list[Scalar]:
    """The submission as a list: a list as given, a string holding a JSON list parsed, a scalar as [it]."""
    if shape == "unchecked":
        return answer if isinstance(answer, list) else [answer]
    items = _as_list(answer)
    if shape == "value_and_time":
        if len(items) not in (1, 2):  # [value] alone is readable (and wrong unless there is no result)
            raise AnswerFormatError(f"expected {FORMS[shape]}; got {_echo(items) if items else 'an empty list'}")
        return items
    if len(items) != 1:
        raise AnswerFormatError(f"expected {FORMS[shape]}; got a list of {len(items)} items")
    if shape != "text" and as_number(items[0]) is None:
        raise AnswerFormatError(f"expected {FORMS[shape]}; got {show(items[0])}")
    return items


def _as_list(answer: AnswerValue) -> list[Scalar]:
    if isinstance(answer, list):
        return answer
    if isinstance(answer, str) and answer.strip().startswith("["):
        try:
            parsed = json.loads(answer)
        except ValueError:
            raise AnswerFormatError(f"the answer looks like a list but is not valid JSON: {show(answer)}") from None
        if isinstance(parsed, list) and all(isinstance(i, str | int | float | bool) or i is None for i in parsed):
            return parsed
        raise AnswerFormatError("a list answer holds strings or numbers, not nested lists or objects")
    return [answer]


def answer_matches(expected: Expected, items: list[Scalar]) -> bool:
    if expected.shape == "unchecked":
        return True
    if expected.shape == "text":
        accepted = {str(a).strip().casefold() for a in expected.answer}
        return isinstance(items[0], str | int) and str(items[0]).strip().casefold() in accepted
    if expected.shape == "value_and_time" and len(expected.answer) == 2:
        return len(items) == 2 and _same_number(items[0], expected.answer[0], NUMBER_SLACK) and (
            parse_instant(items[1]) is not None and parse_instant(items[1]) == parse_instant(expected.answer[1]))
    if len(items) != len(expected.answer):
        return False
    return _same_number(items[0], expected.answer[0], expected.tolerance)


def _same_number(got: Scalar, want: Scalar, tolerance: float) -> bool:
    number, target = as_number(got), as_number(want)
    if number is None or target is None:
        return False
    if target == MISSING:
        return number == MISSING
    return abs(number - target) <= tolerance * (max(1.0, abs(target)) if tolerance == NUMBER_SLACK else 1.0)
