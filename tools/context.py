"""What every tool function receives: the long-lived services and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox.limits import Limits
from task_store.store import TaskStore
from tools.episodes import Caller, EpisodeManager
from tools.readiness import Catalog, ProgressCallback

if TYPE_CHECKING:
    from tools.code_grader import CodeGrader

__all__ = ["Call", "ProgressCallback", "Services"]


@dataclass(frozen=True)
class Services:
    """Long-lived objects built once by the server's lifespan."""

    catalog: Catalog
    episodes: EpisodeManager
    limits: Limits
    code_grader: CodeGrader | None = None  # grades code answers in fresh grader sandboxes

    @property
    def store(self) -> TaskStore:
        """The task store (`CatalogNotReadyError` while it is still being loaded)."""
        return self.catalog.store


@dataclass(frozen=True)
class Call:
    """One tool call: the services, the caller, and where progress notifications go (if anywhere)."""

    services: Services
    caller: Caller
    progress: ProgressCallback | None = None
