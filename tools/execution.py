"""run_code: execute the agent's Python in its episode's sandbox."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread

from mcp_server.episodes import Episode, EpisodeError
from sandbox.contract import ExecResult, SandboxError, SandboxLostError, SandboxUnavailableError
from tools.catalog import resolve_episode, task_of
from tools.context import Services
from tools.errors import ServiceError, ToolInputError
from tools.results import RunResult

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float, float | None, str], Awaitable[None]]
PROGRESS_INTERVAL_S = 5.0


async def run_code(
    services: Services,
    client: str | None,
    task_id: str,
    code: str,
    timeout_s: float | None = None,
    episode_id: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> RunResult:
    limits = services.limits
    timeout = limits.default_timeout_s if timeout_s is None else timeout_s
    if not 0 < timeout <= limits.max_timeout_s:
        raise ToolInputError(f"timeout_s must be > 0 and at most {limits.max_timeout_s:g} seconds")
    task_of(services, task_id)
    episode = resolve_episode(services, client, task_id, episode_id)
    async with episode.lock:
        episode.touch()
        result = await run_in_sandbox(services, episode, code, timeout, on_progress)
        episode.touch()
    return RunResult(**result.model_dump(), episode_id=episode.episode_id)


async def run_in_sandbox(
    services: Services, episode: Episode, code: str, timeout: float, on_progress: ProgressCallback | None
) -> ExecResult:
    try:
        sandbox = await services.episodes.sandbox(episode)
    except EpisodeError as exc:
        raise ToolInputError(str(exc)) from None
    except SandboxUnavailableError as exc:
        raise ServiceError(f"medgym could not start a sandbox: {exc}") from None
    try:
        return await _with_progress(
            lambda: sandbox.run(code, timeout, services.limits.max_output_bytes), timeout, on_progress)
    except SandboxLostError as exc:
        await services.episodes.drop_sandbox(episode)
        raise ServiceError(
            f"the episode's sandbox was lost ({exc}); files in /workspace are gone. "
            "Run your code again to get a fresh sandbox, or call reset_task."
        ) from None
    except SandboxError as exc:
        await services.episodes.drop_sandbox(episode)
        raise ServiceError(f"sandbox failure, not a problem with your code: {exc}") from None


async def _with_progress(
    call: Callable[[], ExecResult], timeout: float, on_progress: ProgressCallback | None
) -> ExecResult:
    """Run the blocking call in a worker thread, reporting elapsed time every few seconds."""
    if on_progress is None:
        return await anyio.to_thread.run_sync(call)
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
            outcome.append(await anyio.to_thread.run_sync(call))
        except Exception as exc:  # re-raised below, outside the task group (which would wrap it in a group)
            failure.append(exc)
        finally:
            group.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0]
