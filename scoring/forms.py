"""What counts as a well-formed answer, per answer kind: the lenient forms an agent may use (stated in
every task's `answer_format.how_to_submit`) and a check of an answer's form that computes no verdict
(`submit_answer(dry_run=true)`)."""

from __future__ import annotations

from typing import assert_never

from medgym.errors import AnswerFormatError, TaskNotScorableError
from scoring.code_keys import AssertsKey, FunctionOutputKey
from scoring.code_splice import read_analysis, read_submission
from scoring.dates import GESTATION_FORMS, parse_calendar_date, parse_gestational_age
from scoring.fhir_key import FhirTaskKey
from scoring.fhir_rules import answer_items, shape_of
from scoring.items import normalise_all, submitted_values
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
from scoring.numbers import finite_number
from scoring.score import AnswerValue
from scoring.verify import parse_boolean

ACCEPTED: dict[str, str] = {
    "number": 'Also accepted: the number as a string ("12.5"), with a sign, comma thousands separators or an '
              "exponent, and a one-item list ([12.5]); not units or other text.",
    "integer": 'Also accepted: "120", 120.0 and a one-item list ([120]); not 120.5.',
    "date": "Also accepted: M/D/YYYY, YYYY-MM-DD and a one-item list.",
    "gestational_age": f"Accepted forms: {GESTATION_FORMS}.",
    "list": 'Also accepted: a single value alone for a one-item answer, and a JSON list in a string '
            '("[\\"a\\", \\"b\\"]"); order and repeats do not matter; true/false count as 1/0; null, "" and [] '
            "mean no result; numbers are compared as numbers, text ignoring case and surrounding spaces.",
    "boolean": 'Also accepted: "yes"/"no" and "true"/"false" in any case, 1/0, "1"/"0" and a one-item list.',
    "text": "Also accepted: any case and surrounding spaces, and a one-item list.",
    "code": "Submit the code as one string.",
    "predictions": "Submit the file's name (relative to /workspace) as one string.",
}


def accepted_forms(kind: str) -> str:
    """The sentence listing the lenient forms of an answer kind ("" when there is none)."""
    return ACCEPTED.get(kind, "")


def check_form(key: AnswerKey, answer: AnswerValue) -> None:
    """Raise `AnswerFormatError` if `answer` is not a well-formed answer for `key`; compute no verdict.

    A predictions file's form is checked where it is graded (it is read out of the sandbox); code is
    checked as the grader checks it before running anything (Python source defining the function asked).
    """
    match key:
        case RangeKey() | IntegerKey():
            finite_number(answer)
        case RelativeKey():
            finite_number(answer, percent=True)
        case DateKey():
            parse_calendar_date(answer)
        case GestationalAgeKey():
            parse_gestational_age(answer)
        case ItemSetKey():
            normalise_all(submitted_values(answer))
        case BooleanKey():
            parse_boolean(answer)
        case TextKey():
            if isinstance(answer, list) and len(answer) != 1:
                raise AnswerFormatError(f"expected a single text answer; got a list of {len(answer)} items")
        case FhirTaskKey():
            answer_items(answer, shape_of(key.family))
        case PredictionsKey():
            pass
        case FunctionOutputKey():  # what the grader checks before it starts a container
            read_submission(answer, key.function)
        case AssertsKey():
            read_analysis(answer)
        case UnscorableKey():
            raise TaskNotScorableError(key.reason)
        case _:
            assert_never(key)
