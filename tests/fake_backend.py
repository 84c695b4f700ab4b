"""An in-process `SandboxBackend` for tests that are not about Docker (tests only, never product code).

`FakeSandbox.run` runs the code with the host's Python in a fresh process, in a private workspace
directory that persists between the runs of one sandbox: `tests/fake_supervisor.py` enforces the
timeout, kills every process the run started (setsid and double-forked ones included) and caps
the output with the real runner's head-and-tail capture. It is NOT isolated: no memory, process
or disk limits, no network isolation, no read-only root, no data mounts. Tests of those use Docker.

Failure modes for tests: `FakeBackend.unavailable` (the engine is down), `fail_next_starts`
(that many starts fail with `SandboxUnavailableError`), `missing_images`, `FakeSandbox.lose()`
(killed from outside: `SandboxLostError`), `FakeSandbox.fail_next_run` (any `SandboxError`).
Counters: `starts`, `closes` (explicit closes), `removed` (by remove_where/reap_orphans/remove_own).
Several backends (several server processes) can share one `FakeEngine`, as they share a Docker engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medgym.errors import SandboxError, SandboxLostError, SandboxTimeoutError, SandboxUnavailableError
from sandbox.contract import ExecResult, ImageStatus, LabelPredicate, SandboxBackend, SandboxSpec
from sandbox.docker_backend import ENVIRONMENT
from sandbox.labels import INSTANCE, MANAGED, OWNER, is_orphan, owner_label

SUPERVISOR = Path(__file__).with_name("fake_supervisor.py")
REPLY_GRACE_S = 15.0
STOP_GRACE_S = 5.0


class FakeEngine:
    """What the Docker engine is to DockerBackends: every running fake sandbox, whoever started it."""

    def __init__(self, root: Path | None = None):
        self.root = root or Path(tempfile.mkdtemp(prefix="medgym-fake-engine-"))
        self._sandboxes: dict[str, FakeSandbox] = {}
        self._lock = threading.Lock()

    def add(self, sandbox: FakeSandbox) -> None:
        with self._lock:
            self._sandboxes[sandbox.sandbox_id] = sandbox

    def discard(self, sandbox: FakeSandbox) -> None:
        with self._lock:
            self._sandboxes.pop(sandbox.sandbox_id, None)

    def running(self) -> list[FakeSandbox]:
        with self._lock:
            return list(self._sandboxes.values())


class FakeSandbox:
    """One sandbox: a workspace directory and, while a run lasts, its supervisor process."""

    def __init__(self, backend: FakeBackend, spec: SandboxSpec, labels: dict[str, str]):
        self.backend = backend
        self.spec = spec
        self.labels = labels
        self._id = uuid.uuid4().hex[:12]
        self.workspace = backend.engine.root / self._id
        self.workspace.mkdir()
        self.runs = 0
        self.lost = False
        self.closed = False
        self.fail_next_run: SandboxError | None = None
        self._running: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def sandbox_id(self) -> str:
        return self._id

    def run(self, code: str, timeout_s: float, max_output_bytes: int) -> ExecResult:
        with self._lock:
            self._check_usable()
            if (failure := self.fail_next_run) is not None:
                self.fail_next_run = None
                raise failure
            self.runs += 1
            reply = self._supervise(self._request(code, timeout_s, max_output_bytes), timeout_s + REPLY_GRACE_S)
        return ExecResult.model_validate({k: reply[k] for k in ExecResult.model_fields})

    def _check_usable(self) -> None:
        if self.closed or self.lost:
            raise SandboxLostError(f"sandbox {self._id} is no longer running")

    def _request(self, code: str, timeout_s: float, max_output_bytes: int) -> dict[str, Any]:
        env = {**ENVIRONMENT, "HOME": str(self.workspace), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "PYTHONIOENCODING": "utf-8:backslashreplace"}
        return {"code": code, "timeout": timeout_s, "max_output": max_output_bytes,
                "workdir": str(self.workspace), "env": env}

    def _supervise(self, request: dict[str, Any], reply_timeout: float) -> dict[str, Any]:
        proc = subprocess.Popen([sys.executable, str(SUPERVISOR)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        self._running = proc
        try:
            out, err = proc.communicate(json.dumps(request).encode(), timeout=reply_timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise SandboxTimeoutError(f"sandbox {self._id}: the runner did not answer in time") from None
        finally:
            self._running = None
        self._check_usable()  # closed or lost while the code ran
        if proc.returncode != 0:
            raise SandboxError(f"sandbox {self._id}: the fake supervisor failed: {err.decode()[-800:]}")
        reply: dict[str, Any] = json.loads(out)
        return reply

    def alive(self) -> bool:
        return not (self.closed or self.lost)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._destroy()
        self.backend.count("closes")

    def lose(self) -> None:
        """The sandbox dies from outside (killed, engine restarted): runs raise `SandboxLostError`."""
        self.lost = True
        self._destroy()

    def _destroy(self) -> None:
        running = self._running
        if running is not None:
            _stop(running)
        self.backend.engine.discard(self)
        shutil.rmtree(self.workspace, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask a supervisor to kill its run and exit (SIGTERM), then make sure it is gone."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class FakeBackend:
    """A `SandboxBackend` whose sandboxes are `FakeSandbox`es on a (possibly shared) `FakeEngine`."""

    instance_id: str = field(default_factory=lambda: "fake-" + uuid.uuid4().hex[:8])
    engine: FakeEngine = field(default_factory=FakeEngine)
    unavailable: bool = False
    fail_next_starts: int = 0
    missing_images: set[str] = field(default_factory=set)
    starts: int = field(default=0, init=False)
    closes: int = field(default=0, init=False)
    removed: int = field(default=0, init=False)
    started: list[FakeSandbox] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def count(self, counter: str, by: int = 1) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + by)

    def ping(self) -> None:
        if self.unavailable:
            raise SandboxUnavailableError("the fake engine is down (FakeBackend.unavailable)")

    def describe(self) -> str:
        self.ping()
        return "fake backend (host processes, no isolation; tests only)"

    def start(self, spec: SandboxSpec) -> FakeSandbox:
        self.ping()
        with self._lock:
            failing, self.fail_next_starts = self.fail_next_starts > 0, max(0, self.fail_next_starts - 1)
        if failing:
            raise SandboxUnavailableError("could not start the sandbox (FakeBackend.fail_next_starts)")
        if spec.image in self.missing_images:
            raise SandboxUnavailableError(f"the sandbox image {spec.image} is missing; build it with "
                                          "`medgym image build`")
        labels = {MANAGED: "1", INSTANCE: self.instance_id, OWNER: owner_label(), **spec.labels}
        sandbox = FakeSandbox(self, spec, labels)
        self.engine.add(sandbox)
        with self._lock:
            self.starts += 1
            self.started.append(sandbox)
        return sandbox

    def running(self) -> list[FakeSandbox]:
        """This backend's sandboxes that still run."""
        return [s for s in self.engine.running() if s.labels.get(INSTANCE) == self.instance_id]

    def remove_where(self, predicate: LabelPredicate) -> int:
        self.ping()
        doomed = [s for s in self.engine.running() if predicate(dict(s.labels))]
        for sandbox in doomed:
            sandbox.lose()
        self.count("removed", len(doomed))
        return len(doomed)

    def reap_orphans(self) -> int:
        return self.remove_where(is_orphan)

    def remove_own(self) -> int:
        try:
            return self.remove_where(lambda labels: labels.get(INSTANCE) == self.instance_id)
        except SandboxError:
            return 0

    def image_status(self, image: str) -> ImageStatus:
        self.ping()
        present = image not in self.missing_images
        return ImageStatus(image=image, present=present, current=present,
                           image_id=f"sha256:fake-{image}" if present else None)


@dataclass
class FakeBackendConfig:
    """Stands in for `sandbox.config.BackendConfig`: each `build` (each server) gets a new FakeBackend
    on `engine`; `built` lists them, newest last. `unavailable`: they start with the engine down."""

    engine: FakeEngine
    unavailable: bool = False
    built: list[FakeBackend] = field(default_factory=list)

    def build(self, instance_id: str) -> SandboxBackend:
        backend = FakeBackend(instance_id=instance_id, engine=self.engine, unavailable=self.unavailable)
        self.built.append(backend)
        return backend


@contextlib.contextmanager
def fake_engine() -> Iterator[FakeEngine]:
    """A fake engine whose workspaces are removed afterwards (and whose sandboxes are destroyed)."""
    engine = FakeEngine()
    try:
        yield engine
    finally:
        for sandbox in engine.running():
            sandbox.lose()
        shutil.rmtree(engine.root, ignore_errors=True)

