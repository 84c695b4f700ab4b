"""The verifiers: one exact rule per answer-key kind, dispatched by `verify`.

A verifier returns a `Score` whose feedback says why without revealing the expected answer. A
submission that cannot be read as the task's kind of answer raises `AnswerFormatError`; a key no
verifier can score raises `TaskNotScorableError`. Anything else that goes wrong is a bug and is
left to raise, so the caller records a verifier crash rather than a wrong answer.
"""

from __future__ import annotations

from datetime import date
from typing import assert_never

from medgym.errors import AnswerFormatError, TaskNotScorableError
from scoring.code_keys import AssertsKey, FunctionOutputKey
from scoring.dates import parse_calendar_date, parse_gestational_age
from scoring.fhir_key import FhirTaskKey
from scoring.items import compare
from scoring.keys import (
    AnswerKey,
    BooleanKey,
    DateKey,
    GestationalAgeKey,
    IntegerKey,
    ItemSetKey,
    PredictionsKey,
    RangeKey,
    RelativeKey,
    TextKey,
    UnscorableKey,
)
from scoring.numbers import ONE_NUMBER, finite_number, is_huge, show, single
from scoring.score import AnswerValue, Score

# Floating-point slack on range and tolerance bounds (relative); far below any meaningful precision.
BOUND_SLACK = 1e-9
BOOLEAN_FORMS = 'a single boolean: true/false, "yes"/"no" or 1/0'
_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0"})


def verify(key: AnswerKey, answer: AnswerValue) -> Score:
    """Score `answer` against `key` with the key kind's exact rule."""
    match key:
        case RangeKey():
            return verify_range(key, answer)
        case DateKey():
            return verify_date(key, answer)
        case GestationalAgeKey():
            return verify_gestational_age(key, answer)
        case IntegerKey():
            return verify_integer(key, answer)
        case RelativeKey():
            return verify_relative(key, answer)
        case ItemSetKey():
            return verify_item_set(key, answer)
        case BooleanKey():
            return verify_boolean(key, answer)
        case TextKey():
            return verify_text(key, answer)
        case FhirTaskKey():  # needs the episode's FHIR writes: tools.grading scores it (scoring.fhir_rules)
            raise TaskNotScorableError("this answer is scored with the episode's FHIR server, not on its own")
        case UnscorableKey():
            raise TaskNotScorableError(key.reason)
        case PredictionsKey():  # graded from the episode's sandbox: tools.grading
            raise TaskNotScorableError("a predictions file is scored by submit_answer, not by verify")
        case FunctionOutputKey() | AssertsKey():  # graded by running the code (tools.grading), never here
            raise TaskNotScorableError("code answers are graded by running them in a grader sandbox")
    assert_never(key)


def _score(verifier: str, correct: bool, feedback: str) -> Score:
    return Score(
        correct=correct, score=1.0 if correct else 0.0, feedback=feedback, verifier=verifier, error=None
    )


def _within(value: float, low: float, high: float) -> bool:
    """low <= value <= high, each bound widened by BOUND_SLACK for floating-point representation."""
    return low - BOUND_SLACK * max(1.0, abs(low)) <= value <= high + BOUND_SLACK * max(1.0, abs(high))


def verify_range(key: RangeKey, answer: AnswerValue) -> Score:
    """MedCalcBench numbers: one finite number within [lower, upper] (bounds in either order)."""
    number = finite_number(answer)
    low, high = sorted((key.lower, key.upper))
    if _within(number, low, high):
        return _score("medcalc_range", True, "the number is within the accepted range")
    got = show(single(answer, ONE_NUMBER))
    return _score("medcalc_range", False, f"expected a number within the accepted range; got {got}")


def verify_date(key: DateKey, answer: AnswerValue) -> Score:
    """MedCalcBench dates: the same calendar date."""
    submitted = parse_calendar_date(answer)
    if submitted == date.fromisoformat(key.date):
        return _score("date", True, "the date is the expected calendar date")
    return _score("date", False, f"expected the same calendar date; got {submitted:%m/%d/%Y}")


def verify_gestational_age(key: GestationalAgeKey, answer: AnswerValue) -> Score:
    """MedCalcBench gestational age: the same (weeks, days) pair, as documented (0w8d is not 1w1d)."""
    weeks, days = parse_gestational_age(answer)
    if (weeks, days) == (key.weeks, key.days):
        return _score("gestational_age", True, "the gestational age is the expected one")
    got = f"{weeks} weeks {days} days"
    return _score("gestational_age", False, f"expected the same gestational age; got {got}")


def verify_integer(key: IntegerKey, answer: AnswerValue) -> Score:
    """N-PowerAI sample size: the number equals the integer exactly (120.0 counts, 120.5 does not)."""
    number = finite_number(answer)
    if number == key.value:
        return _score("integer_exact", True, "the number is exactly the expected integer")
    got = show(single(answer, ONE_NUMBER))
    return _score("integer_exact", False, f"expected exactly the integer answer; got {got}")


def verify_relative(key: RelativeKey, answer: AnswerValue) -> Score:
    """N-PowerAI power: |x - v| <= rel_tol * |v| (rel_tol absolute when v == 0); "85%" reads 0.85."""
    number = finite_number(answer, percent=True)
    tolerance = key.rel_tol * abs(key.value) if key.value != 0 else key.rel_tol
    within = f"{key.rel_tol * 100:g}%"
    if _within(number - key.value, -tolerance, tolerance):
        return _score("relative_tolerance", True, f"the number is within {within} of the answer")
    got = show(single(answer, ONE_NUMBER))
    return _score("relative_tolerance", False, f"expected a number within {within} of the answer; got {got}")


def verify_item_set(key: ItemSetKey, answer: AnswerValue) -> Score:
    """EHR question answering: the normalised submitted set equals the expected set."""
    if compare(key.items, answer).equal:
        return _score("item_set", True, "the submitted set matches the expected answer")
    # No counts of wrong or missing items: with resets they would make a membership oracle.
    return _score("item_set", False, "the submitted set differs from the expected answer")


def verify_boolean(key: BooleanKey, answer: AnswerValue) -> Score:
    """EHRCon: one boolean equal to the expected one."""
    if parse_boolean(answer) == key.value:
        return _score("boolean", True, "the boolean is the expected answer")
    return _score("boolean", False, "the submitted boolean is not the expected answer")


def parse_boolean(answer: AnswerValue) -> bool:
    """True/False, "true"/"false"/"yes"/"no" (any case), 1/0 or "1"/"0"; else AnswerFormatError."""
    value = single(answer, BOOLEAN_FORMS)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return value == 1
    word = value.strip().casefold() if isinstance(value, str) else None
    if word in _TRUE_WORDS or word in _FALSE_WORDS:
        return word in _TRUE_WORDS
    raise AnswerFormatError(f"expected {BOOLEAN_FORMS}; got {show(value)}")


def verify_text(key: TextKey, answer: AnswerValue) -> Score:
    """Trimmed, case-folded equality with any accepted string (a number is read as its text)."""
    value = single(answer, "a single text answer")
    if value is None or isinstance(value, bool) or is_huge(value):
        raise AnswerFormatError(f"expected a single text answer; got {show(value)}")
    text = str(value).strip().casefold()
    if text in {accepted.strip().casefold() for accepted in key.accepted}:
        return _score("text", True, "the text matches an accepted answer")
    return _score("text", False, f"the text matches none of the accepted answers; got {show(value)}")


VERIFIER_NAMES: dict[str, str] = {
    "range": "medcalc_range", "date": "date", "gestational_age": "gestational_age", "integer": "integer_exact",
    "relative": "relative_tolerance", "item_set": "item_set", "boolean": "boolean", "text": "text",
    "predictions": "predictions_auroc",
    "fhir": "medagentbench_fhir",
    "function_output": "code_output", "asserts": "code_asserts",
}


def verifier_name(key: AnswerKey) -> str | None:
    """The name of the verifier that scores `key` (None when the task is not scorable here)."""
    return VERIFIER_NAMES.get(key.kind)
