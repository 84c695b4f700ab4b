"""FHIR episodes: each one's sandbox comes with its own FHIR server, loaded with the dataset's EHR.

`FhirEpisodes.sandbox` is what `SandboxProvider.for_episode` calls for a FHIR dataset. Starting a
bundle (network, server, loading the EHR, the agent's sandbox on that network) takes over a second,
so bundles are kept warm like plain sandboxes: one `WarmPool` per EHR file, whose start function
starts a whole bundle. A pooled bundle is handed to one episode and destroyed with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from medgym.errors import SandboxUnavailableError, TaskNotScorableError
from sandbox.contract import Sandbox, SandboxBackend, SandboxSpec
from sandbox.fhir import FhirConfig, reap_orphan_networks
from sandbox.fhir_sandbox import start_fhir_sandbox
from sandbox.pool import WarmPool
from task_store.fhir_seed import SEED_FOLDER, seed_file

log = logging.getLogger(__name__)

ClientSource = Callable[[], Any]


def missing_ehr(directory: Path) -> str:
    """Why a FHIR task cannot run here (no host path: the message reaches the agent)."""
    return (f"this task needs its EHR as FHIR resources in {directory.name}/{SEED_FOLDER}/ of the data directory "
            "(JSON or NDJSON; see `medgym doctor`), which is not there: the task can be read but not solved or "
            "scored here")


class FhirEpisodes:
    """Starts (or hands out pre-started) FHIR episode bundles."""

    def __init__(self, client: ClientSource, start: Callable[[SandboxSpec], Sandbox], cache: Path,
                 pool_size: int, config: FhirConfig | None = None):
        self._client = client
        self._start = start
        self.cache = cache
        self._pool_size = pool_size
        self.config = config or FhirConfig()
        self._pools: dict[Path, WarmPool] = {}
        self._lock = threading.Lock()

    def sandbox(self, spec: SandboxSpec, directory: Path) -> Sandbox:
        """The sandbox of one episode of a FHIR dataset in `directory`. Blocking."""
        seed = seed_file(directory, self.cache)
        if seed is None:
            raise TaskNotScorableError(missing_ehr(directory))
        return self._pool(seed).acquire(spec)

    def start_bundle(self, seed: Path, spec: SandboxSpec) -> Sandbox:
        """A fresh bundle, not pooled (certify, tests)."""
        try:
            client = self._client()
        except Exception as exc:
            raise SandboxUnavailableError(f"FHIR tasks need the Docker engine: {exc}") from exc
        return start_fhir_sandbox(client, self._start, spec, seed, self.config)

    def _pool(self, seed: Path) -> WarmPool:
        with self._lock:
            if seed not in self._pools:
                self._pools[seed] = WarmPool(partial(self.start_bundle, seed), self._pool_size)
            return self._pools[seed]

    def idle_count(self) -> int:
        with self._lock:
            return sum(pool.idle_count() for pool in self._pools.values())

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def fhir_episodes_for(backend: SandboxBackend, cache: Path, pool_size: int) -> FhirEpisodes | None:
    """FHIR episodes on the backend's Docker engine (None for a backend that is not Docker)."""
    from sandbox.docker_backend import DockerBackend

    if not isinstance(backend, DockerBackend):
        return None
    return FhirEpisodes(lambda: backend.client, backend.start, cache, pool_size,
                        FhirConfig(instance_id=backend.instance_id))


def reap_fhir_networks(backend: SandboxBackend) -> int:
    """Remove the episode networks of FHIR servers whose medgym server is gone (after their containers)."""
    from sandbox.docker_backend import DockerBackend

    if not isinstance(backend, DockerBackend):
        return 0
    try:
        return reap_orphan_networks(backend.client)
    except SandboxUnavailableError:
        raise
    except Exception as exc:  # the next server start retries
        log.warning("could not reap FHIR episode networks: %s", exc)
        return 0
