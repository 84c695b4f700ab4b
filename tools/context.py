"""What every tool function receives: the long-lived services and who is calling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox.limits import Limits
from task_store.store import TaskStore
from tools.episodes import Caller, EpisodeManager

if TYPE_CHECKING:
    from tools.code_grader import CodeGrader

ProgressCallback = Callable[[float, float | None, str], Awaitable[None]]


@dataclass(frozen=True)
class Services:
    """Long-lived objects built once by the server's lifespan."""

    store: TaskStore
    episodes: EpisodeManager
    limits: Limits
    code_grader: CodeGrader | None = None  # grades code answers in fresh grader sandboxes


@dataclass(frozen=True)
class Call:
    """One tool call: the services, the caller, and where progress notifications go (if anywhere)."""

    services: Services
    caller: Caller
    progress: ProgressCallback | None = None
