"""Which sandbox backend a process uses: one typed configuration that builds it.

A discriminated union on `type` (as SWE-ReX's deployment configs): each backend's module, and
the SDK it needs, is imported only when that backend is built (the docker SDK for both; `ray`
only for the Ray backend).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.contract import SandboxBackend


class DockerBackendConfig(BaseModel):
    """Sandboxes on one Docker engine (the local one by default)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["docker"] = "docker"
    docker_host: str | None = Field(None, description="Docker engine address (default: DOCKER_HOST or the socket)")
    runner_channel: Literal["auto", "attach"] = Field(
        "auto", description="'auto': a unix socket to each runner when the engine is local; 'attach': the attach "
                            "stream")

    def build(self, instance_id: str) -> SandboxBackend:
        from sandbox.docker_backend import DockerBackend

        return DockerBackend(instance_id=instance_id, docker_host=self.docker_host, runner_channel=self.runner_channel)


class RayBackendConfig(BaseModel):
    """Sandboxes on the Docker engines of a Ray cluster's nodes, placed by Ray (`sandbox.ray_backend`)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["ray"] = "ray"
    address: str = Field("auto", description="Ray cluster address (host:port, ray://..., or 'auto': this machine's)")
    namespace: str = Field("medgym", description="Ray namespace of the server's node agents")
    resource: str = Field("medgym_sandbox", description="the custom resource each sandbox takes one unit of")
    pool_size: int = Field(2, ge=0, le=32, description="warm sandboxes each node keeps per kind")
    pool_max: int = Field(8, ge=0, le=256, description="how far a node's pool of a kind may grow with demand")
    placement_timeout_s: float = Field(30.0, gt=0, description="how long a start waits for a free sandbox slot")

    def build(self, instance_id: str) -> SandboxBackend:
        from sandbox.ray_backend import RayBackend

        return RayBackend(instance_id=instance_id, address=self.address, namespace=self.namespace,
                          resource=self.resource, pool_size=self.pool_size,
                          pool_max=self.pool_max, placement_timeout_s=self.placement_timeout_s)


BackendConfig = Annotated[DockerBackendConfig | RayBackendConfig, Field(discriminator="type")]
