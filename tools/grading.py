"""Answers that are scored by running something: code (in a fresh grader sandbox) and predictions
files (copied out of the episode's sandbox). `submit_answer` hands those keys here; every other key
is scored by a pure verifier (`scoring.verify`).

A grading failure that is not the submission's fault (the grader sandbox could not start, the
reference timed out) raises a `ServiceError`, so it is reported as a medgym problem and never
counted as an attempt.
"""

from __future__ import annotations

from medgym.errors import AnswerFormatError, TaskNotScorableError
from scoring.code_keys import CODE_KEY_KINDS, AssertsKey, FunctionOutputKey
from scoring.keys import AnswerKey
from scoring.score import AnswerValue, Score
from tools.context import Call
from tools.episodes import Episode

GRADED_KINDS: frozenset[str] = CODE_KEY_KINDS


def needs_grading(key: AnswerKey) -> bool:
    return key.kind in GRADED_KINDS


async def grade(call: Call, episode: Episode, task_id: str, key: AnswerKey, answer: AnswerValue) -> Score:
    """Score an answer that needs running code or reading the episode's sandbox."""
    match key:
        case FunctionOutputKey() | AssertsKey():
            grader = call.services.code_grader
            if grader is None:
                raise TaskNotScorableError("this medgym server runs without a code grader")
            try:
                return await grader.grade(episode.episode_id, task_id, key, answer)
            except AnswerFormatError as exc:
                raise AnswerFormatError(f"{exc} (this submission was not counted as an attempt)") from None
    raise TaskNotScorableError(f"no grader for {key.kind} answers in this medgym release")
