"""Everything long-lived, built once per server process: store, Docker backend, episodes."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from mcp_server.episodes import Episode, EpisodeManager
from mcp_server.recording import start_recording
from mcp_server.settings import Settings
from sandbox.contract import SandboxError, SandboxSpec
from sandbox.docker_backend import DockerBackend, DockerSandbox
from sandbox.labels import is_orphan
from sandbox.pool import WarmPool
from task_store import data
from task_store.pack.build import ensure_pack
from task_store.store import DataRoot, TaskStore
from tools.context import Services
from trajectory.recorder import Recorder

log = logging.getLogger(__name__)

REAP_INTERVAL_S = 30.0


@dataclass
class AppState:
    """What tools reach through `ctx.request_context.lifespan_context`."""

    settings: Settings
    services: Services
    backend: DockerBackend
    pool: WarmPool
    recorder: Recorder


def configured_roots(settings: Settings) -> list[DataRoot]:
    """The data roots this server serves: the built-in pack and the user's data directory, if any."""
    roots: list[DataRoot] = []
    if settings.pack:
        roots.append(DataRoot("pack", ensure_pack(settings.home, settings.pack_seed)))
    if settings.data_dir is not None:
        roots.append(DataRoot("medagentgym", settings.data_dir))
    return roots


def open_store(settings: Settings) -> TaskStore:
    store = TaskStore.open(settings.db_path, configured_roots(settings))
    for report in store.reports.values():
        for error in report.errors:
            log.warning("malformed record skipped: %s", error)
    return store


def sandbox_spec(settings: Settings, store: TaskStore, dataset: str | None, labels: dict[str, str]) -> SandboxSpec:
    """The sandbox of a dataset's episodes: the dataset's data mounted read-only (none for None)."""
    root = store.root_of(dataset) if dataset else None
    mounts = tuple(data.mounts(root.path / dataset, dataset)) if root is not None and dataset else ()
    return SandboxSpec(image=settings.image, limits=settings.limits, mounts=mounts, labels=labels)


def sandbox_factory(settings: Settings, store: TaskStore, pool: WarmPool) -> Any:
    """Episode -> a ready sandbox (from the warm pool when one is idle)."""

    def start(episode: Episode) -> DockerSandbox:
        labels = {"medgym.episode": episode.episode_id, "medgym.task": episode.task_id,
                  "medgym.client": episode.client or "-"}
        return pool.acquire(sandbox_spec(settings, store, episode.task_id.split("/", 1)[0], labels))

    return start


def reap_orphans(backend: DockerBackend) -> bool:
    """Remove containers left by medgym servers that no longer run; False when Docker is unreachable."""
    try:
        removed = backend.remove_where(is_orphan)
    except SandboxError as exc:
        log.warning("Docker is not reachable, so run_code will fail until it is: %s", exc)
        return False
    if removed:
        log.info("removed %d orphaned sandbox container(s) of an earlier medgym server", removed)
    return True


@asynccontextmanager
async def app_lifespan(settings: Settings) -> AsyncIterator[AppState]:
    store = await anyio.to_thread.run_sync(open_store, settings)
    backend = DockerBackend(instance_id=uuid.uuid4().hex[:12], docker_host=settings.docker_host)
    docker_ok = await anyio.to_thread.run_sync(reap_orphans, backend)
    pool = WarmPool(backend.start, settings.pool_size)
    if docker_ok:
        pool.warm(sandbox_spec(settings, store, None, {}))
    episodes = EpisodeManager(sandbox_factory(settings, store, pool), settings.max_attempts,
                              settings.episode_idle_timeout_s, settings.max_episodes_per_client)
    services = Services(store=store, episodes=episodes, limits=settings.limits,
                        max_attempts=settings.max_attempts)
    image_id = await anyio.to_thread.run_sync(_image_id, backend, settings.image) if docker_ok else None
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
            await anyio.to_thread.run_sync(_remove_own, backend)
            await anyio.to_thread.run_sync(recorder.store.close)
            store.close()
            log.info("medgym server stopped; its sandboxes are removed")


def _image_id(backend: DockerBackend, image: str) -> str | None:
    from sandbox.image import image_status

    try:
        return image_status(backend.client, image).image_id
    except SandboxError:
        return None


def _remove_own(backend: DockerBackend) -> None:
    try:
        backend.remove_where(lambda labels: labels.get("medgym.instance") == backend.instance_id)
    except SandboxError as exc:
        log.warning("could not remove this server's containers: %s", exc)


async def _reap_idle_forever(episodes: EpisodeManager) -> None:
    while True:
        await anyio.sleep(REAP_INTERVAL_S)
        try:
            if reaped := await episodes.reap_idle():
                log.info("ended %d idle episode(s)", reaped)
        except Exception:
            log.exception("idle reaper failed")
