"""Grading a FHIR task: the expected answer from the PRISTINE EHR files, the agent's writes from its
episode's FHIR server, the verdict from `scoring.fhir_rules` (pure).

The agent can change its own server (create, update, delete), so nothing expected is ever read from
it: the charts come from the dataset's EHR files on the host, read once per process and file
version. An episode that never started its sandbox wrote nothing.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import anyio.to_thread

from medgym.errors import (
    SandboxError,
    ServiceError,
    TaskNotScorableError,
)
from scoring.fhir_chart import Chart, ChartIndex
from scoring.fhir_key import FhirTaskKey
from scoring.fhir_rules import score_fhir
from scoring.score import AnswerValue, Score
from task_store.fhir_seed import read_resources, seed_sources, signature
from tools.context import Call
from tools.episodes import Episode
from tools.fhir_episodes import missing_ehr
from tools.verdicts import NOT_COUNTED, guarded

log = logging.getLogger(__name__)

@functools.lru_cache(maxsize=4)
def _index(sources: tuple[Path, ...], version: str) -> ChartIndex:
    index = ChartIndex.build(read_resources(list(sources)))
    log.info("read the pristine FHIR data (%d patients, version %s) for grading", len(index), version)
    return index


def pristine_chart(directory: Path, key: FhirTaskKey) -> Chart:
    """The chart of the task's patient in the dataset's EHR files (task 1 needs none)."""
    if key.family == 1:
        return Chart(None)
    sources = seed_sources(directory)
    if not sources:
        raise TaskNotScorableError(missing_ehr(directory))
    return _index(tuple(sources), signature(sources)).chart(key.mrn)


def episode_writes(episode: Episode) -> list[dict[str, Any]]:
    """The writes the agent made to its episode's FHIR server ([] when it never started one)."""
    sandbox = episode.sandbox
    if sandbox is None:
        return []
    writes = getattr(sandbox, "writes", None)
    if writes is None:
        raise ServiceError("this FHIR episode's sandbox has no FHIR server")
    found: list[dict[str, Any]] = writes()
    return found


async def grade_fhir(call: Call, episode: Episode, key: FhirTaskKey, answer: AnswerValue) -> Score:
    """Score a FHIR task's submission (call with the episode's lock held)."""
    root = call.services.store.root_of(episode.dataset)
    if root is None:
        raise TaskNotScorableError(f"dataset {episode.dataset} is not served here")
    chart = await anyio.to_thread.run_sync(pristine_chart, root.path / episode.dataset, key)
    try:
        writes = await anyio.to_thread.run_sync(episode_writes, episode)
    except SandboxError as exc:
        raise type(exc)(f"the episode's FHIR server could not be read ({exc}){NOT_COUNTED}") from None
    return score(episode.task_id, key, chart, answer, writes)


def score(task_id: str, key: FhirTaskKey, chart: Chart, answer: AnswerValue, writes: list[dict[str, Any]]) -> Score:
    """`score_fhir` with submit_answer's error rules (`tools.verdicts`)."""
    return guarded(task_id, "the FHIR verifier", lambda: score_fhir(key, chart, answer, writes))
