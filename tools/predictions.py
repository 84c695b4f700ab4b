"""Grade a predictions answer: the name of a file the agent's code wrote in /workspace.

The file is copied out of the episode's sandbox (at most `MAX_PREDICTIONS_BYTES`), parsed as
hostile input and scored on the server against test labels that never enter a sandbox. A name
that is not a file under /workspace, a missing or oversized file and a malformed file are format
errors: never counted as an attempt, and their messages depend on the file alone, never on a label.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath

import anyio.to_thread

from medgym.errors import (
    AnswerFormatError,
    SandboxError,
    SandboxFileError,
    SandboxLostError,
    TaskNotScorableError,
)
from scoring.prediction_keys import PredictionsKey
from scoring.predictions import LabelSet, check_form, score_predictions
from scoring.score import AnswerValue, Score
from task_store.prediction_labels import load_labels
from tools.context import Call
from tools.episodes import Episode
from tools.verdicts import NOT_COUNTED, guarded

log = logging.getLogger(__name__)

MAX_PREDICTIONS_BYTES = 20 * 1024 * 1024
WORKSPACE = PurePosixPath("/workspace")
_NAME_FORM = 'the name of your predictions file in /workspace, e.g. "predictions.csv"'


def workspace_path(answer: AnswerValue) -> str:
    """The absolute path of the file a predictions answer names (relative to /workspace, or under it)."""
    if not isinstance(answer, str) or not answer.strip() or len(answer) > 1024 or "\x00" in answer:
        raise AnswerFormatError(f"answer with {_NAME_FORM}" + NOT_COUNTED)
    path = PurePosixPath(answer.strip())
    if path.is_absolute():
        if not path.is_relative_to(WORKSPACE):
            raise AnswerFormatError(f"the predictions file must be in /workspace; answer with {_NAME_FORM}"
                                    + NOT_COUNTED)
        path = path.relative_to(WORKSPACE)
    if ".." in path.parts or not path.parts:
        raise AnswerFormatError(f"'..' and empty names are not accepted; answer with {_NAME_FORM}" + NOT_COUNTED)
    return str(WORKSPACE / path)


async def grade_predictions(call: Call, episode: Episode, task_id: str, key: PredictionsKey,
                            answer: AnswerValue) -> Score:
    """Copy the named file out of the episode's sandbox and score it (call with `episode.lock` held)."""
    path = workspace_path(answer)
    labels = await anyio.to_thread.run_sync(_labels, call, task_id, key)
    data = await _read(call, episode, path)
    return await anyio.to_thread.run_sync(_score, task_id, key, labels, data)


async def check_predictions_form(call: Call, episode: Episode, task_id: str, key: PredictionsKey,
                                 answer: AnswerValue) -> None:
    """`submit_answer(dry_run=true)`: the named file exists and reads as a predictions table (its columns,
    ids and values); no metric is computed (call with `episode.lock` held)."""
    path = workspace_path(answer)
    labels = await anyio.to_thread.run_sync(_labels, call, task_id, key)
    data = await _read(call, episode, path)
    try:
        await anyio.to_thread.run_sync(check_form, key, labels, data)
    except AnswerFormatError as exc:
        raise AnswerFormatError(f"{exc}{NOT_COUNTED}") from None


def _labels(call: Call, task_id: str, key: PredictionsKey) -> LabelSet:
    dataset = task_id.split("/", 1)[0]
    root = call.services.store.root_of(dataset)
    try:
        return load_labels(root.path / dataset if root is not None else None, key)
    except TaskNotScorableError as exc:
        raise TaskNotScorableError(f"this task cannot be scored here: {exc}") from None


async def _read(call: Call, episode: Episode, path: str) -> bytes:
    sandbox = episode.sandbox
    if sandbox is None:
        raise AnswerFormatError(f"{path} does not exist: this episode has no sandbox (no code has run in it yet, "
                                "or its sandbox was lost); write the file with run_code first" + NOT_COUNTED)
    try:
        return await anyio.to_thread.run_sync(sandbox.read_file, path, MAX_PREDICTIONS_BYTES)
    except SandboxFileError as exc:
        raise AnswerFormatError(_unreadable(exc, path) + NOT_COUNTED) from None
    except SandboxLostError as exc:
        await call.services.episodes.drop_sandbox(episode)
        raise SandboxLostError(f"the episode's sandbox was lost ({exc}); files in /workspace are gone. Run your "
                               "code again, then submit; this submission was not counted") from None
    except SandboxError as exc:
        await call.services.episodes.drop_sandbox(episode)
        raise SandboxError(f"could not read the predictions file from the sandbox: {exc}; not counted") from None


def _unreadable(exc: SandboxFileError, path: str) -> str:
    if exc.reason == "missing":
        return (f"{path} does not exist: write it with run_code first (did the run that writes it fail or time "
                "out? check its exit_code and timed_out)")
    if exc.reason == "too_large":
        return f"{path} is larger than {MAX_PREDICTIONS_BYTES // (1024 * 1024)} MB; write one row per test id"
    return str(exc)


def _score(task_id: str, key: PredictionsKey, labels: LabelSet, data: bytes) -> Score:
    return guarded(task_id, "the predictions scorer", lambda: score_predictions(key, labels, data))
