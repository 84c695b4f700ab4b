"""Which sandbox backend a process uses: one typed configuration that builds it.

A discriminated union on `type` (as SWE-ReX's deployment configs): each backend's module, and
the SDK it needs, is imported only when that backend is built.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.contract import SandboxBackend


class DockerBackendConfig(BaseModel):
    """Sandboxes on one Docker engine (the local one by default)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["docker"] = "docker"
    docker_host: str | None = Field(None, description="Docker engine address (default: DOCKER_HOST or the socket)")

    def build(self, instance_id: str) -> SandboxBackend:
        from sandbox.docker_backend import DockerBackend

        return DockerBackend(instance_id=instance_id, docker_host=self.docker_host)


BackendConfig = DockerBackendConfig  # a discriminated union on `type` once there are two backends
