"""Glue between the server and the recorder: episode lifecycle and tool-call events.

Records name clients by a pseudonym (a hash of their key), never by session id.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from mcp_server.identity import pseudonym
from mcp_server.settings import Settings
from mcp_server.state import AppState
from medgym.errors import UnknownTaskError
from medgym.version import __version__
from sandbox.labels import OWNER, is_orphan, owner_label
from scoring.verify import verifier_name
from task_store.store import TaskStore
from tools.episodes import Caller, Episode, EpisodeManager
from tools.readiness import Catalog
from trajectory.recorder import Recorder
from trajectory.records import Provenance
from trajectory.store import RecordStore

log = logging.getLogger(__name__)


class EpisodeRecording:
    """Subscribed to the episode table: writes an episode record when one opens and ends."""

    def __init__(self, recorder: Recorder, catalog: Catalog):
        self.recorder = recorder
        self._catalog = catalog

    def episode_opened(self, episode: Episode) -> None:
        try:
            verifier = verifier_name(self._catalog.store.answer_key(episode.task_id))
        except UnknownTaskError:
            verifier = None
        self.recorder.opened(episode.episode_id, episode.task_id, pseudonym(episode.client), verifier,
                             ordinal=episode.ordinal, previous_episode_id=episode.previous_episode_id,
                             group_id=episode.group)

    def episode_ended(self, episode: Episode) -> None:
        self.recorder.ended(episode.episode_id, episode.ended or "shutdown", episode.solved, episode.attempts_used,
                            episode.max_attempts)


def start_recording(settings: Settings, catalog: Catalog, episodes: EpisodeManager,
                    image_id: str | None) -> Recorder:
    provenance = Provenance(medgym_version=__version__, image=settings.image, image_id=image_id,
                            limits=settings.limits.model_dump(), max_attempts=settings.max_attempts,
                            pack_seed=settings.seed()[1] if settings.pack else None, labels=settings.labels)
    store = RecordStore(settings.db_path)
    closed = store.close_abandoned(lambda server: is_orphan({OWNER: server}))
    if closed:
        log.warning("%d episode(s) of a medgym server that died were closed as 'server_lost'", closed)
    recorder = Recorder(store, provenance, server=owner_label())
    episodes.listeners.append(EpisodeRecording(recorder, catalog))
    return recorder


def record_call(
    state: AppState, caller: Caller, tool: str, arguments: dict[str, Any], result: BaseModel | None,
    error: tuple[str, str] | None, duration_ms: float,
) -> None:
    """Record one call of a per-episode tool under the episode it concerned (if any)."""
    episode_id = _episode_of(tool, result)
    if episode_id is None:
        episode = state.services.episodes.peek(str(arguments.get("task_id", "")), caller, arguments.get("episode_id"))
        episode_id = episode.episode_id if episode else None
    if episode_id is None:
        return
    submitted = arguments.get("code") if tool == "run_code" else arguments.get("answer")  # code tasks submit code
    reference = tool in ("run_code", "submit_answer") and _is_reference(
        state.services.store, str(arguments.get("task_id")), submitted)
    message, kind = error if error is not None else (None, None)
    state.recorder.event(episode_id, tool, arguments, result, message, kind, duration_ms, reference)


def _is_reference(tasks: TaskStore, task_id: str, code: object) -> bool:
    """Whether `code` is the task's hidden reference solution (an oracle run)."""
    try:
        reference = tasks.reference_solution(task_id)
    except UnknownTaskError:
        return False
    return bool(reference) and isinstance(code, str) and code.strip() == (reference or "").strip()


def _episode_of(tool: str, result: BaseModel | None) -> str | None:
    if result is None:
        return None
    if tool == "reset_task":
        previous = getattr(result, "previous_episode_id", None)
        return previous or getattr(result, "episode_id", None)
    return getattr(result, "episode_id", None)
