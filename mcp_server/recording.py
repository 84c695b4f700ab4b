"""Glue between the server and the recorder: episode lifecycle and tool-call events.

Records name clients by a pseudonym (a hash of their key keyed with the home's secret), never by session id.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from functools import partial
from typing import Any

from pydantic import BaseModel

from mcp_server.identity import Pseudonyms
from mcp_server.settings import Settings
from mcp_server.state import AppState
from medgym.errors import UnknownTaskError
from medgym.version import __version__
from sandbox.labels import OWNER, is_orphan, owner_label
from scoring.verify import verifier_name
from task_store.store import TaskStore
from tools.episodes import Caller, Episode, EpisodeManager, TaskHistory
from tools.readiness import Catalog
from trajectory.recorder import Recorder
from trajectory.records import Provenance
from trajectory.store import RecordStore

log = logging.getLogger(__name__)
REFERENCES_KEPT = 1024  # episodes whose reference solution is remembered (see `ReferenceCache`)


class EpisodeRecording:
    """Subscribed to the episode table: writes an episode record when one opens and ends."""

    def __init__(self, recorder: Recorder, catalog: Catalog, pseudonyms: Pseudonyms):
        self.recorder = recorder
        self._catalog = catalog
        self._pseudonyms = pseudonyms

    def episode_opened(self, episode: Episode) -> None:
        try:
            verifier = verifier_name(self._catalog.store.answer_key(episode.task_id))
        except UnknownTaskError:
            verifier = None
        pseudonym = self._pseudonyms
        self.recorder.opened(episode.episode_id, episode.task_id, pseudonym(episode.client), verifier,
                             ordinal=episode.ordinal, previous_episode_id=episode.previous_episode_id,
                             group_id=episode.group, scorer=pseudonym(episode.scorer))

    def episode_ended(self, episode: Episode) -> None:
        self.recorder.ended(episode.episode_id, episode.ended or "shutdown", episode.solved, episode.attempts_used,
                            episode.max_attempts)


def start_recording(settings: Settings, catalog: Catalog, episodes: EpisodeManager, pseudonyms: Pseudonyms,
                    image_id: str | None) -> Recorder:
    provenance = Provenance(medgym_version=__version__, image=settings.image, image_id=image_id,
                            limits=settings.limits.model_dump(), max_attempts=settings.max_attempts,
                            pack_seed=settings.seed()[1] if settings.pack else None, labels=settings.labels)
    store = RecordStore(settings.db_path)
    closed = store.close_abandoned(lambda server: is_orphan({OWNER: server}))
    if closed:
        log.warning("%d episode(s) of a medgym server that died were closed as 'server_lost'", closed)
    recorder = Recorder(store, provenance, server=owner_label())
    episodes.listeners.append(EpisodeRecording(recorder, catalog, pseudonyms))
    episodes.history_loader = partial(past_histories, store, pseudonyms)
    return recorder


def past_histories(store: RecordStore, pseudonyms: Pseudonyms, scorer: str) -> dict[str, TaskHistory]:
    """An authenticated principal's recorded history of each task it met, from the servers that ran
    before this one: its episodes in the order they opened, and its verdicts in the order they came
    (an episode ended by its final submission). A restart thus starts no fresh first try."""
    histories: dict[str, TaskHistory] = {}
    past = store.scored_history(*pseudonyms.both(scorer))
    for episode in past:
        histories.setdefault(episode.task_id, TaskHistory()).opened.append(episode.episode_id)
    scored = [e for e in past if e.end_reason == "final_submission" and e.outcome in ("correct", "incorrect")]
    for episode in sorted(scored, key=lambda e: e.ended_at or e.started_at):
        histories[episode.task_id].verdicts.append((episode.episode_id, episode.outcome == "correct"))
    return histories


class ReferenceCache:
    """Each episode's hidden reference solution (stripped; "" when its task has none), asked of the task
    store once per episode instead of on every run_code: it cannot change while an episode runs. The
    least recently used episodes are forgotten first (and asked again if they run code again)."""

    def __init__(self, size: int = REFERENCES_KEPT):
        self._size = size
        self._references: OrderedDict[tuple[str, str], str] = OrderedDict()

    def is_reference(self, tasks: TaskStore, episode_id: str, task_id: str, code: object) -> bool:
        """Whether `code` is the task's hidden reference solution (an oracle run)."""
        if not isinstance(code, str):
            return False
        reference = self._reference(tasks, episode_id, task_id)
        return bool(reference) and len(code) >= len(reference) and code.strip() == reference

    def _reference(self, tasks: TaskStore, episode_id: str, task_id: str) -> str:
        key = (episode_id, task_id)
        reference = self._references.get(key)
        if reference is None:
            try:
                reference = (tasks.reference_solution(task_id) or "").strip()
            except UnknownTaskError:
                reference = ""
            self._references[key] = reference
            if len(self._references) > self._size:
                self._references.popitem(last=False)
        else:
            self._references.move_to_end(key)
        return reference


def record_call(
    state: AppState, caller: Caller, tool: str, arguments: dict[str, Any], result: BaseModel | None,
    error: tuple[str, str] | None, duration_ms: float, references: ReferenceCache,
) -> None:
    """Record one call of a per-episode tool under the episode it concerned (if any)."""
    episode_id = _episode_of(tool, result)
    if episode_id is None:
        episode = state.services.episodes.peek(str(arguments.get("task_id", "")), caller, arguments.get("episode_id"))
        episode_id = episode.episode_id if episode else None
    if episode_id is None:
        return
    submitted = arguments.get("code") if tool == "run_code" else arguments.get("answer")  # code tasks submit code
    reference = tool in ("run_code", "submit_answer") and references.is_reference(
        state.services.store, episode_id, str(arguments.get("task_id")), submitted)
    message, kind = error if error is not None else (None, None)
    state.recorder.event(episode_id, tool, arguments, result, message, kind, duration_ms, reference)


def _episode_of(tool: str, result: BaseModel | None) -> str | None:
    if result is None:
        return None
    if tool == "reset_task":
        previous = getattr(result, "previous_episode_id", None)
        return previous or getattr(result, "episode_id", None)
    return getattr(result, "episode_id", None)
