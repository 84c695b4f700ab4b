"""submit_answer, reset_task and get_progress."""

from __future__ import annotations

import logging
from collections import defaultdict

from mcp_server.episodes import EpisodeError
from scoring.score import AnswerFormatError, AnswerValue, Score, UnscorableTaskError
from scoring.verify import verify
from tools.catalog import resolve_episode, task_of
from tools.context import Services
from tools.errors import ToolInputError, VerifierError
from tools.results import DatasetProgress, Progress, ResetResult, SubmitResult

log = logging.getLogger(__name__)


async def submit_answer(
    services: Services, client: str | None, task_id: str, answer: object, episode_id: str | None = None
) -> SubmitResult:
    task_of(services, task_id)
    value = answer_value(answer)
    episode = resolve_episode(services, client, task_id, episode_id)
    if not episode.active:
        raise ToolInputError(
            f"episode {episode.episode_id} has ended ({episode.ended}); call reset_task for a fresh episode")
    if episode.attempts_left <= 0:
        raise ToolInputError("no attempts left in this episode; call reset_task for a fresh episode")
    score = _score(services, task_id, value)
    episode.touch()
    episode.attempts_used += 1
    episode.solved = episode.solved or score.correct
    if score.correct or episode.attempts_used >= episode.max_attempts:
        await services.episodes.end(episode, "final_submission")
    return SubmitResult(
        correct=score.correct, score=score.score, feedback=score.feedback,
        attempts_used=episode.attempts_used, attempts_left=episode.attempts_left,
        episode_id=episode.episode_id, episode_ended=not episode.active,
    )


MAX_ANSWER_ITEMS = 10_000
_SCALARS = (str, int, float, bool, type(None))


def answer_value(answer: object) -> AnswerValue:
    """The submission as an `AnswerValue`, or one short error saying what shape is accepted."""
    if isinstance(answer, _SCALARS):
        return answer
    if isinstance(answer, list):
        if len(answer) > MAX_ANSWER_ITEMS:
            raise ToolInputError(f"an answer list may hold at most {MAX_ANSWER_ITEMS} items (got {len(answer)})")
        if all(isinstance(item, _SCALARS) for item in answer):
            return answer
        raise ToolInputError("answer lists hold strings, numbers, booleans or null, not nested lists or objects "
                             "(this submission was not counted as an attempt)")
    raise ToolInputError(f"answer must be a string, number, boolean, null or a list of those, not a "
                         f"{type(answer).__name__} (this submission was not counted as an attempt)")


def _score(services: Services, task_id: str, answer: AnswerValue) -> Score:
    key = services.store.answer_key(task_id)
    try:
        return verify(key, answer)
    except AnswerFormatError as exc:
        raise ToolInputError(f"{exc} (this submission was not counted as an attempt)") from None
    except UnscorableTaskError as exc:
        raise ToolInputError(f"this task cannot be scored here: {exc}") from None
    except Exception as exc:  # a verifier crash is an error, never a wrong answer
        log.error("verifier crashed on %s: %s", task_id, type(exc).__name__)
        raise VerifierError(
            "the verifier failed on this submission (a medgym bug, not a wrong answer); "
            "it was not counted as an attempt"
        ) from None


async def reset_task(
    services: Services, client: str | None, task_id: str, episode_id: str | None = None,
    quota_key: str | None = None,
) -> ResetResult:
    task_of(services, task_id)
    try:
        episode, previous = await services.episodes.reset(task_id, client, episode_id, quota_key)
    except EpisodeError as exc:
        raise ToolInputError(str(exc)) from None
    return ResetResult(
        task_id=task_id, episode_id=episode.episode_id,
        previous_episode_id=previous.episode_id if previous else None,
        attempts_used=episode.attempts_used, attempts_left=episode.attempts_left,
        message="fresh episode: a new sandbox starts on the next run_code; /workspace is empty",
    )


def get_progress(services: Services, client: str | None) -> Progress:
    episodes = services.episodes.episodes_of(client)
    by_dataset: dict[str, list[tuple[str, bool, int]]] = defaultdict(list)
    for episode in episodes:
        dataset = episode.task_id.split("/", 1)[0]
        by_dataset[dataset].append((episode.task_id, episode.solved, episode.attempts_used))
    rows = [
        DatasetProgress(
            dataset=dataset, episodes=len(items),
            tasks_attempted=len({t for t, _, used in items if used}),
            tasks_solved=len({t for t, solved, _ in items if solved}),
            submissions=sum(used for _, _, used in items),
        )
        for dataset, items in sorted(by_dataset.items())
    ]
    return Progress(episodes_total=len(episodes), episodes_active=sum(e.active for e in episodes), datasets=rows)
