"""The Docker backend: one locked-down container per episode, driven through the docker SDK.

Each container runs the preloaded runner (`sandbox/incontainer/runner.py`) as its main process (PID 1, so
code inside cannot signal it) and talks to the server over a unix socket the server listens on
(`sandbox/runner_socket.py`; when the engine is on this machine) or over its attach stream. Either
way, when the server goes away (even by SIGKILL) the runner sees end of file, even in the middle
of a run, kills the run, exits, and the container stops (the attach stream is opened with
StdinOnce); orphans left anyway are reaped by label at the next start. A run is a request on that
channel: `run_async` makes it from the event loop without a worker thread, `run` from a thread.

Writable scratch: `/workspace` and `/tmp` (tmpfs of `Limits.workspace_mb` and `tmp_mb`), and
`/dev/shm` (POSIX shared memory, e.g. multiprocessing's locks: a private tmpfs of `SHM_MB`). All
three are memory, counted in the container's memory limit, and a run that fills one of them is
reported with `disk` in `limits_hit`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from typing import Any, Literal

import anyio
import anyio.to_thread

from medgym import stages
from medgym.errors import SandboxError, SandboxLostError, SandboxUnavailableError
from sandbox import janitor, scripts
from sandbox.channel import OnWait, RunnerChannel
from sandbox.containers import remove_container, why_stopped
from sandbox.contract import (
    FILE_PROBLEMS,
    ExecResult,
    ImageStatus,
    LabelPredicate,
    SandboxNetwork,
    SandboxSpec,
    file_error,
)
from sandbox.docker_volumes import DataVolumes, reap_volumes
from sandbox.labels import INSTANCE, MANAGED, OWNER, is_orphan, owner_label
from sandbox.limits import Limits
from sandbox.runner_socket import MOUNT as MOUNT_CHANNEL
from sandbox.runner_socket import ChannelListener, engine_is_local

log = logging.getLogger(__name__)
_RESULT_FIELDS = tuple(ExecResult.model_fields)
SANDBOX_USER = "1000:1000"
READY_TIMEOUT_S = 120.0
ACCEPT_TIMEOUT_S = 5.0  # the runner connected before it said it was ready: its connection is queued
REPLY_GRACE_S = 15.0
READ_FILE_TIMEOUT_S = 60.0
PROGRESS_EVERY_S = 5.0  # how often `run_async` calls back while a run goes on
SHM_MB = 64  # /dev/shm (POSIX shared memory, e.g. multiprocessing's locks): writable scratch of this size
ENVIRONMENT = {
    "HOME": "/workspace",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "MPLBACKEND": "Agg",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "LANG": "C.UTF-8",
    "SANDBOX_PRELOAD": "numpy,pandas",
}


def _run_request(code: str, timeout_s: float, max_output_bytes: int) -> dict[str, Any]:
    return {"op": "run", "code": code, "timeout": timeout_s, "max_output": max_output_bytes}


def host_config_args(spec: SandboxSpec) -> dict[str, Any]:
    """The isolation every sandbox gets: no network (or only its episode's), no capabilities, read-only root, limits."""
    limits: Limits = spec.limits
    return {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {
            "/workspace": f"rw,nosuid,nodev,size={limits.workspace_mb}m,uid=1000,gid=1000,mode=0700",
            "/tmp": f"rw,nosuid,nodev,size={limits.tmp_mb}m,mode=1777",
        },
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
        "ipc_mode": "private",
        "shm_size": f"{SHM_MB}m",  # /dev/shm: bounded, and counted in the container's memory like any tmpfs
        "auto_remove": True,  # a container whose runner exits (server gone) deletes itself
        **network_args(spec.network),
    }


def network_args(network: SandboxNetwork | None) -> dict[str, Any]:
    """No network, or only the given internal network with its unreachable DNS address."""
    if network is None:
        return {"network_mode": "none"}
    return {"network_mode": network.name, "dns": [network.dns], "dns_search": ["."]}


class DockerSandbox:
    """A running sandbox container with its runner channel."""

    def __init__(self, client: Any, container_id: str, channel: RunnerChannel, info: dict[str, Any]):
        self._client = client
        self._id = container_id
        self._channel = channel
        self.info = info
        self._closed = False

    @property
    def sandbox_id(self) -> str:
        return self._id[:12]

    def run(self, code: str, timeout_s: float, max_output_bytes: int) -> ExecResult:
        self._check_open()
        try:
            reply = self._channel.request(_run_request(code, timeout_s, max_output_bytes), timeout_s + REPLY_GRACE_S)
        except SandboxLostError as exc:
            raise SandboxLostError(f"{exc}{self._why_stopped()}") from exc
        return self._result(reply)

    async def run_async(self, code: str, timeout_s: float, max_output_bytes: int,
                        on_wait: OnWait | None = None) -> ExecResult:
        """`run` on the event loop: the request and its reply are non-blocking socket I/O;
        `on_wait(elapsed_s)` is awaited every few seconds while the run goes on."""
        self._check_open()
        try:
            reply = await self._channel.request_async(_run_request(code, timeout_s, max_output_bytes),
                                                      timeout_s + REPLY_GRACE_S, on_wait, PROGRESS_EVERY_S)
        except SandboxLostError as exc:
            why = await anyio.to_thread.run_sync(self._why_stopped)
            raise SandboxLostError(f"{exc}{why}") from exc
        stages.mark("request")
        return self._result(reply)

    def _check_open(self) -> None:
        if self._closed or self._channel.closed:
            raise SandboxLostError(f"sandbox {self.sandbox_id} is no longer running")

    def _result(self, reply: dict[str, Any]) -> ExecResult:
        if reply.get("event") != "result":
            raise SandboxError(f"sandbox {self.sandbox_id}: unexpected runner reply {reply.get('event')!r}")
        result = ExecResult.model_validate({k: reply[k] for k in _RESULT_FIELDS})
        stages.note("run", result.duration_ms)
        for name, value in (reply.get("timings") or {}).items():  # the runner's own diagnostics
            stages.note(name.removesuffix("_ms"), float(value))
        stages.mark("parse")
        return result

    def read_file(self, path: str, max_bytes: int) -> bytes:
        """A file under /workspace, read by the runner (Docker's archive API cannot see a tmpfs)."""
        if self._closed or self._channel.closed:
            raise SandboxLostError(f"sandbox {self.sandbox_id} is no longer running")
        request = {"op": "read_file", "path": path, "max_bytes": max_bytes}
        try:
            reply = self._channel.request(request, READ_FILE_TIMEOUT_S)
        except SandboxLostError as exc:
            raise SandboxLostError(f"{exc}{self._why_stopped()}") from exc
        if reply.get("event") != "file":
            raise SandboxError(f"sandbox {self.sandbox_id}: unexpected runner reply {reply.get('event')!r}")
        problem = reply.get("error")
        if problem is not None:
            if problem not in FILE_PROBLEMS:
                raise SandboxError(f"sandbox {self.sandbox_id}: unexpected runner reply {problem!r}")
            raise file_error(path, problem, max_bytes)
        try:
            data = base64.b64decode(str(reply.get("data", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SandboxError(f"sandbox {self.sandbox_id}: the runner sent a malformed file") from exc
        if len(data) > max_bytes:
            raise SandboxError(f"sandbox {self.sandbox_id}: the runner sent more than was asked for")
        return data

    def alive(self) -> bool:
        """True when the runner answers a ping (a pooled container may have been killed meanwhile)."""
        if self._closed or self._channel.closed:
            return False
        try:
            return self._channel.request({"op": "ping"}, 5.0).get("event") == "pong"
        except SandboxError:
            return False

    def _why_stopped(self) -> str:
        return why_stopped(self._client, self._id, closed=self._closed)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._channel.close()
        remove_container(self._client, self._id)


class DockerBackend:
    """Starts and reaps sandbox containers on one Docker engine (a `SandboxBackend`)."""

    def __init__(self, instance_id: str, docker_host: str | None = None,
                 runner_channel: Literal["auto", "attach"] = "auto"):
        self.instance_id = instance_id
        self._docker_host = docker_host
        self._runner_channel = runner_channel  # "auto": a unix socket when the engine is local; "attach"
        self._client: Any = None
        self._data: dict[str, DataVolumes] = {}  # image -> the volumes of copied mounts

    def _volumes(self, image: str) -> DataVolumes:
        if image not in self._data:
            self._data[image] = DataVolumes(self.client, image)
        return self._data[image]

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _connect(self._docker_host)
        return self._client

    def ping(self) -> None:
        try:
            self.client.ping()
        except SandboxError:
            raise
        except Exception as exc:
            self._client = None
            raise SandboxUnavailableError(_engine_hint(exc)) from exc

    def describe(self) -> str:
        self.ping()
        try:
            return f"version {self.client.version().get('Version', '?')}"
        except Exception as exc:
            raise SandboxUnavailableError(_engine_hint(exc)) from exc

    def start(self, spec: SandboxSpec) -> DockerSandbox:
        """Create, attach and start a container, and wait until its runner is ready."""
        started = time.monotonic()
        listener = self._listener()
        try:
            container_id = self._create(spec, listener)
            try:
                sock = self.client.api.attach_socket(
                    container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
                channel = RunnerChannel(sock._sock, container_id[:12])
                self.client.api.start(container_id)
                ready = channel.receive(READY_TIMEOUT_S)
                if ready.get("event") == "ready" and listener is not None:
                    channel = self._direct_channel(listener, ready, channel, container_id[:12])
            except Exception as exc:
                self._remove(container_id)
                if isinstance(exc, SandboxError):
                    raise
                raise SandboxUnavailableError(f"could not start the sandbox: {_engine_hint(exc)}") from exc
        finally:
            if listener is not None:
                listener.close()
        if ready.get("event") != "ready":
            self._remove(container_id)
            raise SandboxUnavailableError(f"the sandbox runner did not start: {ready}")
        ready["start_ms"] = round((time.monotonic() - started) * 1000, 1)
        log.info("sandbox %s started in %.0f ms (channel: %s)", container_id[:12], ready["start_ms"],
                 ready.get("channel", "stdio"))
        return DockerSandbox(self.client, container_id, channel, ready)

    def _listener(self) -> ChannelListener | None:
        """A socket for the runner to connect to, when the engine runs on this machine (else None)."""
        if self._runner_channel != "auto" or not engine_is_local(self.client):
            return None
        try:
            return ChannelListener()
        except OSError as exc:
            log.warning("no direct channel to sandboxes (%s): using the attach stream", exc)
            self._runner_channel = "attach"
            return None

    @staticmethod
    def _direct_channel(listener: ChannelListener, ready: dict[str, Any], attach: RunnerChannel,
                        name: str) -> RunnerChannel:
        """The socket channel when the runner connected to it (then the attach stream is closed: the
        runner no longer reads it); otherwise the attach stream, with the runner's reason logged."""
        if ready.get("channel") != "socket":
            log.info("sandbox %s: the runner could not reach its socket (%s): using the attach stream", name,
                     ready.get("channel_error", "no reason given"))
            return attach
        try:
            conn = listener.accept(ACCEPT_TIMEOUT_S)
        except OSError as exc:
            raise SandboxUnavailableError(f"sandbox {name}: the runner's connection was not there ({exc})") from exc
        attach.close()
        return RunnerChannel(conn, name, framed=False)

    def _create(self, spec: SandboxSpec, listener: ChannelListener | None = None) -> str:
        api = self.client.api
        labels = {MANAGED: "1", INSTANCE: self.instance_id, OWNER: owner_label(), **spec.labels}
        janitor.guard(self.client)  # so a crash between this create and the start leaves nothing
        try:
            binds = self._volumes(spec.image).binds(spec.mounts)
            environment = dict(ENVIRONMENT)
            if listener is not None:
                binds[str(listener.dir)] = {"bind": MOUNT_CHANNEL, "mode": "ro"}
                environment.update(listener.environment)
            created = api.create_container(
                spec.image, command=["python3", "-u", "-c", scripts.source("runner")], stdin_open=True, detach=False,
                tty=False, user=SANDBOX_USER, working_dir="/workspace", hostname="sandbox",
                environment=environment, labels=labels,
                host_config=api.create_host_config(**host_config_args(spec), binds=binds),
                networking_config={"EndpointsConfig": {spec.network.name: {}}} if spec.network else None,
            )
        except Exception as exc:
            raise SandboxUnavailableError(_create_hint(exc, spec.image)) from exc
        return str(created["Id"])

    def _remove(self, container_id: str) -> None:
        remove_container(self.client, container_id)

    def managed_containers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.client.api.containers(all=True, filters={"label": f"{MANAGED}=1"})
        return found

    def remove_where(self, predicate: LabelPredicate) -> int:
        """Remove every medgym container whose labels satisfy `predicate`; returns how many."""
        try:
            containers = self.managed_containers()
        except SandboxError:
            raise
        except Exception as exc:
            raise SandboxUnavailableError(_engine_hint(exc)) from exc
        removed = 0
        for container in containers:
            if predicate(container.get("Labels") or {}):
                self._remove(container["Id"])
                removed += 1
        return removed

    def reap_orphans(self) -> int:
        removed = self.remove_where(is_orphan)
        try:
            reap_volumes(self.client)
        except Exception as exc:
            log.debug("could not reap data volumes: %s", exc)
        return removed

    def image_status(self, image: str) -> ImageStatus:
        from sandbox.image import image_status

        return image_status(self.client, image)

    def remove_own(self) -> int:
        try:
            return self.remove_where(lambda labels: labels.get(INSTANCE) == self.instance_id)
        except SandboxError as exc:
            log.warning("could not remove this server's containers: %s", exc)
            return 0


def _connect(docker_host: str | None) -> Any:
    try:
        import docker  # imported lazily: only this backend needs the SDK

        client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
        client.ping()
        janitor.note_engine(client, docker_host)
        return client
    except Exception as exc:
        raise SandboxUnavailableError(_engine_hint(exc)) from exc


def _engine_hint(exc: BaseException) -> str:
    return (
        f"the Docker engine is not reachable ({type(exc).__name__}: {str(exc)[:200]}); "
        "start it (e.g. `dockerd &` or `systemctl start docker`) and check with `medgym doctor`"
    )


def _create_hint(exc: BaseException, image: str) -> str:
    text = str(exc)
    if "No such image" in text or "not found" in text.lower():
        return f"the sandbox image {image} is missing; build it with `medgym image build`"
    return _engine_hint(exc)
