"""A warm pool of pre-started sandboxes, so an episode's first `run_code` needs no cold start.

Containers are pooled per *pool key* (image, limits and read-only mounts: what cannot change after
a container starts). A pooled container is handed to exactly one episode and destroyed when that
episode ends; it is never returned to the pool. A background thread keeps `size` idle
containers for each of the `max_kinds` keys asked for most recently (and for the keys warmed at
start-up); the idle containers of a key that drops out of that set are removed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from medgym.errors import SandboxError
from sandbox.contract import Sandbox, SandboxSpec

log = logging.getLogger(__name__)

POOL_LABEL = {"medgym.episode": "pool"}
SHRINK_AFTER_S = 60.0  # a kind nobody asked for this long keeps one fewer sandbox ready


@dataclass(frozen=True)
class PoolKey:
    image: str
    limits: str
    mounts: tuple[tuple[str, str, str], ...]


def pool_key(spec: SandboxSpec) -> PoolKey:
    return PoolKey(spec.image, spec.limits.model_dump_json(),
                   tuple((str(m.source), m.target, str(m.copy)) for m in spec.mounts))


class WarmPool:
    """Hands out pre-started sandboxes; starts a fresh one when none is idle."""

    def __init__(self, start: Callable[[SandboxSpec], Sandbox], size: int, max_kinds: int = 4,
                 max_size: int | None = None):
        self._start = start
        self.size = size
        self.max_size = max(size, max_size if max_size is not None else size)
        self.max_kinds = max_kinds
        self._target: dict[PoolKey, int] = {}  # per kind: between `size` and `max_size`, following demand
        self._asked: dict[PoolKey, float] = {}  # per kind: when a sandbox was last asked for
        self._idle: dict[PoolKey, deque[Sandbox]] = {}
        self._specs: OrderedDict[PoolKey, SandboxSpec] = OrderedDict()  # least recently asked for first
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.hits = self.misses = 0

    def warm(self, spec: SandboxSpec) -> None:
        """Keep `size` idle sandboxes of this kind from now on."""
        if self.size <= 0:
            return
        with self._cond:
            key = pool_key(spec)
            self._specs.setdefault(key, replace(spec, labels=dict(POOL_LABEL)))
            self._specs.move_to_end(key)
            self._idle.setdefault(key, deque())
            self._target.setdefault(key, self.size)
            dropped = self._drop_kinds()
            self._ensure_thread()
            self._cond.notify_all()
        for box in dropped:
            box.close()

    def _drop_kinds(self) -> list[Sandbox]:
        """Forget the least recently asked-for kinds beyond `max_kinds`; their idle sandboxes (to close)."""
        dropped: list[Sandbox] = []
        while len(self._specs) > self.max_kinds:
            key, _ = self._specs.popitem(last=False)
            self._target.pop(key, None)
            dropped.extend(self._idle.pop(key, ()))
        return dropped

    def _grow(self, key: PoolKey) -> None:
        """A sandbox was wanted and none was idle: keep one more of this kind ready (up to `max_size`)."""
        self._target[key] = min(self.max_size, self._target.get(key, self.size) + 1)

    def _shrink_idle(self) -> list[Sandbox]:
        """Kinds nobody asked for lately keep one fewer ready (down to `size`); the extra idle ones (to close)."""
        now = time.monotonic()
        extra: list[Sandbox] = []
        for key, queue in self._idle.items():
            if now - self._asked.get(key, now) > SHRINK_AFTER_S and self._target.get(key, self.size) > self.size:
                self._target[key] -= 1
                self._asked[key] = now  # one step per period
                while len(queue) > self._target[key]:
                    extra.append(queue.pop())
        return extra

    def stats(self) -> tuple[int, int]:
        """(idle sandboxes, how many the pool aims to keep idle), over every kind."""
        with self._cond:
            return sum(len(q) for q in self._idle.values()), sum(self._target.get(k, self.size) for k in self._idle)

    def acquire(self, spec: SandboxSpec) -> Sandbox:
        """A ready sandbox for one episode (blocking: call from a worker thread)."""
        self.warm(spec)
        key = pool_key(spec)
        while True:
            with self._cond:
                queue = self._idle.get(key)
                box = queue.popleft() if queue else None
                self._asked[key] = time.monotonic()
                if box is None and self.size > 0:
                    self._grow(key)
                self._cond.notify_all()
            if box is None:
                self.misses += 1
                return self._start(spec)
            if box.alive():
                self.hits += 1
                return box
            box.close()  # died while idle (killed from outside): discard and try the next

    def idle_count(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._idle.values())

    def close(self) -> None:
        with self._cond:
            self._closed = True
            boxes = [box for queue in self._idle.values() for box in queue]
            self._idle.clear()
            self._cond.notify_all()
        for box in boxes:
            box.close()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._refill_forever, name="medgym-pool", daemon=True)
            self._thread.start()

    def _next_wanted(self) -> SandboxSpec | None:
        for key, queue in self._idle.items():
            if len(queue) < self._target.get(key, self.size) and key in self._specs:
                return self._specs[key]
        return None

    def _refill_forever(self) -> None:
        while True:
            extra: list[Sandbox] = []
            with self._cond:
                spec = self._next_wanted()
                while not self._closed and spec is None:
                    self._cond.wait(timeout=SHRINK_AFTER_S / 4)
                    extra += self._shrink_idle()
                    if extra:
                        break
                    spec = self._next_wanted()
                closed = self._closed
            for box in extra:
                box.close()
            if closed:
                return
            if spec is None:
                continue
            try:
                box = self._start(spec)
            except SandboxError as exc:
                log.warning("warm pool: could not start a sandbox (%s); retrying in 5 s", exc)
                with self._cond:
                    self._cond.wait(timeout=5.0)
                continue
            with self._cond:
                queue = self._idle.get(pool_key(spec))
                kept = not self._closed and queue is not None  # else closed, or the kind was dropped meanwhile
                if kept and queue is not None:
                    queue.append(box)
                closed = self._closed
            if not kept:
                box.close()
            if closed:
                return
