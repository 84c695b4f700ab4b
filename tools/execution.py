"""run_code: execute the agent's Python in its episode's sandbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

import anyio
import anyio.to_thread
from pydantic import Field

from medgym.errors import InvalidArgumentError, SandboxError, SandboxLostError, SandboxUnavailableError
from sandbox.contract import ExecResult
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
    task_of(call, task_id)
    episode = call.services.episodes.resolve(task_id, call.caller, episode_id)
    async with episode.lock:
        episode.touch()
        result = await run_in_sandbox(call, episode, code, timeout)
        episode.touch()
    return RunResult(**result.model_dump(), note=limits_note(result, timeout, limits), episode_id=episode.episode_id)


def limits_note(result: ExecResult, timeout: float, limits: Limits) -> str | None:
    """The limits a run ran into, in plain words, with what to do about each."""
    notes = {
        "timeout": f"the run was stopped after {timeout:g} s, its timeout_s; pass a larger timeout_s (at most "
                   f"{limits.max_timeout_s:g}) for longer work, or make the code faster",
        "memory": f"the run was killed for using more than the sandbox's {limits.memory_mb} MB of memory; process "
                  "the data in chunks",
        "processes": f"the run reached the sandbox's limit of {limits.pids} processes and threads",
        "disk": f"/workspace ({limits.workspace_mb} MB) or /tmp ({limits.tmp_mb} MB) is full; delete files you no "
                "longer need",
        "output": f"stdout or stderr went over {limits.max_output_bytes} bytes: the middle was cut (head and tail "
                  "kept); print less, or write to a file in /workspace and print parts of it",
    }
    said = [notes[name] for name in result.limits_hit if name in notes]
    return "; ".join(said) + "." if said else None


async def run_in_sandbox(call: Call, episode: Episode, code: str, timeout: float) -> ExecResult:
    """Run code in the episode's sandbox (started on first use); a lost sandbox is dropped."""
    episodes = call.services.episodes
    try:
        sandbox = await episodes.sandbox(episode, call.progress)
    except SandboxUnavailableError as exc:
        raise SandboxUnavailableError(f"medgym could not start a sandbox: {exc}") from None
    try:
        return await _with_progress(
            lambda: sandbox.run(code, timeout, call.services.limits.max_output_bytes), timeout, call.progress,
            episodes.threads)
    except SandboxLostError as exc:
        await episodes.drop_sandbox(episode)
        raise SandboxLostError(
            f"the episode's sandbox was lost ({exc}); files in /workspace are gone. "
            "Run your code again to get a fresh sandbox, or call reset_task."
        ) from None
    except SandboxError as exc:
        await episodes.drop_sandbox(episode)
        raise SandboxError(f"sandbox failure, not a problem with your code: {exc}") from None


async def _with_progress(
    run: Callable[[], ExecResult], timeout: float, on_progress: ProgressCallback | None,
    limiter: anyio.CapacityLimiter,
) -> ExecResult:
    """Run the blocking call in a worker thread, reporting elapsed time every few seconds."""
    if on_progress is None:
        return await anyio.to_thread.run_sync(run, limiter=limiter)
    outcome: list[ExecResult] = []
    failure: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def ticker() -> None:
            elapsed = 0.0
            while True:
                await anyio.sleep(PROGRESS_INTERVAL_S)
                elapsed += PROGRESS_INTERVAL_S
                try:
                    await on_progress(elapsed, timeout, f"running: {elapsed:.0f} s of at most {timeout:g} s")
                except Exception as exc:  # a client that cannot take progress must not fail the run
                    log.debug("progress notification failed: %s", exc)
                    return

        group.start_soon(ticker)
        try:
            outcome.append(await anyio.to_thread.run_sync(run, limiter=limiter))
        except Exception as exc:  # re-raised below, outside the task group (which would wrap it in a group)
            failure.append(exc)
        finally:
            group.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0]
