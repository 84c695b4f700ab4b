"""Which sandbox a task gets: the one answer to that question, for the server, certify and tests.

A task's sandbox is the configured image and limits with its dataset's data files mounted
read-only under /data/<dataset>/ (see `task_store.data`), labelled with its episode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from medgym.errors import SandboxUnavailableError, TaskNotScorableError
from sandbox.contract import Mount, Sandbox, SandboxSpec
from sandbox.limits import Limits
from task_store import data
from task_store.store import TaskStore
from tools.episodes import Episode

if TYPE_CHECKING:
    from tools.fhir_episodes import FhirEpisodes

Start = Callable[[SandboxSpec], Sandbox]


class SandboxProvider:
    def __init__(self, store: TaskStore | Callable[[], TaskStore], image: str, limits: Limits, start: Start,
                 fhir: FhirEpisodes | None = None, start_fresh: Start | None = None):
        self._store = store if callable(store) else (lambda: store)
        self.image = image
        self.limits = limits
        self._start = start
        self.fhir = fhir  # FHIR datasets' episodes: sandbox + their own FHIR server (Docker only)
        self._start_fresh = start_fresh or start  # never from the warm pool: carries its spec's own labels

    def spec(self, dataset: str | None, labels: dict[str, str] | None = None,
             limits: Limits | None = None) -> SandboxSpec:
        """The sandbox of a dataset's episodes (no data at all for None)."""
        return SandboxSpec(image=self.image, limits=limits or self.limits, mounts=self.mounts(dataset),
                           labels=dict(labels or {}))

    def mounts(self, dataset: str | None) -> tuple[Mount, ...]:
        """The dataset's data files; the built-in pack's are served as copies, so that no path inside
        the sandbox names the medgym home or the pack's folder."""
        root = self._store().root_of(dataset) if dataset else None
        if root is None or dataset is None:
            return ()
        copy = root.label == "pack"
        return tuple(Mount(source=m.source, target=m.target, copy=copy)
                     for m in data.mounts(root.path / dataset, dataset))

    def start(self, spec: SandboxSpec) -> Sandbox:
        """Start a sandbox of `spec`. Blocking."""
        return self._start(spec)

    def start_fresh(self, spec: SandboxSpec) -> Sandbox:
        """Start a new sandbox of `spec` with its labels, never a pooled one (graders). Blocking."""
        return self._start_fresh(spec)

    def for_episode(self, episode: Episode) -> Sandbox:
        """Start (or take from the warm pool) the sandbox of an episode. Blocking."""
        labels = {"medgym.episode": episode.episode_id, "medgym.task": episode.task_id}
        root = self._store().root_of(episode.dataset)
        if root is not None and data.uses_fhir(episode.dataset):
            if self.fhir is None:
                task = self._store().get(episode.task_id)
                available = self._store().task_availability(task.dataset, task.category)
                if not available.solvable:  # the task's own data is missing: say so, whatever the backend
                    raise TaskNotScorableError(f"this task cannot be solved on this server: {available.reason} "
                                               f"({available.fix})")
                raise SandboxUnavailableError("FHIR tasks need the Docker sandbox backend")
            return self.fhir.sandbox(self.spec(episode.dataset, labels), root.path / episode.dataset)
        return self._start(self.spec(episode.dataset, labels))
