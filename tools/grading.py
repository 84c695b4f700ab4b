"""Answers that are scored by running something: code (in a fresh grader sandbox), predictions
files (copied out of the episode's sandbox) and FHIR tasks (the episode's server writes).
`submit_answer` hands those keys here; every other key is scored by a pure verifier (`scoring.verify`).

A grading failure that is not the submission's fault (the grader sandbox could not start, the
reference timed out) raises a `ServiceError`, so it is reported as a medgym problem and never
counted as an attempt.
"""

from __future__ import annotations

from medgym.errors import AnswerFormatError, TaskNotScorableError
from scoring.code_keys import CODE_KEY_KINDS, AssertsKey, FunctionOutputKey
from scoring.fhir_key import FhirTaskKey
from scoring.keys import AnswerKey, PredictionsKey
from scoring.score import AnswerValue, Score
from tools.context import Call
from tools.episodes import Episode
from tools.predictions import grade_predictions
from tools.verdicts import NOT_COUNTED

GRADED_KINDS: frozenset[str] = frozenset({"predictions", "fhir"}) | CODE_KEY_KINDS


def needs_grading(key: AnswerKey) -> bool:
    return key.kind in GRADED_KINDS


async def grade(call: Call, episode: Episode, task_id: str, key: AnswerKey, answer: AnswerValue) -> Score:
    """Score an answer that needs running code or reading the episode's sandbox."""
    if isinstance(key, PredictionsKey):
        return await grade_predictions(call, episode, task_id, key, answer)
    if isinstance(key, FhirTaskKey):  # the episode's FHIR writes and the pristine EHR
        from tools.fhir_grading import grade_fhir

        return await grade_fhir(call, episode, key, answer)
    if isinstance(key, FunctionOutputKey | AssertsKey):  # in fresh grader sandboxes, never the agent's
        return await _grade_code(call, episode, task_id, key, answer)
    raise TaskNotScorableError(f"no grader for {key.kind} answers in this medgym release")


async def _grade_code(call: Call, episode: Episode, task_id: str, key: FunctionOutputKey | AssertsKey,
                      answer: AnswerValue) -> Score:
    grader = call.services.code_grader
    if grader is None:
        raise TaskNotScorableError("this medgym server runs without a code grader")
    try:
        return await grader.grade(episode.episode_id, task_id, key, answer)
    except AnswerFormatError as exc:
        raise AnswerFormatError(f"{exc}{NOT_COUNTED}") from None


async def check_form(call: Call, episode: Episode, task_id: str, key: AnswerKey, answer: AnswerValue) -> None:
    """`submit_answer(dry_run=true)` for keys graded here: the answer's form, no verdict."""
    if isinstance(key, PredictionsKey):
        from tools.predictions import check_predictions_form

        await check_predictions_form(call, episode, task_id, key, answer)
    else:  # a FHIR answer's form is checked without its episode's server
        from scoring.forms import check_form as check_value_form

        check_value_form(key, answer)
