"""Answers that are scored by running something: code (in a fresh grader sandbox) and predictions
files (copied out of the episode's sandbox). `submit_answer` hands those keys here; every other key
is scored by a pure verifier (`scoring.verify`).

A grading failure that is not the submission's fault (the grader sandbox could not start, the
reference timed out) raises a `ServiceError`, so it is reported as a medgym problem and never
counted as an attempt.
"""

from __future__ import annotations

from medgym.errors import TaskNotScorableError
from scoring.fhir_key import FhirTaskKey
from scoring.keys import AnswerKey, PredictionsKey
from scoring.score import AnswerValue, Score
from tools.context import Call
from tools.episodes import Episode
from tools.predictions import grade_predictions

GRADED_KINDS: frozenset[str] = frozenset({"predictions", "fhir"})


def needs_grading(key: AnswerKey) -> bool:
    return key.kind in GRADED_KINDS


async def grade(call: Call, episode: Episode, task_id: str, key: AnswerKey, answer: AnswerValue) -> Score:
    """Score an answer that needs running code or reading the episode's sandbox."""
    if isinstance(key, PredictionsKey):
        return await grade_predictions(call, episode, task_id, key, answer)
    if isinstance(key, FhirTaskKey):  # the episode's FHIR writes and the pristine EHR
        from tools.fhir_grading import grade_fhir

        return await grade_fhir(call, episode, key, answer)
    raise TaskNotScorableError(f"no grader for {key.kind} answers in this medgym release")


async def check_form(call: Call, episode: Episode, task_id: str, key: AnswerKey, answer: AnswerValue) -> None:
    """`submit_answer(dry_run=true)` for keys graded here: the answer's form, no verdict."""
    if isinstance(key, PredictionsKey):
        from tools.predictions import check_predictions_form

        await check_predictions_form(call, episode, task_id, key, answer)
    else:  # a FHIR answer's form is checked without its episode's server
        from scoring.forms import check_form as check_value_form

        check_value_form(key, answer)
