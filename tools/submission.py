"""submit_answer, reset_task and get_progress."""

from __future__ import annotations

import logging
from collections import defaultdict
from math import comb
from typing import Annotated, Any

import anyio
import anyio.to_thread
from pydantic import Field

from medgym.errors import (
    AnswerFormatError,
    InvalidArgumentError,
    QuotaError,
    TaskNotScorableError,
)
from scoring.forms import check_form
from scoring.keys import AnswerKey
from scoring.score import AnswerValue, Score
from scoring.verify import verify
from tools import grading
from tools.catalog import task_of
from tools.context import Call
from tools.episodes import Episode, TaskHistory
from tools.params import EpisodeId, TaskId
from tools.results import DatasetProgress, Progress, ResetResult, SubmitResult
from tools.verdicts import NOT_COUNTED, guarded

log = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 1_000_000  # checked before any parsing, so no answer can cost much CPU
MAX_FORMAT_ERRORS = 50  # malformed submissions an episode may make (they are not attempts)


async def submit_answer(
    call: Call,
    task_id: TaskId,
    answer: Annotated[Any, Field(description="a string, number, boolean or a list of those, as the task's "
                                             "answer_format says (code, or a predictions file's name, as a string)")],
    episode_id: EpisodeId = None,
    dry_run: Annotated[bool, Field(description="only check that the answer is well formed: no verdict is "
                                               "computed and no attempt is used")] = False,
) -> SubmitResult:
    """Score an answer against the hidden ground truth; uses one attempt of the episode (none with dry_run)."""
    task = task_of(call, task_id)
    available = call.services.store.task_availability(task.dataset, task.category)
    if not available.solvable:
        raise TaskNotScorableError(f"this task cannot be solved on this server: {available.reason} "
                                   f"({available.fix}); the submission was not counted as an attempt")
    episodes = call.services.episodes
    episode = episodes.resolve(task_id, call.caller, episode_id)
    episode.check_can_submit()
    if episode.format_errors >= MAX_FORMAT_ERRORS:
        raise QuotaError(f"this episode has made {episode.format_errors} malformed submissions, the most allowed; "
                         "read the task's answer_format and submit in that form in a new episode")
    if dry_run:
        return await _check_form(call, episode, task_id, answer)
    try:
        value = answer_value(answer)
        key = call.services.store.answer_key(task_id)
        if grading.needs_grading(key):
            async with episode.lock:
                score = await grading.grade(call, episode, task_id, key, value)
        else:  # off the event loop: a large answer takes a few ms to normalise
            score = await anyio.to_thread.run_sync(_score, task_id, key, value)
    except AnswerFormatError:
        episode.format_errors += 1
        raise
    await episodes.submitted(episode, score.correct)
    return SubmitResult(
        correct=score.correct, score=score.score, feedback=score.feedback,
        attempts_used=episode.attempts_used, attempts_left=episode.attempts_left,
        episode_id=episode.episode_id, episode_ended=not episode.active,
    )


async def _check_form(call: Call, episode: Episode, task_id: str, answer: object) -> SubmitResult:
    """A dry run: the answer's form, checked exactly as a submission would be; no verdict, no attempt."""
    try:
        value = answer_value(answer)
        key = call.services.store.answer_key(task_id)
        if grading.needs_grading(key):
            async with episode.lock:
                await grading.check_form(call, episode, task_id, key, value)
        else:
            await anyio.to_thread.run_sync(check_form, key, value)
    except AnswerFormatError as exc:
        episode.format_errors += 1
        message = str(exc)
        raise AnswerFormatError(message if NOT_COUNTED in message else message + NOT_COUNTED) from None
    return SubmitResult(correct=None, score=None, dry_run=True, episode_id=episode.episode_id,
                        feedback="the answer is well formed; it was not scored and no attempt was used",
                        attempts_used=episode.attempts_used, attempts_left=episode.attempts_left, episode_ended=False)


MAX_ANSWER_ITEMS = 10_000
_SCALARS = (str, int, float, bool, type(None))


def answer_value(answer: object) -> AnswerValue:
    """The submission as an `AnswerValue`, or one short error saying what shape is accepted."""
    if isinstance(answer, str) and len(answer) > MAX_ANSWER_CHARS:
        raise AnswerFormatError(f"an answer may hold at most {MAX_ANSWER_CHARS} characters (got {len(answer)})"
                                + NOT_COUNTED)
    if isinstance(answer, _SCALARS):
        return answer
    if isinstance(answer, list):
        if len(answer) > MAX_ANSWER_ITEMS:
            raise AnswerFormatError(f"an answer list may hold at most {MAX_ANSWER_ITEMS} items (got {len(answer)})")
        if all(isinstance(item, _SCALARS) for item in answer):
            if sum(len(item) for item in answer if isinstance(item, str)) > MAX_ANSWER_CHARS:
                raise AnswerFormatError(f"an answer may hold at most {MAX_ANSWER_CHARS} characters" + NOT_COUNTED)
            return answer
        raise AnswerFormatError("answer lists hold strings, numbers, booleans or null, not nested lists or "
                                "objects" + NOT_COUNTED)
    raise AnswerFormatError(f"answer must be a string, number, boolean, null or a list of those, not a "
                            f"{type(answer).__name__}" + NOT_COUNTED)


def _score(task_id: str, key: AnswerKey, answer: AnswerValue) -> Score:
    return guarded(task_id, "the verifier", lambda: verify(key, answer))


async def reset_task(call: Call, task_id: TaskId, episode_id: EpisodeId = None) -> ResetResult:
    """End the current episode of this task (its sandbox and files are destroyed) and open a fresh one."""
    task_of(call, task_id)
    episode, previous = await call.services.episodes.reset(task_id, call.caller, episode_id)
    message = "fresh episode: a new sandbox starts on the next run_code; /workspace is empty"
    if episode.benchmark and episode.ordinal > 1:
        message += "; in benchmark mode it is a sample: the task's score stays that of your first finished episode"
    return ResetResult(
        task_id=task_id, episode_id=episode.episode_id,
        previous_episode_id=previous.episode_id if previous else None, ordinal=episode.ordinal,
        attempts_used=episode.attempts_used, attempts_left=episode.attempts_left, message=message,
    )


def get_progress(call: Call) -> Progress:
    """Your score per dataset and split: tasks attempted, first-try accuracy, pass@k and episodes per task."""
    if call.caller.key is None:
        raise InvalidArgumentError("this connection has no session or identity, so it has no progress to show")
    manager = call.services.episodes
    manager.load_history(call.caller)
    episodes = manager.episodes_of(call.caller.key)
    groups: dict[tuple[str, str], list[TaskHistory]] = defaultdict(list)
    for (client, task_id), history in manager.histories.items():
        if client == call.caller.history_key and history.opened:
            dataset, split = [*task_id.split("/"), "", ""][:2]
            groups[(dataset, split)].append(history)
    rows = [_dataset_progress(dataset, split, histories) for (dataset, split), histories in sorted(groups.items())]
    return Progress(episodes_total=len(episodes), episodes_active=sum(e.active for e in episodes),
                    benchmark_mode=manager.max_attempts == 1, datasets=rows)


def _dataset_progress(dataset: str, split: str, histories: list[TaskHistory]) -> DatasetProgress:
    scored = [h for h in histories if h.verdicts]
    first = sum(bool(h.first_try) for h in scored)
    k = min((len(h.verdicts) for h in scored), default=0)
    opened = sum(len(h.opened) for h in histories)
    return DatasetProgress(
        dataset=dataset, split=split, tasks_attempted=len(scored), first_try_correct=first,
        first_try_accuracy=round(first / len(scored), 4) if scored else None, episodes=opened,
        episodes_per_task=round(opened / len(histories), 3),
        pass_at_k=round(sum(pass_at_k(h, k) for h in scored) / len(scored), 4) if k > 1 else None,
        k=k if k > 1 else None,
    )


def pass_at_k(history: TaskHistory, k: int) -> float:
    """The unbiased estimator 1 - C(n-c, k) / C(n, k) over the task's n scored episodes, c correct."""
    n, c = len(history.verdicts), sum(correct for _, correct in history.verdicts)
    return 1.0 if n - c < k else 1.0 - comb(n - c, k) / comb(n, k)
