"""The server's live state, built by the lifespan and reached by tools through the request context."""

from __future__ import annotations

from dataclasses import dataclass

from mcp_server.identity import Pseudonyms
from mcp_server.settings import Settings
from sandbox.contract import SandboxBackend
from sandbox.pool import WarmPool
from tools.context import Services
from tools.fhir_episodes import FhirEpisodes
from trajectory.recorder import Recorder


@dataclass
class AppState:
    settings: Settings
    services: Services
    backend: SandboxBackend
    pool: WarmPool
    recorder: Recorder
    pseudonyms: Pseudonyms  # what records keep of a client key
    fhir: FhirEpisodes | None = None  # FHIR tasks' episode bundles (Docker backend only)
