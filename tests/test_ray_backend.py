"""The Ray backend for real: a two-node Ray cluster on this machine, each node with its own Docker engine.

Episodes are placed by Ray on both engines and stay isolated; doctor sees both nodes; a server that
is SIGKILLed leaves no container on any node; a node killed mid-run costs its episodes their
sandboxes (a clear "medgym server problem", recorded), and the server goes on with the other node.
The node-loss test kills the second node, so it comes last.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from mcp_server.app import build_server
from mcp_server.settings import Settings, SettingsError
from medgym.errors import SandboxFileError, SandboxLostError
from sandbox.config import DockerBackendConfig, RayBackendConfig
from sandbox.contract import SandboxSpec
from sandbox.labels import INSTANCE, MANAGED, OWNER, owner_label
from sandbox.limits import Limits
from sandbox.pool import WarmPool
from sandbox.ray_agent import SERVER, Failure, failure
from sandbox.ray_backend import NodeLoad, RayBackend
from tests.conftest import IMAGE, free_port
from tests.ray_agents import QuickShrinkAgent, SilentAgent, ship
from tests.ray_cluster import SLOTS, RayCluster, start_cluster, start_engine2, stop_engine
from tools.capacity import Capacity
from tools.status import NODE_TIMEOUT_S, backend_status

pytestmark = pytest.mark.anyio
WHOAMI = "import re\nprint(re.findall(r'[0-9a-f]{64}', open('/proc/self/cgroup').read())[0])"
PROBE = """import json, os, socket
open('/workspace/mine', 'w').write(%r)
try:
    socket.create_connection((%r, %d), timeout=3).close()
    reached = True
except OSError:
    reached = False
print(json.dumps({"files": sorted(os.listdir('/workspace')), "mine": open('/workspace/mine').read(),
                  "reached_ray": reached}))
"""


# -- without a cluster -------------------------------------------------------------------------
def test_backend_chosen_by_settings() -> None:
    assert isinstance(Settings().backend_config(), DockerBackendConfig)
    chosen = Settings.from_env(environ={"MEDGYM_BACKEND": "ray", "MEDGYM_RAY_ADDRESS": "head:6379",
                                        "MEDGYM_POOL_SIZE": "3"}).backend_config()
    assert chosen == RayBackendConfig(address="head:6379", pool_size=3)
    code = ("import sys; from mcp_server.settings import Settings; "
            "Settings(backend='ray').backend_config().build('x'); assert 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)  # ray is imported only when used


def test_ray_settings_reach_the_backend() -> None:
    environ = {"MEDGYM_BACKEND": "ray", "MEDGYM_RAY_ADDRESS": "head:6379", "MEDGYM_RAY_NAMESPACE": "eval-7",
               "MEDGYM_RAY_RESOURCE": "sandbox_slot", "MEDGYM_RAY_PLACEMENT_TIMEOUT_S": "90",
               "MEDGYM_POOL_SIZE": "2", "MEDGYM_POOL_MAX": "6"}
    config = Settings.from_env(environ=environ).backend_config()
    assert config == RayBackendConfig(address="head:6379", namespace="eval-7", resource="sandbox_slot",
                                      pool_size=2, pool_max=6, placement_timeout_s=90.0)
    backend = config.build("x")
    assert isinstance(backend, RayBackend)
    assert (backend.namespace, backend.resource, backend.placement_timeout_s) == ("eval-7", "sandbox_slot", 90.0)
    assert (backend.pool_size, backend.pool_max) == (2, 6)
    no_pool = Settings.from_env(environ={**environ, "MEDGYM_POOL_SIZE": "0"}).backend_config()
    assert isinstance(no_pool, RayBackendConfig) and no_pool.pool_max == 0  # no pool grows from nothing
    for name, bad in (("MEDGYM_RAY_NAMESPACE", "two words"), ("MEDGYM_RAY_RESOURCE", "a{b}"),
                      ("MEDGYM_RAY_PLACEMENT_TIMEOUT_S", "0")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env(environ={name: bad})


class _HungCluster(RayBackend):
    """A Ray backend whose cluster never answers (the status must not wait for it)."""

    def node_loads(self, timeout_s: float = 2.0) -> list[NodeLoad]:
        time.sleep(30)
        return []


async def test_status_never_hangs_on_a_silent_cluster() -> None:
    hung = _HungCluster("x", address="head:6379")
    started = time.monotonic()
    status = await backend_status(hung, Capacity(4), WarmPool(hung.start, 0), "ready")
    assert time.monotonic() - started < NODE_TIMEOUT_S + 5
    (node,) = status.nodes
    assert node.node == "Ray cluster at head:6379" and not node.reachable and "did not answer" in str(node.error)


async def test_local_status_is_one_local_node() -> None:
    local = DockerBackendConfig().build("x")
    status = await backend_status(local, Capacity(4), WarmPool(local.start, 0), "ready")
    (node,) = status.nodes
    assert node.node == "local" and node.sandboxes_free == 4 and node.reachable and node.error is None


def test_node_errors_cross_as_data() -> None:
    file_error = pickle.loads(pickle.dumps(failure(SandboxFileError("/workspace/x does not exist", "missing"))))
    raised = file_error.error()
    assert isinstance(raised, SandboxFileError) and raised.reason == "missing"
    assert isinstance(Failure("lost", "gone").error(), SandboxLostError)


# -- the cluster -------------------------------------------------------------------------------
def _cannot_run() -> str | None:
    try:
        import ray  # noqa: F401
    except ImportError:
        return "the ray extra is not installed (pip install -e '.[ray]')"
    if os.geteuid() != 0:
        return "a second Docker engine needs root"
    if subprocess.run(["which", "dockerd"], capture_output=True).returncode != 0:
        return "dockerd is not installed"
    return None


@pytest.fixture(scope="session")
def ray_cluster(docker_ready: None) -> Iterator[RayCluster]:
    if problem := _cannot_run():
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    engine2 = start_engine2(IMAGE)
    try:
        cluster = start_cluster(engine2)
    except BaseException:
        stop_engine(engine2)
        raise
    yield cluster
    import ray

    ray.shutdown()
    cluster.stop()
    stop_engine(engine2)


@pytest.fixture
def ray_settings(ray_cluster: RayCluster, tmp_path: Path, shared_dir: Path) -> Settings:
    return Settings(home=tmp_path / "home", data_dir=shared_dir, image=IMAGE, pack=False, backend="ray",
                    ray_address=ray_cluster.address, pool_size=1)


async def _call(client: Client, tool: str, **arguments: Any) -> tuple[bool, dict[str, Any], str]:
    result = await client.call_tool(tool, arguments)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    return result.is_error, result.structured_content or {}, text


def _engine_of(cluster: RayCluster, container: str) -> int:
    """Which engine (0: the head's, 1: the second node's) runs this container."""
    found = [i for i, engine in enumerate(cluster.engines) if any(c["Id"] == container for c in engine.containers())]
    assert len(found) == 1, (container, found)
    return found[0]


async def _episode(client: Client, cluster: RayCluster, task: str) -> tuple[str, int, str]:
    """A new episode of `task` with a running sandbox: (episode id, engine index, container id)."""
    error, view, text = await _call(client, "get_task", task_id=task, new_episode=True)
    assert not error, text
    error, run, text = await _call(client, "run_code", task_id=task, code=WHOAMI, episode_id=view["episode_id"])
    assert not error, text
    container = run["stdout"].strip()
    return view["episode_id"], _engine_of(cluster, container), container


def _node_ip() -> str:
    import ray

    return str(ray.nodes()[0]["NodeManagerAddress"])


async def test_episodes_spread_over_both_engines_and_stay_isolated(
        ray_cluster: RayCluster, ray_settings: Settings) -> None:
    server = build_server(ray_settings)
    placed: dict[str, tuple[str, int]] = {}
    async with Client(server.mcp) as client:
        for number in range(1, 9):  # until Ray has used both nodes
            task = f"npowerai/train/{number}"
            episode, engine, _ = await _episode(client, ray_cluster, task)
            placed[episode] = (task, engine)
            if len({e for _, e in placed.values()}) == 2 and len(placed) >= 3:
                break
        assert {engine for _, engine in placed.values()} == {0, 1}
        gcs_port = int(ray_cluster.address.rsplit(":", 1)[1])
        for episode, (task, _) in placed.items():
            error, run, text = await _call(client, "run_code", task_id=task, episode_id=episode,
                                           code=PROBE % (episode, _node_ip(), gcs_port))
            assert not error, text
            seen = json.loads(run["stdout"])
            assert seen == {"files": ["mine"], "mine": episode, "reached_ray": False}  # its own files; no network
        fhir = (await _call(client, "list_tasks", dataset="medagentbench", limit=1))[1]["tasks"][0]["task_id"]
        error, _, text = await _call(client, "run_code", task_id=fhir, code="print(1)")
        # the shared data has no FHIR resources: that is said first; with them, the Ray backend says it has no FHIR
        assert error and ("FHIR tasks need the Docker sandbox backend" in text or "medagentbench/fhir" in text), text
        instance = server.state.backend.instance_id
    for engine in ray_cluster.engines:  # the server's shutdown removed its containers on every node
        assert engine.containers(medgym_instance=instance) == []
    db = sqlite3.connect(ray_settings.db_path)
    events = db.execute("SELECT count(*) FROM events WHERE body LIKE '%run_code%'").fetchone()[0]
    db.close()
    assert events >= 2 * len(placed)


def test_doctor_checks_the_cluster(ray_cluster: RayCluster, ray_settings: Settings) -> None:
    from medgym_cli.doctor import run_checks

    checks = {check.name.strip(): check for check in run_checks(ray_settings)}
    assert checks["Ray cluster"].ok and "2 node(s)" in checks["Ray cluster"].detail
    nodes = [check for name, check in checks.items() if name.startswith("node ")]
    assert len(nodes) == 2 and all(IMAGE in check.detail and "Docker" in check.detail for check in nodes)
    assert any("medgym-node2" in check.detail or "mg-node2" in check.detail for check in nodes)  # its own engine


def _server(home: Path, cluster: RayCluster, shared: Path) -> StdioServerParameters:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "MEDGYM_HOME": str(home / ".medgym"),
           "MEDGYM_IMAGE": IMAGE, "MEDGYM_PACK": "0", "MEDGYM_BACKEND": "ray", "MEDGYM_RAY_ADDRESS": cluster.address,
           "MEDGYM_POOL_SIZE": "1", "MEDGYM_CATALOG_WAIT_S": "600"}
    return StdioServerParameters(command=str(Path(sys.executable).parent / "medgym"),
                                 args=["serve", "--data-dir", str(shared)], env=env)


def _wait_for(condition: Any, seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, what
        time.sleep(0.5)
    return time.monotonic() - started


async def test_a_killed_server_leaves_no_container_on_any_node(
        ray_cluster: RayCluster, tmp_path: Path, shared_dir: Path) -> None:
    labels: dict[str, str] = {}
    with pytest.raises(BaseException):  # noqa: B017 - the transport dies with the server
        async with Client(_server(tmp_path, ray_cluster, shared_dir), read_timeout_seconds=120) as client:
            _, _, container = await _episode(client, ray_cluster, "npowerai/train/1")
            engine = ray_cluster.engines[_engine_of(ray_cluster, container)]
            labels = engine.client().api.inspect_container(container)["Config"]["Labels"]
            os.kill(int(labels[SERVER].split(":")[1]), signal.SIGKILL)
            await _call(client, "run_code", task_id="npowerai/train/1", code="print(1)")
    instance = labels["medgym.instance"]
    took = _wait_for(lambda: all(not e.containers(medgym_instance=instance) for e in ray_cluster.engines), 60,
                     "containers of the killed server are still there")
    print(f"the killed server's containers were gone from both nodes after {took:.1f} s")


async def test_status_shows_every_ray_node(ray_cluster: RayCluster, ray_settings: Settings) -> None:
    server = build_server(ray_settings)
    async with Client(server.mcp) as client:
        episode, _, _ = await _episode(client, ray_cluster, "npowerai/train/1")
        assert server.state is not None
        backend = server.state.backend
        assert isinstance(backend, RayBackend)
        labels = {backend.label(node.node_id) for node in backend.nodes()}

        async def status() -> list[dict[str, Any]]:
            contents = (await client.read_resource("medgym://status")).contents
            return list(json.loads(getattr(contents[0], "text", ""))["nodes"])

        nodes = await status()
        assert {node["node"] for node in nodes} == labels and len(labels) == 2 and "local" not in labels
        assert all(node["reachable"] and node["error"] is None for node in nodes)
        assert sum(node["sandboxes_running"] for node in nodes) == 1  # this episode's sandbox
        assert all(node["pool_target"] >= ray_settings.pool_size for node in nodes)  # each node keeps a pool
        assert len({(node["starts_waiting"], node["starts_at_once"]) for node in nodes}) == 1  # server-wide
        for _ in range(20):  # Ray's per-node free slots: 4 each, one taken by the episode (the count may lag)
            if sum(node["sandboxes_free"] for node in nodes) == 2 * SLOTS - 1:
                break
            await anyio.sleep(0.5)
            nodes = await status()
        assert sum(node["sandboxes_free"] for node in nodes) == 2 * SLOTS - 1
        assert min(node["sandboxes_free"] for node in nodes) == SLOTS - 1
        await _call(client, "submit_answer", task_id="npowerai/train/1", episode_id=episode, answer=4)
        for _ in range(20):  # the episode's end closes its sandbox
            if sum(node["sandboxes_running"] for node in await status()) == 0:
                break
            await anyio.sleep(0.5)
        assert sum(node["sandboxes_running"] for node in await status()) == 0


def test_medgym_status_lists_the_ray_nodes(ray_cluster: RayCluster, tmp_path: Path, shared_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "MEDGYM_HOME": str(tmp_path / "home"), "MEDGYM_IMAGE": IMAGE, "MEDGYM_PACK": "0",
           "MEDGYM_BACKEND": "ray", "MEDGYM_RAY_ADDRESS": ray_cluster.address, "MEDGYM_POOL_SIZE": "0"}
    medgym = str(Path(sys.executable).parent / "medgym")
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen([medgym, "serve", "--transport", "http", "--port", str(port), "--data-dir",
                                   str(shared_dir)], env=env, stderr=log)
        try:
            _wait_for(lambda: _listening(port) or server.poll() is not None, 60, "the server did not listen")
            url = f"http://127.0.0.1:{port}/mcp"
            shown = subprocess.run([medgym, "status", "--url", url, "--json"], capture_output=True, text=True,
                                   timeout=120, env=env)
            assert shown.returncode == 0, shown.stderr
            nodes = json.loads(shown.stdout)["nodes"]
            assert len(nodes) == 2 and all(socket.gethostname() in node["node"] for node in nodes)
            assert all(node["reachable"] and node["sandboxes_free"] == SLOTS for node in nodes)
            table = subprocess.run([medgym, "status", "--url", url], capture_output=True, text=True, timeout=120,
                                   env=env)
            assert all(node["node"] in table.stdout for node in nodes)
            assert "the server's, over all nodes" in table.stdout
        finally:
            server.terminate()
            assert server.wait(timeout=60) == 0, (tmp_path / "server.log").read_text()
    assert "its sandboxes are removed" in (tmp_path / "server.log").read_text()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


async def test_status_reports_a_silent_node_as_unreachable(ray_cluster: RayCluster) -> None:
    import ray

    backend = RayBackend(f"status-{os.getpid()}", address=ray_cluster.address, pool_size=0)
    ship()
    (held, _), (silent_node, real) = backend._live_agents()
    silent: Any = ray.remote(SilentAgent).options(num_cpus=0, max_concurrency=4).remote()
    backend._agents[silent_node.node_id] = silent
    try:
        started = time.monotonic()
        status = await backend_status(backend, Capacity(4), WarmPool(backend.start, 0), "ready")
        took = time.monotonic() - started
        by_node = {node.node: node for node in status.nodes}
        assert took < NODE_TIMEOUT_S + 3 and set(by_node) == {held.label, silent_node.label}
        assert by_node[held.label].reachable and by_node[held.label].error is None
        assert not by_node[silent_node.label].reachable and "did not answer" in str(by_node[silent_node.label].error)
        ray.kill(silent)
        for _ in range(10):  # once Ray has noticed the kill, the node's agent is reported as failed
            status = await backend_status(backend, Capacity(4), WarmPool(backend.start, 0), "ready")
            dead = next(node for node in status.nodes if node.node == silent_node.label)
            if "failed" in str(dead.error):
                break
        assert not dead.reachable and "failed" in str(dead.error)  # and a later start gets a new agent
        assert silent_node.node_id not in backend._agents
    finally:
        backend._agents[silent_node.node_id] = real
        backend.remove_own()


def test_node_pools_grow_toward_pool_max_and_shrink_when_idle(ray_cluster: RayCluster) -> None:
    import ray

    backend = RayBackend(f"pool-{os.getpid()}", address=ray_cluster.address, pool_size=1, pool_max=2)
    ship()
    backend.ping()
    backend._agent_class = ray.remote(QuickShrinkAgent)
    spec = SandboxSpec(image=IMAGE, limits=Limits())
    boxes = []
    try:
        backend._live_agents()  # an agent on each node, so each keeps a pool
        for _ in range(4):  # episodes start faster than the pools refill: the pools grow, up to 2
            boxes.append(backend.start(spec))
        targets = [load.load.pool_target for load in backend.node_loads(10.0)]
        assert max(targets) == 2 and all(target <= 2 for target in targets), targets
        took = _wait_for(lambda: all(load.load.pool_target == 1 and load.load.pool_idle <= 1
                                     for load in backend.node_loads(10.0)), 60, "the node pools did not shrink")
        print(f"node pools grew to {targets} and shrank back to 1 after {took:.1f} s idle")
    finally:
        for box in boxes:
            box.close()
        backend.remove_own()
    for engine in ray_cluster.engines:
        assert engine.containers(medgym_instance=backend.instance_id) == []


def test_each_node_reaps_only_its_own_hosts_dead_owners(ray_cluster: RayCluster) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    here = socket.gethostname()
    owners = {"dead": f"{here}:{dead.pid}:1", "alive": owner_label(), "foreign": f"not-{here}.example:{dead.pid}:1"}
    tag = f"reap-{os.getpid()}"
    made: dict[tuple[int, str], str] = {}
    try:
        for index, engine in enumerate(ray_cluster.engines):
            for kind, owner in owners.items():
                made[index, kind] = engine.client().api.create_container(  # created, never started
                    IMAGE, labels={MANAGED: "1", INSTANCE: tag, OWNER: owner}, network_disabled=True)["Id"]
        backend = RayBackend(f"reaper-{os.getpid()}", address=ray_cluster.address, pool_size=0)
        try:
            assert backend.reap_orphans() >= 1  # (another medgym process of this host may reap on its engine first)
        finally:
            backend.remove_own()
        for index, engine in enumerate(ray_cluster.engines):
            left = {c["Id"] for c in engine.containers(medgym_instance=tag)}
            assert made[index, "dead"] not in left  # a dead owner of this host: reaped on every node
            assert made[index, "alive"] in left  # a live owner of this host
            assert made[index, "foreign"] in left  # another host's owner: not this node's to judge
    finally:
        for (index, _), container in made.items():
            with contextlib.suppress(Exception):
                ray_cluster.engines[index].client().api.remove_container(container, force=True)


async def test_a_node_lost_mid_run(ray_cluster: RayCluster, ray_settings: Settings) -> None:
    server = build_server(ray_settings)
    async with Client(server.mcp) as client:
        on: dict[int, tuple[str, str]] = {}
        for number in range(1, 9):
            task = f"npowerai/train/{number}"
            episode, engine, _ = await _episode(client, ray_cluster, task)
            on.setdefault(engine, (episode, task))
            if len(on) == 2:
                break
        (kept, kept_task), (doomed, doomed_task) = on[0], on[1]
        outcome: list[tuple[bool, dict[str, Any], str]] = []

        async def long_run() -> None:
            outcome.append(await _call(client, "run_code", task_id=doomed_task, episode_id=doomed,
                                       code="import time; time.sleep(60)", timeout_s=8))

        async with anyio.create_task_group() as group:
            group.start_soon(long_run)
            await anyio.sleep(2.0)
            ray_cluster.kill("node2")
        error, _, message = outcome[0]
        assert error and "medgym server problem" in message and "sandbox was lost" in message
        assert "Ray node" in message and "reset_task" in message
        assert not (await _call(client, "run_code", task_id=kept_task, episode_id=kept, code="print(1)"))[0]
        error, again, text = await _call(client, "run_code", task_id=doomed_task, episode_id=doomed, code=WHOAMI)
        assert not error, text  # a fresh sandbox, on the node that is left
        assert _engine_of(ray_cluster, again["stdout"].strip()) == 0
        assert not (await _call(client, "submit_answer", task_id=doomed_task, episode_id=doomed, answer=4))[0]
        instance = server.state.backend.instance_id
        took = _wait_for(lambda: not ray_cluster.engines[1].containers(medgym_instance=instance), 60,
                         "containers of the lost node's agent are still on its engine")
        print(f"the lost node's containers were gone from its engine after {took:.1f} s")
    db = sqlite3.connect(ray_settings.db_path)
    end = db.execute("SELECT end_reason, outcome FROM episodes WHERE episode_id=?", (doomed,)).fetchone()
    bodies = [json.loads(b) for (b,) in db.execute("SELECT body FROM events WHERE episode_id=? ORDER BY seq",
                                                   (doomed,))]
    db.close()
    assert end[0] == "final_submission" and end[1] in ("correct", "incorrect")
    lost = [e for e in bodies if e["tool"] == "run_code" and e.get("error_kind") == "service"]
    assert len(lost) == 1 and "sandbox was lost" in lost[0]["error"] and "Ray node" in lost[0]["error"]
