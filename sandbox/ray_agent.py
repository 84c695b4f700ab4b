"""The medgym agent of one Ray node: the sandboxes on that node's own Docker engine, and its warm pool.

`RayBackend` starts one `NodeAgent` actor per node that offers sandbox slots, pinned to that node.
The agent drives the node's local engine with the ordinary `DockerBackend` (the engine named by
`DOCKER_HOST` in the environment `ray start` had on that node, else the local socket) and holds each
container's attach stream, so a run goes server -> agent (one Ray call) -> runner, as on one host.

Everything the agent sends back is plain data: a value, or a `Failure` naming the medgym error to
raise on the server's side (Ray's own pickling of exceptions would lose `SandboxFileError.reason`).
The agent is owned by the server's Ray driver, so it dies with that server; its containers' runners
then read EOF and their containers remove themselves; one created but not yet started when the agent
died is removed by the agent's janitor (`sandbox/janitor.py`, detached from the agent, since Ray kills
a worker's children with it). Containers left anyway are reaped by the next
agent on the node, by the owner label (this agent process: `<host>:<pid>:<start>`, which only the
node itself can check); `medgym.server` names the server they served.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, replace
from typing import Any

from medgym.errors import (
    SandboxError,
    SandboxFileError,
    SandboxLostError,
    SandboxTimeoutError,
    SandboxUnavailableError,
)
from sandbox.containers import remove_container
from sandbox.contract import ExecResult, ImageStatus, SandboxSpec
from sandbox.docker_backend import DockerBackend, DockerSandbox
from sandbox.labels import INSTANCE
from sandbox.pool import WarmPool

log = logging.getLogger(__name__)

SERVER = "medgym.server"  # label: the owner label of the medgym server a node's container serves

_KINDS: dict[str, type[SandboxError]] = {
    "lost": SandboxLostError, "timeout": SandboxTimeoutError, "unavailable": SandboxUnavailableError,
    "error": SandboxError,
}


@dataclass(frozen=True)
class Failure:
    """A medgym error raised on a node, carried back as data."""

    kind: str  # "file", or a key of `_KINDS`
    message: str
    reason: str = ""

    def error(self, on: str = "") -> Exception:
        """The error to raise; a sandbox failure names the node it happened `on` (a file problem is the caller's)."""
        if self.kind == "file":
            return SandboxFileError(self.message, self.reason)
        return _KINDS.get(self.kind, SandboxError)(f"{self.message} (on Ray node {on})" if on else self.message)


def failure(exc: SandboxError | SandboxFileError) -> Failure:
    if isinstance(exc, SandboxFileError):
        return Failure("file", str(exc), exc.reason)
    kind = next((k for k, cls in _KINDS.items() if type(exc) is cls), "error")
    return Failure(kind, str(exc))


@dataclass(frozen=True)
class NodeInfo:
    """What a node agent says about its node, for placement records and `medgym doctor`."""

    host: str
    pid: int
    engine: str  # the Docker engine address (DOCKER_HOST), or "local socket"
    engine_version: str | None
    problem: str | None = None  # why the engine is unusable


@dataclass(frozen=True)
class AgentLoad:
    """This server's sandboxes on a node and the node's warm pool, for `medgym://status`."""

    running: int
    pool_idle: int
    pool_target: int


class NodeAgent:
    """The sandboxes of one Ray node (a threaded Ray actor; see the module docstring)."""

    def __init__(self, instance_id: str, pool_size: int, server: str, pool_max: int | None = None):
        self._backend = DockerBackend(instance_id)
        self._server = server
        self._pool = WarmPool(self._start, pool_size, max_size=pool_max)  # grows with demand, as on one host
        self._boxes: dict[str, DockerSandbox] = {}
        self._lock = threading.Lock()

    def _start(self, spec: SandboxSpec) -> DockerSandbox:
        """Every container on a node also names the medgym server it serves (`host:pid:start`)."""
        return self._backend.start(replace(spec, labels={**spec.labels, SERVER: self._server}))

    def info(self) -> NodeInfo:
        engine = os.environ.get("DOCKER_HOST") or "local socket"
        try:
            version = self._backend.describe()
        except SandboxError as exc:
            return NodeInfo(socket.gethostname(), os.getpid(), engine, None, str(exc))
        return NodeInfo(socket.gethostname(), os.getpid(), engine, version)

    def start(self, spec: SandboxSpec) -> tuple[str, dict[str, Any]] | Failure:
        """A ready sandbox (from the node's pool when one is idle): its id and its runner's ready message."""
        missing = [str(m.source) for m in spec.mounts if not m.source.exists()]
        if missing:  # the paths are logged on the node, never sent to the agent
            log.error("node %s lacks the sandbox's data: %s", socket.gethostname(), missing)
            return Failure("unavailable", f"the Ray node {socket.gethostname()} does not have this task's data "
                                          "(every node needs the data directory and the medgym home at the "
                                          "server's paths, e.g. on a shared filesystem)")
        try:
            box = self._pool.acquire(spec)
        except SandboxError as exc:
            return failure(exc)
        assert isinstance(box, DockerSandbox)
        with self._lock:
            self._boxes[box.sandbox_id] = box
        return box.sandbox_id, dict(box.info)

    def load(self) -> AgentLoad:
        idle, target = self._pool.stats()
        with self._lock:
            return AgentLoad(len(self._boxes), idle, target)

    def warm(self, spec: SandboxSpec) -> None:
        self._pool.warm(spec)

    def _box(self, sandbox_id: str) -> DockerSandbox:
        with self._lock:
            box = self._boxes.get(sandbox_id)
        if box is None:
            raise SandboxLostError(f"sandbox {sandbox_id} is no longer on node {socket.gethostname()}")
        return box

    def run(self, sandbox_id: str, code: str, timeout_s: float, max_output_bytes: int) -> ExecResult | Failure:
        try:
            return self._box(sandbox_id).run(code, timeout_s, max_output_bytes)
        except SandboxError as exc:
            return failure(exc)

    def read_file(self, sandbox_id: str, path: str, max_bytes: int) -> bytes | Failure:
        try:
            return self._box(sandbox_id).read_file(path, max_bytes)
        except (SandboxError, SandboxFileError) as exc:
            return failure(exc)

    def alive(self, sandbox_id: str) -> bool:
        with self._lock:
            box = self._boxes.get(sandbox_id)
        return box is not None and box.alive()

    def close(self, sandbox_id: str) -> None:
        with self._lock:
            box = self._boxes.pop(sandbox_id, None)
        if box is not None:
            box.close()

    def containers(self) -> list[tuple[str, dict[str, str]]] | Failure:
        """(id, labels) of every medgym container on this node's engine."""
        try:
            return [(c["Id"], c.get("Labels") or {}) for c in self._backend.managed_containers()]
        except Exception as exc:
            return Failure("unavailable", f"node {socket.gethostname()}: {exc}")

    def remove(self, container_ids: list[str]) -> int:
        """Remove these containers (closing the sandboxes this agent holds among them); returns how many."""
        with self._lock:
            held = [self._boxes.pop(i[:12]) for i in container_ids if i[:12] in self._boxes]
        for box in held:
            box.close()
        return len(held) + sum(self._remove(i) for i in container_ids if i[:12] not in {b.sandbox_id for b in held})

    def _remove(self, container_id: str) -> int:
        return int(remove_container(self._backend.client, container_id))

    def reap_orphans(self) -> int | Failure:
        """Remove the containers on this node whose owner (an agent process of this host) is gone."""
        try:
            return self._backend.reap_orphans()
        except SandboxError as exc:
            return failure(exc)

    def image_status(self, image: str) -> ImageStatus | Failure:
        try:
            return self._backend.image_status(image)
        except SandboxError as exc:
            return failure(exc)
        except Exception as exc:
            return Failure("unavailable", f"node {socket.gethostname()}: {exc}")

    def shutdown(self) -> int:
        """Remove the pool and every container of this server on the node (server shutdown)."""
        self._pool.close()
        with self._lock:
            boxes, self._boxes = list(self._boxes.values()), {}
        for box in boxes:
            box.close()
        try:
            mine = self._backend.instance_id
            return len(boxes) + self._backend.remove_where(lambda labels: labels.get(INSTANCE) == mine)
        except SandboxError as exc:
            log.warning("could not remove this server's containers on node %s: %s", socket.gethostname(), exc)
            return len(boxes)
