"""Resource limits of one sandbox container and of one `run_code` call."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Resource limits of one sandbox container and of one `run_code` call."""

    model_config = ConfigDict(frozen=True)

    memory_mb: int = Field(2048, ge=128, description="container memory limit (swap disabled)")
    cpus: float = Field(1.0, gt=0, le=64, description="CPU quota, in cores")
    pids: int = Field(256, ge=16, description="maximum number of processes in the container")
    workspace_mb: int = Field(512, ge=16, description="size of the writable /workspace (tmpfs)")
    tmp_mb: int = Field(256, ge=16, description="size of the writable /tmp (tmpfs)")
    default_timeout_s: float = Field(30.0, gt=0, description="run_code timeout when none is given")
    max_timeout_s: float = Field(600.0, gt=0, description="largest timeout a run_code call may ask for")
    max_output_bytes: int = Field(65536, ge=1024, description="stdout and stderr are each capped here")
