"""Re-verify stored episodes with the current verifiers and labels, without re-running any model.

For each episode's final scored `submit_answer` (the last one that got a verdict), the recorded
answer is scored again against the task's current key (`key_of(task_id)`, which the caller builds
with the label choice in force, `MEDGYM_LABELS`). Only value answers can be: a predictions file or
a FHIR task's writes lived in the episode's sandbox or server, which are gone, so those episodes are
reported as `not_rescorable` and left alone, as are episodes without a final verdict (unsubmitted,
still active), episodes whose verifier failed at the time (`error`), and unscorable tasks. A
recorded answer that the current verifier no longer reads, or that crashes it, is reported as such,
never scored 0. Nothing recorded is changed: new verdicts are written beside the old ones
(`trajectory.rescore_store`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field

from medgym.errors import AnswerFormatError, TaskNotScorableError, UnknownTaskError
from scoring.keys import AnswerKey
from scoring.score import AnswerValue
from scoring.verify import VERIFIER_NAMES, verify
from scoring.versions import verifier_version
from trajectory.records import Trajectory

KeyLookup = Callable[[str], AnswerKey]
Status = Literal["rescored", "not_rescorable", "unscorable", "no_final_verdict", "error_episode", "answer_cut",
                 "format_error", "verifier_error", "unknown_task"]
VALUE_KINDS = frozenset({"range", "date", "gestational_age", "integer", "relative", "item_set", "boolean", "text"})
CUT_MARK = "[... medgym: "  # how the recorder marks an argument it kept only the head of
SANDBOX_STATE = ("its answer was graded in a sandbox or from the episode's FHIR server (code run by the grader, "
                 "a predictions file, the server's writes): it is not re-scored from the record")


class Submission(BaseModel):
    """An episode's final scored submission as recorded, with its verdict then."""

    episode_id: str
    task_id: str
    dataset: str
    source: str
    where: str = Field(description="which record: the event's seq in a store, or the run row's sample")
    answer: Any = None
    correct: bool | None = None
    score: float | None = None
    verifier: str | None = None
    verifier_version: str | None = None
    status: Status | None = Field(None, description="set when the episode cannot be re-scored at all")


class Rescore(BaseModel):
    """One episode re-verified: the old verdict beside the new one, and which grader made each."""

    episode_id: str
    task_id: str
    dataset: str
    source: str
    where: str
    status: Status
    reason: str | None = None
    old_correct: bool | None = None
    old_score: float | None = None
    old_verifier: str | None = None
    old_verifier_version: str | None = None
    new_correct: bool | None = None
    new_score: float | None = None
    new_feedback: str | None = None
    verifier: str | None = None
    verifier_version: str | None = None
    labels: str
    rescored_at: float

    @property
    def changed(self) -> bool:
        return self.status == "rescored" and self.new_correct != self.old_correct


def rescore(submissions: Iterable[Submission], key_of: KeyLookup, labels: str) -> Iterator[Rescore]:
    """Each submission scored again under the current key, or the reason it is left as it was."""
    for submission in submissions:
        status, reason, fields = _verdict(submission, key_of)
        yield Rescore(
            episode_id=submission.episode_id, task_id=submission.task_id, dataset=submission.dataset,
            source=submission.source, where=submission.where, status=status, reason=reason,
            old_correct=submission.correct, old_score=submission.score, old_verifier=submission.verifier,
            old_verifier_version=submission.verifier_version, labels=labels, rescored_at=time.time(), **fields)


def _verdict(submission: Submission, key_of: KeyLookup) -> tuple[Status, str | None, dict[str, Any]]:
    if submission.status is not None:
        return submission.status, _LEFT[submission.status], {}
    try:
        key = key_of(submission.task_id)
    except UnknownTaskError:
        return "unknown_task", "the task is not served here any more", {}
    name = VERIFIER_NAMES.get(key.kind)
    named = {"verifier": name, "verifier_version": verifier_version(name)}
    if key.kind not in VALUE_KINDS:
        status: Status = "unscorable" if key.kind == "unscorable" else "not_rescorable"
        return status, _LEFT[status], named
    if isinstance(submission.answer, str) and CUT_MARK in submission.answer:
        return "answer_cut", _LEFT["answer_cut"], named
    return _verify(key, submission.answer, named)


def _verify(key: AnswerKey, answer: AnswerValue, named: dict[str, Any]) -> tuple[Status, str | None, dict[str, Any]]:
    try:
        score = verify(key, answer)
    except AnswerFormatError as exc:
        return "format_error", f"the current verifier does not read the recorded answer: {exc}", named
    except TaskNotScorableError as exc:
        return "unscorable", str(exc), named
    except Exception as exc:  # a verifier crash: reported, never a 0
        return "verifier_error", f"the verifier failed ({type(exc).__name__})", named
    return "rescored", None, {**named, "verifier": score.verifier, "new_correct": score.correct,
                              "new_score": score.score, "new_feedback": score.feedback}


_LEFT: dict[str, str] = {
    "not_rescorable": SANDBOX_STATE,
    "unscorable": "no verifier scores this task here",
    "no_final_verdict": "the episode has no scored submission (unsubmitted or still active)",
    "error_episode": "the episode's verifier failed when it ran: it stays an error, never a 0",
    "answer_cut": "the recorded answer was cut (too long to record whole)",
    "unknown_task": "the task is not served here any more",
}


# -- where submissions come from -----------------------------------------------------------------
def store_submission(trajectory: Trajectory, source: str) -> Submission:
    """The final scored submit_answer of a store episode (its recorded arguments and verdict)."""
    episode = trajectory.episode
    base = {"episode_id": episode.episode_id, "task_id": episode.task_id, "dataset": episode.dataset,
            "source": source}
    scored = [e for e in trajectory.events if e.tool == "submit_answer" and e.verdict is not None]
    if not scored:
        status: Status = "error_episode" if episode.outcome == "error" else "no_final_verdict"
        return Submission(**base, where="", status=status)
    event = scored[-1]
    verdict = event.verdict
    assert verdict is not None
    return Submission(**base, where=f"seq {event.seq}", answer=event.arguments.get("answer"),
                      correct=verdict.correct, score=verdict.score,
                      verifier=verdict.verifier or episode.provenance.verifier,
                      verifier_version=verdict.verifier_version or episode.provenance.verifier_version)


def transcript_submission(messages: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]] | None:
    """(answer, verdict) of a transcript's last submit_answer that got a verdict, or None."""
    calls: dict[str, dict[str, Any]] = {}
    found: tuple[Any, dict[str, Any]] | None = None
    for message in messages:
        for call in message.get("tool_calls") or []:
            if call.get("function", {}).get("name") == "submit_answer":
                calls[str(call.get("id"))] = call["function"]
        if message.get("role") == "tool" and str(message.get("tool_call_id")) in calls:
            result = _json(message.get("content"))
            if isinstance(result, dict) and result.get("correct") is not None and "error" not in result:
                arguments = _json(calls[str(message.get("tool_call_id"))].get("arguments"))
                found = ((arguments or {}).get("answer") if isinstance(arguments, dict) else None, result)
    return found


def _json(text: object) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return None
