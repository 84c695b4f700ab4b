"""A two-node Ray cluster on this machine, each node with its own Docker engine (for the Ray backend's tests).

- engine 1: the machine's Docker engine; engine 2: a second `dockerd` with its own socket, data root,
  exec root, pidfile and cgroup parent, no bridge and no iptables rules (sandboxes have no network), in a
  network namespace of its own (a dockerd started with `--bridge none` deletes the host's docker0, which
  would break the first engine's default network);
  the sandbox image is copied into it with `docker save | docker load` when it lacks it. Its data root
  is kept between runs (under /var/lib/medgym-test-node2, locked while in use) so the copy is made once.
- the head node (slots on engine 1) and a second node started with `DOCKER_HOST` set to engine 2: Ray
  workers inherit the environment of `ray start`, which is how a node agent finds its node's engine.
- each `ray start` runs in its own process group, which the fixture stops (or a test kills) by id:
  never `ray stop`, which would stop every Ray node of the machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import free_port

SLOTS = 4
RESOURCE = "medgym_sandbox"
NODE2_ROOT = Path(os.environ.get("MEDGYM_TEST_NODE2_ROOT", "/var/lib/medgym-test-node2"))
# Fast failure detection, so a killed node is declared dead in about a second, not half a minute.
SYSTEM_CONFIG = {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
                 "health_check_timeout_ms": 500, "health_check_initial_delay_ms": 0}


def _ray() -> str:
    return str(Path(sys.executable).parent / "ray")


def _group_alive(pgid: int) -> bool:
    """True while a process of the group runs (zombies, which nobody may reap here, do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def stop_group(pgid: int, grace_s: float = 5.0) -> None:
    """SIGTERM a process group this module started, then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _group_alive(pgid):
            return


@dataclass
class Engine:
    """A Docker engine: `host` is its address (None: the machine's default engine)."""

    host: str | None
    process: subprocess.Popen[bytes] | None = None
    lock: Any = None
    run: Path | None = None  # its exec root's parent, unique to this engine

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.host) if self.host else docker.from_env()

    def cli(self) -> list[str]:
        return ["docker", "-H", self.host] if self.host else ["docker"]

    def containers(self, **labels: str) -> list[dict[str, Any]]:
        """medgym containers on this engine whose labels include `labels`."""
        wanted = ["medgym.managed=1", *(f"{k.replace('_', '.')}={v}" for k, v in labels.items())]
        found: list[dict[str, Any]] = self.client().api.containers(all=True, filters={"label": wanted})
        return found


@dataclass
class RayNode:
    name: str
    pgid: int
    engine: Engine
    temp_dir: Path


@dataclass
class RayCluster:
    address: str
    nodes: list[RayNode] = field(default_factory=list)
    base: Path = Path()

    @property
    def engines(self) -> list[Engine]:
        return [node.engine for node in self.nodes]

    def kill(self, name: str) -> None:
        """Kill a node at once (its raylet, its workers and the agents on it): a machine lost."""
        node = next(n for n in self.nodes if n.name == name)
        stop_group(node.pgid, grace_s=0.0)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            stop_group(node.pgid)
        shutil.rmtree(self.base, ignore_errors=True)


HOST_BRIDGE = Path("/sys/class/net/docker0")  # the first engine's default network


def start_engine2(image: str) -> Engine:
    """The second Docker engine, with the sandbox image (copied from the default engine when missing)."""
    NODE2_ROOT.mkdir(parents=True, exist_ok=True)
    lock = (NODE2_ROOT / "lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # one test session at a time uses this data root
    for pid in _holding(NODE2_ROOT / "data"):  # a containerd an interrupted session left holding its database
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    had_bridge = HOST_BRIDGE.exists()
    run = Path(tempfile.mkdtemp(prefix="mg-node2-", dir="/run"))
    sock = f"unix://{run}/docker.sock"
    log = (NODE2_ROOT / "dockerd.log").open("wb")
    process = subprocess.Popen(
        ["unshare", "--net", "--",  # a network namespace of its own: a dockerd without a bridge deletes docker0
         "dockerd", "--host", sock, "--data-root", str(NODE2_ROOT / "data"), "--exec-root", str(run / "exec"),
         "--pidfile", str(run / "docker.pid"), "--bridge", "none", "--iptables=false", "--ip6tables=false",
         "--ip-masq=false", "--cgroup-parent", "medgym-test-node2", "--log-level", "warn"],
        stdout=log, stderr=log, start_new_session=True)
    engine = Engine(sock, process, lock, run)
    deadline = time.monotonic() + 60
    while subprocess.run([*engine.cli(), "info"], capture_output=True).returncode != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            stop_engine(engine)
            raise RuntimeError(f"the second dockerd did not start; see {NODE2_ROOT / 'dockerd.log'}")
        time.sleep(0.5)
    _copy_image(engine, image)
    if had_bridge and not HOST_BRIDGE.exists():
        stop_engine(engine)
        raise RuntimeError("starting the second dockerd removed the first engine's docker0 bridge")
    return engine


def _image_id(cli: list[str], image: str) -> str:
    done = subprocess.run([*cli, "image", "inspect", "--format", "{{.Id}}", image], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def _copy_image(engine: Engine, image: str) -> None:
    if _image_id(engine.cli(), image) == _image_id(["docker"], image):
        return
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    subprocess.run([*engine.cli(), "load", "-q"], stdin=save.stdout, check=True, capture_output=True)
    assert save.wait() == 0


def _using(path: Path) -> list[int]:
    """Processes whose command line names `path` (the engine's own containerd and shims)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(path).encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except (OSError, ValueError):
            continue
    return pids


def _holding(folder: Path) -> list[int]:
    """Processes with a file under `folder` open."""
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd).startswith(str(folder)) for fd in fd_dir.iterdir()):
                pids.append(int(fd_dir.parent.name))
        except (OSError, ValueError):
            continue
    return pids


def stop_engine(engine: Engine) -> None:
    """Stop the second engine and its containerd (found by its unique exec root), then free its data root."""
    if engine.process is None or engine.run is None:
        return
    for container in engine.containers():  # only medgym's test containers live on this engine
        with contextlib.suppress(Exception):
            engine.client().api.remove_container(container["Id"], force=True)
    stop_group(engine.process.pid, grace_s=20.0)
    engine.process.wait(timeout=5)
    deadline = time.monotonic() + 20
    while (left := _using(engine.run)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(engine.run, ignore_errors=True)
    if engine.lock is not None:
        engine.lock.close()


def _start_node(cluster: RayCluster, name: str, engine: Engine, head: bool,
                extra_env: dict[str, str] | None = None) -> None:
    temp = cluster.base / name
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "RAY_ADDRESS")}
    env.update(extra_env or {})
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["RAY_AUTH_MODE"] = "disabled"  # explicit: a token some other Ray left in ~/.ray would switch it on
    if engine.host:
        env["DOCKER_HOST"] = engine.host  # inherited by the node's raylet and workers: its engine
    ports = ["--metrics-export-port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
             "--runtime-env-agent-port", "--node-manager-port", "--object-manager-port"]
    args = [_ray(), "start", "--num-cpus", "1", "--resources", json.dumps({RESOURCE: SLOTS}),
            "--temp-dir", str(temp), "--disable-usage-stats",
            *[part for flag in ports for part in (flag, str(free_port()))]]
    if head:
        args += ["--head", "--port", cluster.address.rsplit(":", 1)[1], "--include-dashboard=false",
                 "--system-config", json.dumps(SYSTEM_CONFIG)]
    else:
        args += ["--address", cluster.address]
    log = (cluster.base / f"{name}.log").open("wb")
    process = subprocess.Popen(args, env=env, stdout=log, stderr=log, start_new_session=True)
    cluster.nodes.append(RayNode(name, process.pid, engine, temp))
    if process.wait(timeout=120) != 0:
        raise RuntimeError(f"ray start ({name}) failed: {(cluster.base / f'{name}.log').read_text()[-2000:]}")


def start_cluster(engine2: Engine | None, extra_env: dict[str, str] | None = None) -> RayCluster:
    """The head node on the default engine and, with `engine2`, a second node on it; their Ray processes
    started with `extra_env` (Ray's own settings, such as its raylet subreaper)."""
    base = Path(tempfile.mkdtemp(prefix="mg-ray-", dir="/tmp"))  # short: Ray's socket paths must stay short
    cluster = RayCluster(address=f"127.0.0.1:{free_port()}", base=base)
    try:
        _start_node(cluster, "head", Engine(None), head=True, extra_env=extra_env)
        if engine2 is not None:
            _start_node(cluster, "node2", engine2, head=False, extra_env=extra_env)
    except BaseException:
        cluster.stop()
        raise
    return cluster
