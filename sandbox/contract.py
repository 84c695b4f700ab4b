"""The sandbox contract every backend implements, with honest, typed failures.

A non-zero exit, a timeout or an out-of-memory kill is a normal `ExecResult`. Only "could not
run at all" raises, with a `SandboxError` subclass whose message is never shown as program
output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from sandbox.limits import Limits


class ExecResult(BaseModel):
    """What one `run_code` produced."""

    model_config = ConfigDict(frozen=True)

    exit_code: int = Field(description="the process exit status; negative: killed by that signal")
    stdout: str
    stderr: str
    duration_ms: float
    timed_out: bool = False
    oom_killed: bool = False
    output_truncated: bool = False
    limits_hit: list[Literal["timeout", "memory", "processes", "disk", "output"]] = Field(
        default_factory=list, description="which sandbox limits this run ran into")


@dataclass(frozen=True)
class Mount:
    """A host path bind-mounted read-only into the sandbox."""

    source: Path
    target: str


@dataclass(frozen=True)
class SandboxSpec:
    """Everything needed to start one episode's sandbox."""

    image: str
    limits: Limits
    mounts: tuple[Mount, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


class Sandbox(Protocol):
    """One isolated execution environment, owned by one episode."""

    @property
    def sandbox_id(self) -> str: ...

    def run(self, code: str, timeout_s: float, max_output_bytes: int) -> ExecResult:
        """Run `code` as `python script.py` in /workspace. Blocking; call from a worker thread."""
        ...

    def close(self) -> None:
        """Destroy the sandbox and everything in it. Idempotent."""
        ...


class SandboxError(RuntimeError):
    """The sandbox machinery failed (not the agent's code)."""


class SandboxUnavailableError(SandboxError):
    """The container engine cannot be reached or refuses to start the sandbox."""


class SandboxLostError(SandboxError):
    """The sandbox disappeared or stopped answering (killed from outside, engine restarted)."""


class SandboxTimeoutError(SandboxError, TimeoutError):
    """The in-container runner did not answer within the run's timeout plus a grace period."""
