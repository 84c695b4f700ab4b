"""The task catalog comes up in the background: the server answers `initialize` at once while the
built-in pack is built and the data directory indexed (minutes for a large catalog on a fresh
home). Tools that need the catalog wait for it, with progress, for a short while; past that they
say how far indexing has got. `list_datasets` shows the state without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import anyio

from medgym.errors import CatalogNotReadyError, ServiceError
from task_store.store import TaskStore

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float, float | None, str], Awaitable[None]]
State = Literal["starting", "building the built-in pack", "indexing", "ready", "failed"]
WAIT_S = 20.0  # a tool call waits this long for the catalog before answering "still indexing"
GLANCE = 0.25  # list_datasets waits this share of that, then shows the loading state


@dataclass
class IndexState:
    state: State = "starting"
    done: int = 0
    total: int = 0
    error: str | None = None

    def describe(self) -> str:
        if self.state == "indexing":
            return f"still indexing: {self.done} of {self.total} records" if self.total else "still indexing"
        if self.state == "failed":
            return f"the task catalog could not be loaded: {self.error}"
        return f"still starting: {self.state}"


class Catalog:
    """Holds the task store once it is loaded; tools reach it through `Services.store`."""

    def __init__(self, wait_s: float | None = None) -> None:
        self.wait_s = wait_s  # None: WAIT_S
        self.progress = IndexState()
        self._store: TaskStore | None = None
        self._ready = anyio.Event()
        self._logged = 0.0

    @property
    def ready(self) -> bool:
        return self._store is not None

    @property
    def store(self) -> TaskStore:
        if self._store is None:
            if self.progress.state == "failed":
                raise ServiceError(self.progress.describe())
            raise CatalogNotReadyError(f"{self.progress.describe()}; try again in a few seconds")
        return self._store

    def loaded(self, store: TaskStore) -> None:
        self._store = store
        self.progress.state = "ready"
        self._ready.set()

    def failed(self, error: str) -> None:
        self.progress.state, self.progress.error = "failed", error
        self._ready.set()

    def step(self, state: State, done: int = 0, total: int = 0) -> None:
        """Called from the loading thread as it goes; logs progress every few seconds."""
        self.progress.state, self.progress.done, self.progress.total = state, done, total
        if time.monotonic() - self._logged > 5.0:
            self._logged = time.monotonic()
            log.info("task catalog: %s", self.progress.describe() if state != "ready" else "ready")

    async def wait(self, on_progress: ProgressCallback | None = None, share: float = 1.0) -> None:
        """Wait until the catalog is loaded (or failed), reporting progress, for at most `share` of the
        configured wait."""
        deadline = time.monotonic() + share * (WAIT_S if self.wait_s is None else self.wait_s)
        while not self._ready.is_set() and time.monotonic() < deadline:
            if on_progress is not None:  # at once, then every 2 s: the client sees why it waits
                try:
                    await on_progress(float(self.progress.done), float(self.progress.total) or None,
                                      self.progress.describe())
                except Exception as exc:  # a client that cannot take progress must not fail the call
                    log.debug("progress notification failed: %s", exc)
            with anyio.move_on_after(min(2.0, max(0.0, deadline - time.monotonic()))):
                await self._ready.wait()
