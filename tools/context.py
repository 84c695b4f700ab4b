"""The dependencies every tool function receives explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from mcp_server.episodes import EpisodeManager
from sandbox.limits import Limits
from task_store.store import TaskStore


@dataclass(frozen=True)
class Services:
    """Long-lived objects built once by the server's lifespan."""

    store: TaskStore
    episodes: EpisodeManager
    limits: Limits
    max_attempts: int
