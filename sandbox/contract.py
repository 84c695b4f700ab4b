"""The sandbox contract every backend implements, with honest, typed failures.

A non-zero exit, a timeout or an out-of-memory kill is a normal `ExecResult`. Only "could not
run at all" raises, with a `medgym.errors.SandboxError` subclass whose message is never shown as
program output. Reading a file the code wrote (`read_file`) raises `SandboxFileError` when the
file is not there to read (the code's doing, not the sandbox's).

Two protocols: a `Sandbox` is one isolated environment owned by one episode; a `SandboxBackend`
starts sandboxes from a `SandboxSpec` and reaps them (the local Docker engine; a Ray cluster of
Docker nodes). Backends are built from a typed configuration (`sandbox.config`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from medgym.errors import SandboxFileError
from sandbox.limits import Limits

LimitName = Literal["timeout", "memory", "processes", "disk", "output"]


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
    limits_hit: list[LimitName] = Field(default_factory=list, description="which sandbox limits this run ran into")


@dataclass(frozen=True)
class Mount:
    """A host folder or file the sandbox sees read-only at `target`.

    With `copy`, the sandbox sees an engine-side copy of the folder instead of a bind mount, so
    nothing inside can learn the host path (e.g. the medgym home and the pack's folder).
    """

    source: Path
    target: str
    copy: bool = False


@dataclass(frozen=True)
class SandboxNetwork:
    """An internal network the sandbox joins instead of having none (an episode's FHIR server's).

    `dns` is the network's unreachable gateway address: the engine's embedded DNS still answers the
    names of the network's containers, and nothing else resolves."""

    name: str
    dns: str


@dataclass(frozen=True)
class SandboxSpec:
    """Everything needed to start one sandbox."""

    image: str
    limits: Limits
    mounts: tuple[Mount, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    network: SandboxNetwork | None = None  # None: no network at all


class Sandbox(Protocol):
    """One isolated execution environment, owned by one episode."""

    @property
    def sandbox_id(self) -> str: ...

    def run(self, code: str, timeout_s: float, max_output_bytes: int) -> ExecResult:
        """Run `code` as `python script.py` in /workspace. Blocking; call from a worker thread.

        Raises:
            SandboxLostError: the sandbox is gone or stopped answering.
            SandboxTimeoutError: the runner did not answer within the timeout plus a grace period.
            SandboxError: any other failure to run the code at all.
        """
        ...

    def read_file(self, path: str, max_bytes: int) -> bytes:
        """The bytes of a regular file under /workspace (written by the sandbox's code: treat them as
        hostile). `path` is absolute; symbolic links are resolved and must stay under /workspace.
        Blocking; call from a worker thread, never while a run of the same sandbox is in progress.

        Raises:
            SandboxFileError: the file is missing ("missing"), not a regular file ("not_a_file"),
                resolves outside /workspace ("outside") or holds more than `max_bytes` ("too_large").
            SandboxLostError: the sandbox is gone or stopped answering.
            SandboxTimeoutError: the runner did not answer in time.
            SandboxError: any other failure to read at all.
        """
        ...

    def alive(self) -> bool:
        """True when the sandbox answers (a pooled one may have been killed meanwhile). Never raises."""
        ...

    def close(self) -> None:
        """Destroy the sandbox and everything in it. Idempotent; never raises."""
        ...


WORKSPACE = "/workspace"
FileProblem = Literal["missing", "not_a_file", "unreadable", "outside", "too_large"]
FILE_PROBLEMS: dict[str, str] = {
    "missing": "does not exist", "not_a_file": "is not a regular file", "unreadable": "cannot be read (permissions)",
    "outside": f"resolves to a place outside {WORKSPACE}", "too_large": "is larger than the limit of {max_bytes} bytes",
}


def file_error(path: str, problem: FileProblem, max_bytes: int) -> SandboxFileError:
    """The error every backend raises when `read_file` finds no readable file (one wording for all)."""
    return SandboxFileError(f"{path} {FILE_PROBLEMS[problem].format(max_bytes=max_bytes)}", problem)


LabelPredicate = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True)
class ImageStatus:
    """Whether the sandbox image is present where sandboxes start, and built from this definition."""

    image: str
    present: bool
    current: bool
    image_id: str | None = None
    build: str | None = None


class SandboxBackend(Protocol):
    """Starts sandboxes and reaps them, on one engine or a cluster."""

    instance_id: str

    def ping(self) -> None:
        """Check the engine answers.

        Raises:
            SandboxUnavailableError: it does not (the message says how to fix it).
        """
        ...

    def describe(self) -> str:
        """One line about the engine or cluster (e.g. its version), for `medgym doctor`.

        Raises:
            SandboxUnavailableError: it cannot be reached.
        """
        ...

    def start(self, spec: SandboxSpec) -> Sandbox:
        """Start a sandbox and wait until it is ready. Blocking; call from a worker thread.

        Raises:
            SandboxUnavailableError: the engine is unreachable, the image is missing, or the
                sandbox did not become ready.
        """
        ...

    def remove_where(self, predicate: LabelPredicate) -> int:
        """Remove every medgym sandbox whose labels satisfy `predicate`; returns how many.

        Raises:
            SandboxUnavailableError: the engine cannot be reached.
        """
        ...

    def reap_orphans(self) -> int:
        """Remove sandboxes left by medgym servers that no longer run; returns how many.

        Raises:
            SandboxUnavailableError: the engine cannot be reached.
        """
        ...

    def remove_own(self) -> int:
        """Remove every sandbox this backend instance started (server shutdown). Never raises."""
        ...

    def image_status(self, image: str) -> ImageStatus:
        """Whether `image` is present and current.

        Raises:
            SandboxUnavailableError: the engine cannot be reached.
        """
        ...
