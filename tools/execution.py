"""run_code: execute the agent's Python in its episode's sandbox."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol, runtime_checkable

import anyio
import anyio.to_thread
from pydantic import Field

from medgym import stages
from medgym.errors import InvalidArgumentError, SandboxError, SandboxLostError, SandboxUnavailableError
from sandbox.contract import ExecResult, Sandbox
from sandbox.limits import Limits
from tools.catalog import task_of
from tools.context import Call, ProgressCallback
from tools.episodes import Episode
from tools.params import EpisodeId, TaskId, TimeoutSeconds
from tools.results import RunResult

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 5.0


async def run_code(
    call: Call,
    task_id: TaskId,
    code: Annotated[str, Field(description="Python 3 source, run like `python script.py` in /workspace",
                               max_length=1_000_000)],
    timeout_s: TimeoutSeconds = None,
    episode_id: EpisodeId = None,
) -> RunResult:
    """Run Python in this task's sandbox (no network; data read-only under /data/<dataset>/).

    Returns exit_code, stdout, stderr (each capped), duration_ms, and whether the run timed
    out, was killed for memory, or had its output truncated.
    """
    limits = call.services.limits
    timeout = limits.default_timeout_s if timeout_s is None else timeout_s
    if not 0 < timeout <= limits.max_timeout_s:
        raise InvalidArgumentError(f"timeout_s must be > 0 and at most {limits.max_timeout_s:g} seconds")
    episode = _episode(call, task_id, episode_id)
    stages.mark("resolve")
    async with episode.lock:
        stages.mark("lock")
        episode.touch()
        result = await run_in_sandbox(call, episode, code, timeout)
        episode.touch()
    # `result` is validated already: build the tool's result from its fields without validating them again
    run = RunResult.model_construct(**result.__dict__, note=limits_note(result, timeout, limits),
                                    episode_id=episode.episode_id)
    stages.mark("result")
    return run


def limits_note(result: ExecResult, timeout: float, limits: Limits) -> str | None:
    """The limits a run ran into, in plain words, with what to do about each."""
    if not result.limits_hit:
        return None
    notes = {
        "timeout": f"the run was stopped after {timeout:g} s, its timeout_s; pass a larger timeout_s (at most "
                   f"{limits.max_timeout_s:g}) for longer work, or make the code faster",
        "memory": f"the run was killed for using more than the sandbox's {limits.memory_mb} MB of memory; process "
                  "the data in chunks",
        "processes": f"the run reached the sandbox's limit of {limits.pids} processes and threads",
        "disk": f"/workspace ({limits.workspace_mb} MB), /tmp ({limits.tmp_mb} MB) or /dev/shm is full; delete "
                "files you no longer need",
        "output": f"stdout or stderr went over {limits.max_output_bytes} bytes: the middle was cut (head and tail "
                  "kept); print less, or write to a file in /workspace and print parts of it",
    }
    return "; ".join(notes[name] for name in result.limits_hit if name in notes) + "."


def _episode(call: Call, task_id: str, episode_id: str | None) -> Episode:
    """The episode a call refers to. The task store is asked only when the caller has no episode of
    this task yet: an open episode's task exists (it was checked when the episode opened)."""
    episodes = call.services.episodes
    episode = episodes.peek(task_id, call.caller, episode_id)
    if episode is None:
        task_of(call, task_id)
        episode = episodes.resolve(task_id, call.caller, episode_id)
    return episode


async def run_in_sandbox(call: Call, episode: Episode, code: str, timeout: float) -> ExecResult:
    """Run code in the episode's sandbox (started on first use); a lost sandbox is dropped."""
    episodes = call.services.episodes
    try:
        sandbox = await episodes.sandbox(episode, call.progress)
    except SandboxUnavailableError as exc:
        raise SandboxUnavailableError(f"medgym could not start a sandbox: {exc}") from None
    stages.mark("sandbox")
    try:
        return await _run(sandbox, code, timeout, call, episodes.threads)
    except SandboxLostError as exc:
        await episodes.drop_sandbox(episode)
        raise SandboxLostError(
            f"the episode's sandbox was lost ({exc}); files in /workspace are gone. "
            "Run your code again to get a fresh sandbox, or call reset_task."
        ) from None
    except SandboxError as exc:
        await episodes.drop_sandbox(episode)
        raise SandboxError(f"sandbox failure, not a problem with your code: {exc}") from None


@runtime_checkable
class AsyncSandbox(Protocol):
    """A sandbox that can also run code on the event loop (the Docker backend's non-blocking channel),
    calling `on_wait(elapsed_s)` every few seconds while the run goes on."""

    async def run_async(self, code: str, timeout_s: float, max_output_bytes: int,
                        on_wait: Callable[[float], Awaitable[None]] | None = None) -> ExecResult: ...


async def _run(sandbox: Sandbox, code: str, timeout: float, call: Call, limiter: anyio.CapacityLimiter) -> ExecResult:
    """The run, reporting elapsed time every few seconds: on the event loop when the sandbox can (its
    wait reports progress, no other task is needed), else in a worker thread beside a ticker task."""
    max_output = call.services.limits.max_output_bytes
    progress = _Progress(call.progress, timeout)
    if isinstance(sandbox, AsyncSandbox):
        return await sandbox.run_async(code, timeout, max_output, progress if call.progress else None)
    run = functools.partial(anyio.to_thread.run_sync, functools.partial(sandbox.run, code, timeout, max_output),
                            limiter=limiter)
    if call.progress is None:
        return await run()
    return await _with_ticker(run, progress)


class _Progress:
    """Reports `elapsed` seconds of a run to the caller; a caller that cannot take it is told no more."""

    def __init__(self, on_progress: ProgressCallback | None, timeout: float):
        self._on_progress = on_progress
        self._timeout = timeout

    async def __call__(self, elapsed: float) -> None:
        if self._on_progress is None:
            return
        try:
            await self._on_progress(elapsed, self._timeout,
                                    f"running: {elapsed:.0f} s of at most {self._timeout:g} s")
        except Exception as exc:  # a client that cannot take progress must not fail the run
            log.debug("progress notification failed: %s", exc)
            self._on_progress = None


async def _with_ticker(run: Callable[[], Awaitable[ExecResult]], progress: _Progress) -> ExecResult:
    """Await the run while a ticker task reports progress every few seconds."""
    outcome: list[ExecResult] = []
    failure: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def ticker() -> None:
            elapsed = 0.0
            while True:
                await anyio.sleep(PROGRESS_INTERVAL_S)
                elapsed += PROGRESS_INTERVAL_S
                await progress(elapsed)

        group.start_soon(ticker)
        try:
            outcome.append(await run())
        except Exception as exc:  # re-raised below, outside the task group (which would wrap it in a group)
            failure.append(exc)
        finally:
            group.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0]
