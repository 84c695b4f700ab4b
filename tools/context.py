"""What every tool function receives: the long-lived services and who is calling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sandbox.limits import Limits
from task_store.store import TaskStore
from tools.episodes import Caller, EpisodeManager

ProgressCallback = Callable[[float, float | None, str], Awaitable[None]]


@dataclass(frozen=True)
class Services:
    """Long-lived objects built once by the server's lifespan."""

    store: TaskStore
    episodes: EpisodeManager
    limits: Limits


@dataclass(frozen=True)
class Call:
    """One tool call: the services, the caller, and where progress notifications go (if anywhere)."""

    services: Services
    caller: Caller
    progress: ProgressCallback | None = None
