"""Everything long-lived, built once per server process: catalog, sandbox backend, episodes, recorder.

The server answers at once: the task catalog (building the built-in pack, indexing the data
directory) loads in the background, and tools that need it wait for it (`tools.readiness`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread

from mcp_server.identity import Pseudonyms
from mcp_server.recording import start_recording
from mcp_server.settings import Settings
from mcp_server.state import AppState
from medgym.errors import SandboxError
from sandbox.contract import SandboxBackend
from sandbox.pool import WarmPool
from task_store.audit_index import build_audit
from task_store.roots import open_store
from tools.capacity import Capacity
from tools.code_grader import CodeGrader
from tools.context import Services
from tools.episodes import EpisodeManager
from tools.fhir_episodes import fhir_episodes_for, reap_fhir_networks
from tools.readiness import Catalog
from tools.reference_cache import ReferenceCache
from tools.sandboxes import SandboxProvider
from trajectory.recorder import Recorder

log = logging.getLogger(__name__)

REAP_INTERVAL_S = 30.0


def reap_orphans(backend: SandboxBackend) -> bool:
    """Remove sandboxes left by medgym servers that no longer run; False when the engine is unreachable."""
    try:
        removed = backend.reap_orphans()
        networks = reap_fhir_networks(backend)
    except SandboxError as exc:
        log.warning("the sandbox engine is not reachable, so run_code will fail until it is: %s", exc)
        return False
    if removed:
        log.info("removed %d orphaned sandbox container(s) of an earlier medgym server", removed)
    if networks:
        log.info("removed %d orphaned FHIR episode network(s)", networks)
    return True


def load_catalog(settings: Settings, catalog: Catalog) -> None:
    """Build the pack if needed and index every root (blocking; run in a worker thread)."""
    try:
        if settings.pack:
            catalog.step("building the built-in pack")
        roots = settings.roots()
        catalog.step("indexing")
        store = open_store(settings.db_path, roots, lambda done, total: catalog.step("indexing", done, total))
        store.audit = build_audit([r.path for r in roots if r.label == "medagentgym"], settings.labels)
        catalog.loaded(store)
        log.info("task catalog ready")
    except Exception as exc:
        log.exception("the task catalog could not be loaded")
        catalog.failed(f"{type(exc).__name__}: {exc}")


@asynccontextmanager
async def app_lifespan(settings: Settings) -> AsyncIterator[AppState]:
    catalog = Catalog(settings.catalog_wait_s)
    backend = settings.backend_config().build(instance_id=uuid.uuid4().hex[:12])
    local_pool = 0 if settings.backend == "ray" else settings.pool_size  # Ray nodes pool their own
    pool = WarmPool(backend.start, local_pool, max_size=local_pool and settings.pool_max)
    fhir = fhir_episodes_for(backend, settings.home / "fhir-cache", settings.pool_size)
    sandboxes = SandboxProvider(lambda: catalog.store, settings.image, settings.limits, pool.acquire, fhir,
                                start_fresh=backend.start)
    capacity = Capacity(settings.max_sandboxes, settings.start_wait_s, settings.max_starts)
    episodes = EpisodeManager(sandboxes.for_episode, settings.max_attempts, settings.episode_idle_timeout_s,
                              settings.max_episodes_per_client, settings.max_sandboxes, settings.episodes_per_task,
                              capacity)
    grader = CodeGrader(lambda: catalog.store, sandboxes, ReferenceCache(settings.home / "grader-cache"))
    services = Services(catalog=catalog, episodes=episodes, limits=settings.limits, code_grader=grader)
    pseudonyms = Pseudonyms.of_home(settings.home)
    recorder = start_recording(settings, catalog, episodes, pseudonyms, None)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_start_up, settings, catalog, backend, pool, sandboxes, recorder)
            group.start_soon(_reap_idle_forever, episodes)
            try:
                yield AppState(settings=settings, services=services, backend=backend, pool=pool, recorder=recorder,
                               pseudonyms=pseudonyms, fhir=fhir)
            finally:
                group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await episodes.close_all()
            await anyio.to_thread.run_sync(pool.close)
            if fhir is not None:
                await anyio.to_thread.run_sync(fhir.close)
            await anyio.to_thread.run_sync(backend.remove_own)
            await anyio.to_thread.run_sync(recorder.store.close)
            if catalog.ready:
                catalog.store.close()
            log.info("medgym server stopped; its sandboxes are removed")


async def _start_up(settings: Settings, catalog: Catalog, backend: SandboxBackend, pool: WarmPool,
                    sandboxes: SandboxProvider, recorder: Recorder) -> None:
    """In the background, at once: note the image (the episodes the catalog lets start name it in their
    records), reap orphans and load the catalog; then warm the pool."""
    engine: list[bool] = []

    async def reap() -> None:
        engine.append(await anyio.to_thread.run_sync(reap_orphans, backend, abandon_on_cancel=True))

    async def note_image() -> None:  # not after the reap: removing many orphans can take seconds
        image_id = await anyio.to_thread.run_sync(_image_id, backend, settings.image, abandon_on_cancel=True)
        recorder.note_image_id(image_id)

    async with anyio.create_task_group() as group:
        group.start_soon(note_image)
        group.start_soon(reap)
        await anyio.to_thread.run_sync(load_catalog, settings, catalog, abandon_on_cancel=True)
    if not engine or not engine[0] or not catalog.ready:
        return
    pool.warm(sandboxes.spec(None))


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
