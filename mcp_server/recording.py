"""Glue between the server and the recorder: episode lifecycle and tool-call events."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from mcp_server import __version__
from mcp_server.episodes import Episode, EpisodeManager
from mcp_server.settings import Settings
from sandbox.labels import OWNER, is_orphan, owner_label
from scoring.verify import verifier_name
from task_store.store import TaskStore, UnknownTaskError
from trajectory.recorder import Recorder
from trajectory.records import Provenance
from trajectory.store import RecordStore

log = logging.getLogger(__name__)
RECORDED_TOOLS = ("get_task", "run_code", "inspect_data", "submit_answer", "reset_task")


class EpisodeRecording:
    """Subscribed to the episode table: writes an episode record when one opens and ends."""

    def __init__(self, recorder: Recorder, store: TaskStore):
        self.recorder = recorder
        self._tasks = store

    def episode_opened(self, episode: Episode) -> None:
        try:
            verifier = verifier_name(self._tasks.answer_key(episode.task_id))
        except UnknownTaskError:
            verifier = None
        self.recorder.opened(episode.episode_id, episode.task_id, episode.client, verifier)

    def episode_ended(self, episode: Episode) -> None:
        self.recorder.ended(episode.episode_id, episode.ended or "ended", episode.solved, episode.attempts_used,
                            episode.max_attempts)


def start_recording(settings: Settings, tasks: TaskStore, episodes: EpisodeManager,
                    image_id: str | None) -> Recorder:
    provenance = Provenance(medgym_version=__version__, image=settings.image, image_id=image_id,
                            limits=settings.limits.model_dump(), max_attempts=settings.max_attempts)
    store = RecordStore(settings.db_path)
    closed = store.close_abandoned(lambda server: is_orphan({OWNER: server}))
    if closed:
        log.warning("%d episode(s) of a medgym server that died were closed as 'server_lost'", closed)
    recorder = Recorder(store, provenance, server=owner_label())
    episodes.listeners.append(EpisodeRecording(recorder, tasks))
    return recorder


def record_call(
    recorder: Recorder, episodes: EpisodeManager, tasks: TaskStore, client: str | None, tool: str,
    arguments: dict[str, Any], result: BaseModel | None, error: str | None, error_kind: str | None,
    duration_ms: float,
) -> None:
    """Record one call of a per-episode tool under the episode it concerned."""
    if tool not in RECORDED_TOOLS:
        return
    episode_id = _episode_of(tool, result)
    if episode_id is None:
        episode = episodes.peek(str(arguments.get("task_id", "")), client, arguments.get("episode_id"))
        episode_id = episode.episode_id if episode else None
    if episode_id is not None:
        reference = tool == "run_code" and _is_reference(tasks, str(arguments.get("task_id")), arguments.get("code"))
        recorder.event(episode_id, tool, arguments, result, error, error_kind, duration_ms, reference)


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
