"""Everything long-lived, built once per server process: store, sandbox backend, episodes, recorder."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread

from mcp_server.recording import start_recording
from mcp_server.settings import Settings
from mcp_server.state import AppState
from medgym.errors import SandboxError
from sandbox.contract import SandboxBackend
from sandbox.pool import WarmPool
from task_store.roots import open_store
from tools.code_grader import CodeGrader
from tools.context import Services
from tools.episodes import EpisodeManager
from tools.reference_cache import ReferenceCache
from tools.sandboxes import SandboxProvider

log = logging.getLogger(__name__)

REAP_INTERVAL_S = 30.0


def reap_orphans(backend: SandboxBackend) -> bool:
    """Remove sandboxes left by medgym servers that no longer run; False when the engine is unreachable."""
    try:
        removed = backend.reap_orphans()
    except SandboxError as exc:
        log.warning("the sandbox engine is not reachable, so run_code will fail until it is: %s", exc)
        return False
    if removed:
        log.info("removed %d orphaned sandbox container(s) of an earlier medgym server", removed)
    return True


@asynccontextmanager
async def app_lifespan(settings: Settings) -> AsyncIterator[AppState]:
    store = await anyio.to_thread.run_sync(lambda: open_store(settings.db_path, settings.roots()))
    backend = settings.backend_config().build(instance_id=uuid.uuid4().hex[:12])
    engine_ok = await anyio.to_thread.run_sync(reap_orphans, backend)
    pool = WarmPool(backend.start, settings.pool_size)
    sandboxes = SandboxProvider(store, settings.image, settings.limits, pool.acquire, backend.start)
    if engine_ok:
        pool.warm(sandboxes.spec(None))
    episodes = EpisodeManager(sandboxes.for_episode, settings.max_attempts, settings.episode_idle_timeout_s,
                              settings.max_episodes_per_client)
    services = Services(store=store, episodes=episodes, limits=settings.limits,
                        code_grader=CodeGrader(store, sandboxes, ReferenceCache(settings.home / "grader-cache")))
    image_id = await anyio.to_thread.run_sync(_image_id, backend, settings.image) if engine_ok else None
    recorder = start_recording(settings, store, episodes, image_id)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_reap_idle_forever, episodes)
            try:
                yield AppState(settings=settings, services=services, backend=backend, pool=pool, recorder=recorder)
            finally:
                group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await episodes.close_all()
            await anyio.to_thread.run_sync(pool.close)
            await anyio.to_thread.run_sync(backend.remove_own)
            await anyio.to_thread.run_sync(recorder.store.close)
            store.close()
            log.info("medgym server stopped; its sandboxes are removed")


def _image_id(backend: SandboxBackend, image: str) -> str | None:
    try:
        return backend.image_status(image).image_id
    except SandboxError:
        return None


async def _reap_idle_forever(episodes: EpisodeManager) -> None:
    while True:
        await anyio.sleep(REAP_INTERVAL_S)
        try:
            if reaped := await episodes.reap_idle():
                log.info("ended %d idle episode(s)", reaped)
        except Exception:
            log.exception("idle reaper failed")
