"""Sandbox capacity and back-pressure: how many sandboxes run, who waits for one, how fast they start.

- At most `max_sandboxes` sandboxes are held at once. A start beyond that waits in a fair queue
  (round-robin over clients, first come first served within a client) and the caller is told its
  position; past `wait_s` it gets a clear error instead of a sandbox.
- Starts are throttled: at most `max_starts` start at once, beginning with one and ramping up while
  starts stay fast (a burst of container starts slows everything on a small host), and backing off
  when they get slow.
- What happened is kept for `medgym://status`: starts waiting, start rate, recent start latency.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from medgym.errors import QuotaError

Progress = Callable[[float, float | None, str], Awaitable[None]]
FAST_START_S = 2.0  # a start this quick lets one more start run at once
SLOW_START_S = 8.0  # a start this slow lets one fewer run at once
WINDOW_S = 300.0  # starts remembered for the rates and latencies in the status


@dataclass
class _Waiter:
    client: str
    granted: anyio.Event


class Capacity:
    def __init__(self, max_sandboxes: int, wait_s: float = 120.0, max_starts: int = 4):
        self.max_sandboxes = max_sandboxes
        self.wait_s = wait_s
        self.max_starts = max_starts
        self.held = 0
        self._queues: OrderedDict[str, deque[_Waiter]] = OrderedDict()
        self._starts = anyio.CapacityLimiter(1)
        self._recent: deque[tuple[float, float]] = deque()  # (when, seconds) of recent starts

    # -- slots --------------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def reserve(self, client: str, progress: Progress | None = None) -> None:
        """Hold one sandbox slot, waiting in the fair queue when all are held (`QuotaError` past `wait_s`)."""
        if self.held < self.max_sandboxes and not self._queues:
            self.held += 1
            return
        waiter = _Waiter(client, anyio.Event())
        self._queues.setdefault(client, deque()).append(waiter)
        try:
            await self._wait(waiter, progress)
        except BaseException:
            if not waiter.granted.is_set():
                self._forget(waiter)
            else:
                self.release()  # granted while being cancelled: hand the slot on
            raise

    async def _wait(self, waiter: _Waiter, progress: Progress | None) -> None:
        deadline = time.monotonic() + self.wait_s
        while not waiter.granted.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._forget(waiter)
                raise QuotaError(f"all {self.max_sandboxes} sandboxes of this server are in use and none freed "
                                 f"within {self.wait_s:g} s; try again later")
            with anyio.move_on_after(min(2.0, remaining)):
                await waiter.granted.wait()
            if progress is not None and not waiter.granted.is_set():
                position = self.position(waiter)
                await _tell(progress, position, f"waiting for a sandbox: number {position} in the queue "
                                                f"({self.max_sandboxes} in use)")

    def position(self, waiter: _Waiter) -> int:
        """1-based place in the round-robin order in which waiters are served."""
        order = [w for round_ in _rounds(list(self._queues.values())) for w in round_]
        return order.index(waiter) + 1 if waiter in order else 0

    def release(self) -> None:
        """Give a slot back: to the next waiter in round-robin order, or to the pool of free slots."""
        while self._queues:
            client, queue = next(iter(self._queues.items()))
            waiter = queue.popleft()
            self._queues.pop(client)
            if queue:
                self._queues[client] = queue  # the client goes to the back of the round
            if not waiter.granted.is_set():
                waiter.granted.set()
                return
        self.held = max(0, self.held - 1)

    def _forget(self, waiter: _Waiter) -> None:
        queue = self._queues.get(waiter.client)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                self._queues.pop(waiter.client)

    # -- starts ---------------------------------------------------------------------------------
    @asynccontextmanager
    async def starting(self) -> AsyncIterator[None]:
        """Throttle one container start (at most `max_starts` at once, ramping up while starts are fast)."""
        async with self._starts:
            started = time.monotonic()
            yield
            self._note(time.monotonic() - started)

    def _note(self, seconds: float) -> None:
        now = time.monotonic()
        self._recent.append((now, seconds))
        while self._recent and self._recent[0][0] < now - WINDOW_S:
            self._recent.popleft()
        tokens = int(self._starts.total_tokens)
        if seconds < FAST_START_S and tokens < self.max_starts:
            self._starts.total_tokens = tokens + 1
        elif seconds > SLOW_START_S and tokens > 1:
            self._starts.total_tokens = tokens - 1

    def stats(self) -> dict[str, float | int | None]:
        """Starts per minute and start latency (p50, p99, ms) over the last few minutes."""
        latencies = sorted(s for _, s in self._recent)
        minutes = WINDOW_S / 60 if not self._recent else max(1.0, (time.monotonic() - self._recent[0][0]) / 60)
        return {"starts_per_minute": round(len(latencies) / minutes, 2),
                "start_p50_ms": _percentile(latencies, 50), "start_p99_ms": _percentile(latencies, 99),
                "starts_at_once": int(self._starts.total_tokens)}


def _rounds(queues: list[deque[_Waiter]]) -> list[list[_Waiter]]:
    depth = max((len(q) for q in queues), default=0)
    return [[q[i] for q in queues if i < len(q)] for i in range(depth)]


def _percentile(values: list[float], p: int) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1)
    return round(values[max(0, index)] * 1000, 1)


async def _tell(progress: Progress, position: int, message: str) -> None:
    with contextlib.suppress(Exception):  # a client that cannot take progress must not lose its place
        await progress(float(position), None, message)
