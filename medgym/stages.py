"""Where a tool call's time goes: a per-call clock of named stages, logged at DEBUG on `medgym.stages`.

The registrar opens a clock around every tool call when that logger is enabled for DEBUG (when it
is not, a `mark` costs one context-variable read); code on the hot path marks the end of each of its
stages, and one line per call is logged when the clock closes, e.g.

    run_code 4.210 ms: enter=0.031 resolve=0.012 sandbox=0.004 request=3.702 parse=0.041 result=0.010
    record=0.120 exit=0.290 | runner=0.950

A stage is the time since the previous mark (a stage marked twice adds up); after `|` come values
measured elsewhere and noted as they are (e.g. the runner's own duration of the run). An outer
caller may open the clock earlier (e.g. around the MCP SDK's whole `call_tool`, as the latency
benchmark does); the registrar's clock then joins it instead of starting a second one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger("medgym.stages")


class StageClock:
    """The stages of one call, in the order they were first marked, in milliseconds."""

    __slots__ = ("last", "name", "notes", "stages", "start")

    def __init__(self, name: str):
        self.name = name
        self.start = self.last = time.perf_counter()
        self.stages: dict[str, float] = {}
        self.notes: dict[str, float] = {}

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + (now - self.last) * 1000.0
        self.last = now

    def line(self) -> str:
        total = (self.last - self.start) * 1000.0
        stages = " ".join(f"{name}={ms:.3f}" for name, ms in self.stages.items())
        notes = " ".join(f"{name}={ms:.3f}" for name, ms in self.notes.items())
        return f"{self.name} {total:.3f} ms: {stages}" + (f" | {notes}" if notes else "")


_clock: ContextVar[StageClock | None] = ContextVar("medgym_stage_clock", default=None)


@contextmanager
def clocked(name: str, last_stage: str = "exit") -> Iterator[None]:
    """Time the stages of one call (when `medgym.stages` logs DEBUG) and log them at the end."""
    if _clock.get() is not None or not log.isEnabledFor(logging.DEBUG):
        yield
        return
    clock = StageClock(name)
    token = _clock.set(clock)
    try:
        yield
    finally:
        clock.mark(last_stage)
        _clock.reset(token)
        log.debug("%s", clock.line())


def mark(stage: str) -> None:
    """End the current stage of this call's clock (nothing when no clock is open)."""
    clock = _clock.get()
    if clock is not None:
        clock.mark(stage)


def note(name: str, value_ms: float) -> None:
    """Attach a duration measured elsewhere (e.g. inside the sandbox) to this call's line."""
    clock = _clock.get()
    if clock is not None:
        clock.notes[name] = value_ms
