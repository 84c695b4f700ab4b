"""The Ray backend: episode sandboxes spread over the Docker engines of a Ray cluster's nodes.

Placement is Ray's: every node that runs sandboxes is started with a custom resource
(`ray start ... --resources='{"medgym_sandbox": 8}'`), and each sandbox is a one-bundle placement
group asking for `{"medgym_sandbox": 1}`, so Ray picks a node with a free slot, keeps the count, and
frees the slot when the sandbox closes (or the server's Ray job ends). The container itself is held
by that node's `NodeAgent` actor (`sandbox.ray_agent`), which starts it on the node's own engine
with the ordinary Docker backend, keeps the node's warm pool, and relays `run_code` over the
container's attach stream: one Ray call per run on top of the local path.

Failures: a node (or its agent) that dies mid-episode surfaces as `SandboxLostError` naming the
node; the server forgets that node's agent and keeps placing sandboxes on the others. The agents
are owned by this server's Ray driver, so when the server dies Ray kills them and their
containers' runners see EOF and remove their containers (the single-host rule, per node).

FHIR tasks are not run here: their per-episode network and FHIR server are Docker-engine local,
and the server gives them no FHIR episodes on this backend (`tools.fhir_episodes.fhir_episodes_for`),
so they are refused with a clear message. `ray` is imported only when this backend is built.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, cast

from medgym.errors import SandboxError, SandboxLostError, SandboxTimeoutError, SandboxUnavailableError
from sandbox.contract import ExecResult, ImageStatus, LabelPredicate, SandboxSpec
from sandbox.docker_backend import READ_FILE_TIMEOUT_S, READY_TIMEOUT_S, REPLY_GRACE_S
from sandbox.labels import owner_label
from sandbox.pool import PoolKey, pool_key
from sandbox.ray_agent import AgentLoad, Failure, NodeAgent, NodeInfo

log = logging.getLogger(__name__)

RESOURCE = "medgym_sandbox"
AGENT_THREADS = 512  # concurrent calls one node agent serves (runs block a thread each)
CALL_GRACE_S = 15.0  # on top of the node's own timeouts, for the Ray hop
START_ATTEMPTS = 3  # a placement on a node that died meanwhile is retried elsewhere
MAX_KINDS = 4


@dataclass(frozen=True)
class Node:
    """A Ray node that offers sandbox slots."""

    node_id: str
    host: str
    slots: float

    @property
    def label(self) -> str:
        return f"{self.host} ({self.node_id[:8]})"


@dataclass(frozen=True)
class NodeReport:
    """One node, for `medgym doctor`: its engine and whether it has the image."""

    node: Node
    info: NodeInfo | None
    image: ImageStatus | None
    problem: str | None


@dataclass(frozen=True)
class NodeLoad:
    """One sandbox node for `medgym://status`: its slots, this server's sandboxes and warm pool on it."""

    node: str  # its label, "host (node id)"
    slots: float
    free: float  # free slots of the node's sandbox resource (all servers' placements count)
    load: AgentLoad
    problem: str | None = None  # why the node's figures are missing (its agent did not answer, it left)


class RayBackend:
    """Starts sandboxes on a Ray cluster's Docker nodes (a `SandboxBackend`)."""

    def __init__(self, instance_id: str, address: str = "auto", namespace: str = "medgym",
                 resource: str = RESOURCE, pool_size: int = 2, placement_timeout_s: float = 30.0,
                 pool_max: int | None = None):
        self.instance_id = instance_id
        self.address = address
        self.namespace = namespace
        self.resource = resource
        self.pool_size = pool_size
        self.pool_max = max(pool_size, pool_max if pool_max is not None else pool_size)
        self.placement_timeout_s = placement_timeout_s
        self._ray: Any = None
        self._agent_class: Any = None
        self._agents: dict[str, Any] = {}  # node id -> its NodeAgent actor
        self._labels: dict[str, str] = {}  # node id -> "host (id)", for messages
        self._kinds: OrderedDict[PoolKey, SandboxSpec] = OrderedDict()  # kinds the nodes keep warm
        self._lock = threading.RLock()

    # -- the cluster -------------------------------------------------------------------------
    @property
    def ray(self) -> Any:
        """The `ray` module, connected to the cluster (imported here: only this backend needs it)."""
        with self._lock:
            if self._ray is None:
                self._ray = _connect(self.address, self.namespace)
                self._agent_class = self._ray.remote(NodeAgent)
            return self._ray

    def nodes(self) -> list[Node]:
        """The live nodes that offer sandbox slots."""
        try:
            listed = self.ray.nodes()
        except SandboxError:
            raise
        except Exception as exc:
            raise SandboxUnavailableError(f"the Ray cluster at {self.address} does not answer: {exc}") from exc
        nodes = [Node(n["NodeID"], n.get("NodeManagerHostname") or n.get("NodeManagerAddress", "?"),
                      float(n["Resources"][self.resource]))
                 for n in listed if n.get("Alive") and n.get("Resources", {}).get(self.resource, 0) > 0]
        with self._lock:
            self._labels.update((n.node_id, n.label) for n in nodes)
        return nodes

    def label(self, node_id: str) -> str:
        return self._labels.get(node_id, node_id[:8])

    def ping(self) -> None:
        if not self.nodes():
            raise SandboxUnavailableError(
                f"the Ray cluster at {self.address} has no node offering sandbox slots: start nodes with "
                f"`ray start --address=... --resources='{{\"{self.resource}\": 8}}'` on machines with Docker")

    def describe(self) -> str:
        nodes = self.nodes()
        if not nodes:
            self.ping()
        free = float(self.ray.available_resources().get(self.resource, 0))
        slots = sum(n.slots for n in nodes)
        return (f"Ray {self.ray.__version__} at {self.address}: {len(nodes)} node(s) with Docker sandbox slots, "
                f"{slots:g} slots ({free:g} free): {', '.join(n.label for n in nodes)}")

    def _agent(self, node_id: str) -> Any:
        """The node's agent actor, started (pinned to the node) on first use."""
        with self._lock:
            if node_id not in self._agents:
                from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

                options = {"num_cpus": 0, "max_concurrency": AGENT_THREADS, "max_restarts": 0,
                           "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}
                agent = self._agent_class.options(**options).remote(self.instance_id, self.pool_size, owner_label(),
                                                                pool_max=self.pool_max)
                agent.reap_orphans.remote()  # containers a dead agent of any server left on this node
                for spec in self._kinds.values():
                    agent.warm.remote(spec)
                self._agents[node_id] = agent
            return self._agents[node_id]

    def _forget(self, node_id: str) -> None:
        with self._lock:
            self._agents.pop(node_id, None)

    def _live_agents(self) -> list[tuple[Node, Any]]:
        """An agent for every live sandbox node (agents of nodes that left are forgotten)."""
        nodes = self.nodes()
        with self._lock:
            for gone in set(self._agents) - {n.node_id for n in nodes}:
                self._agents.pop(gone)
        return [(node, self._agent(node.node_id)) for node in nodes]

    def call(self, ref: Any, timeout_s: float, node: str) -> Any:
        """The result of one agent call; node loss, timeouts and the node's own errors become medgym errors."""
        exceptions = self.ray.exceptions
        try:
            result = self.ray.get(ref, timeout=timeout_s)
        except exceptions.GetTimeoutError:
            raise SandboxTimeoutError(f"the medgym agent on Ray node {self.label(node)} did not answer in "
                                      "time") from None
        except (exceptions.RayActorError, exceptions.ActorUnschedulableError) as exc:
            self._forget(node)
            raise SandboxLostError(f"the Ray node {self.label(node)} holding the sandbox was lost (or its medgym agent "
                                   f"died): {_first_line(exc)}") from None
        except exceptions.RayError as exc:
            raise SandboxError(f"Ray node {self.label(node)}: {_first_line(exc)}") from None
        if isinstance(result, Failure):
            raise result.error(on=self.label(node))
        return result

    # -- sandboxes ---------------------------------------------------------------------------
    def start(self, spec: SandboxSpec) -> RaySandbox:
        """Place a sandbox on a node with a free slot (Ray's choice) and start it there. Blocking."""
        self.ping()  # connected first: Ray's placement-group calls would otherwise start a local Ray of their own
        self._warm_everywhere(spec)
        lost: SandboxLostError | None = None
        for _ in range(START_ATTEMPTS):
            group, node_id = self._place()
            try:
                return self._start_on(group, node_id, spec)
            except SandboxLostError as exc:  # the node went away meanwhile: place again
                _free(group)
                lost = exc
            except BaseException:
                _free(group)
                raise
        raise SandboxUnavailableError(f"could not start a sandbox on the Ray cluster: {lost}")

    def _place(self) -> tuple[Any, str]:
        """A one-slot placement group, once Ray has placed it: (group, node id)."""
        from ray.util.placement_group import placement_group, placement_group_table

        group = placement_group([{self.resource: 1}])
        try:
            placed = group.wait(self.placement_timeout_s)
        except Exception as exc:
            _free(group)
            raise SandboxUnavailableError(f"the Ray cluster at {self.address} did not place a sandbox: "
                                          f"{_first_line(exc)}") from None
        if not placed:
            _free(group)
            raise SandboxUnavailableError(
                f"no sandbox slot of the Ray cluster came free within {self.placement_timeout_s:g} s; add nodes "
                "or slots, or try again later")
        return group, str(placement_group_table(group)["bundles_to_node_id"][0])

    def _start_on(self, group: Any, node_id: str, spec: SandboxSpec) -> RaySandbox:
        agent = self._agent(node_id)
        sandbox_id, info = self.call(agent.start.remote(spec), READY_TIMEOUT_S + CALL_GRACE_S, node_id)
        info["ray_node"] = node_id
        log.info("sandbox %s started on Ray node %s", sandbox_id, self.label(node_id))
        return RaySandbox(self, agent, node_id, group, sandbox_id, info)

    def _warm_everywhere(self, spec: SandboxSpec) -> None:
        """Every node keeps `pool_size` idle sandboxes of the kinds asked for most recently."""
        if self.pool_size <= 0:
            return
        key = pool_key(spec)
        with self._lock:
            known = key in self._kinds
            self._kinds[key] = spec
            self._kinds.move_to_end(key)
            while len(self._kinds) > MAX_KINDS:
                self._kinds.popitem(last=False)
            agents = list(self._agents.values())
        if not known:
            for agent in agents:
                agent.warm.remote(spec)

    # -- status ------------------------------------------------------------------------------
    def node_loads(self, timeout_s: float = 2.0) -> list[NodeLoad]:
        """Every sandbox node's load; agents are asked at once and one that is not back in `timeout_s`
        (or died) is reported with a problem. Nodes without an agent yet are not woken (0 running, no pool)."""
        nodes = self.nodes()
        with self._lock:
            agents = dict(self._agents)
        refs = {n.node_id: agents[n.node_id].load.remote() for n in nodes if n.node_id in agents}
        ready: set[Any] = set()
        if refs:
            ready = set(self.ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout_s)[0])
        free = self._free_slots()
        loads = [self._node_load(n, refs.get(n.node_id), ready, free.get(n.node_id)) for n in nodes]
        gone = [self.label(node_id) for node_id in agents if node_id not in {n.node_id for n in nodes}]
        return loads + [NodeLoad(label, 0.0, 0.0, AgentLoad(0, 0, 0), "the node left the Ray cluster")
                        for label in gone]

    def _node_load(self, node: Node, ref: Any, ready: set[Any], free: float | None) -> NodeLoad:
        load, problem = AgentLoad(0, 0, 0), None
        if ref is not None and ref not in ready:
            problem = "its medgym agent did not answer in time"
        elif ref is not None:
            try:
                load = cast(AgentLoad, self.ray.get(ref, timeout=0))
            except Exception as exc:  # the agent died (a later start gets a new one)
                if isinstance(exc, self.ray.exceptions.RayActorError):
                    self._forget(node.node_id)
                problem = f"its medgym agent failed: {_first_line(exc)}"
        return NodeLoad(node.label, node.slots, max(0.0, node.slots - load.running) if free is None else free,
                        load, problem)

    def _free_slots(self) -> dict[str, float]:
        """Free slots per node id, from Ray's resource accounting (empty when it cannot be read)."""
        try:
            from ray._private import state  # `available_resources_per_node` is a Ray DeveloperAPI

            per_node: Any = state.available_resources_per_node
            return {str(node_id): float(resources.get(self.resource, 0)) for node_id, resources in per_node().items()}
        except Exception as exc:
            log.debug("reading free sandbox slots per node: %s", exc)
            return {}

    # -- reaping -----------------------------------------------------------------------------
    def _each_node(self, what: str, call: Any, timeout_s: float = 120.0) -> list[Any]:
        """`call(agent)`'s result from every live node; a node that fails is logged and skipped."""
        results = []
        for node, agent in self._live_agents():
            try:
                results.append(self.call(call(agent), timeout_s, node.node_id))
            except SandboxError as exc:
                log.warning("%s on Ray node %s failed: %s", what, node.label, exc)
        return results

    def remove_where(self, predicate: LabelPredicate) -> int:
        removed = 0
        for node, agent in self._live_agents():
            try:
                listed = self.call(agent.containers.remote(), 60.0, node.node_id)
                doomed = [cid for cid, labels in listed if predicate(labels)]
                removed += self.call(agent.remove.remote(doomed), 120.0, node.node_id) if doomed else 0
            except SandboxError as exc:
                log.warning("removing sandboxes on Ray node %s failed: %s", node.label, exc)
        return removed

    def reap_orphans(self) -> int:
        """Each node's agent removes the containers on its engine whose owner process is gone."""
        return int(sum(self._each_node("reaping orphans", lambda agent: agent.reap_orphans.remote())))

    def remove_own(self) -> int:
        """Stop every node agent of this server, with its pool and containers. Never raises."""
        try:
            removed = int(sum(self._each_node("removing this server's sandboxes", lambda a: a.shutdown.remote())))
        except SandboxError as exc:
            log.warning("could not reach the Ray cluster to remove this server's sandboxes: %s", exc)
            removed = 0
        with self._lock:
            agents, self._agents = list(self._agents.values()), {}
        for agent in agents:
            try:
                self.ray.kill(agent)
            except Exception as exc:
                log.debug("stopping a node agent: %s", exc)
        return removed

    # -- images ------------------------------------------------------------------------------
    def node_reports(self, image: str) -> list[NodeReport]:
        """Every sandbox node's engine and image (for `medgym doctor`)."""
        reports = []
        for node, agent in self._live_agents():
            try:
                info = cast(NodeInfo, self.call(agent.info.remote(), 60.0, node.node_id))
                status = None if info.problem else self.call(agent.image_status.remote(image), 60.0, node.node_id)
                reports.append(NodeReport(node, info, status, info.problem))
            except SandboxError as exc:
                reports.append(NodeReport(node, None, None, str(exc)))
        return reports

    def image_status(self, image: str) -> ImageStatus:
        """Present (current) only when every sandbox node has the image (built from this definition)."""
        reports = self.node_reports(image)
        if not reports:
            self.ping()
        statuses = [r.image for r in reports]
        ids = {s.image_id for s in statuses if s is not None}
        return ImageStatus(
            image=image, present=all(s is not None and s.present for s in statuses),
            current=all(s is not None and s.current for s in statuses),
            image_id=ids.pop() if len(ids) == 1 else None,
            build=next((s.build for s in statuses if s is not None and s.build), None))


class RaySandbox:
    """A sandbox container on a Ray node, reached through that node's agent."""

    def __init__(self, backend: RayBackend, agent: Any, node_id: str, group: Any, sandbox_id: str,
                 info: dict[str, Any]):
        self._backend = backend
        self._agent = agent
        self.node_id = node_id
        self._group = group
        self._id = sandbox_id
        self.info = info
        self._closed = False

    @property
    def sandbox_id(self) -> str:
        return self._id

    def run(self, code: str, timeout_s: float, max_output_bytes: int) -> ExecResult:
        if self._closed:
            raise SandboxLostError(f"sandbox {self._id} is no longer running")
        ref = self._agent.run.remote(self._id, code, timeout_s, max_output_bytes)
        return cast(ExecResult, self._backend.call(ref, timeout_s + REPLY_GRACE_S + CALL_GRACE_S, self.node_id))

    def read_file(self, path: str, max_bytes: int) -> bytes:
        if self._closed:
            raise SandboxLostError(f"sandbox {self._id} is no longer running")
        ref = self._agent.read_file.remote(self._id, path, max_bytes)
        return cast(bytes, self._backend.call(ref, READ_FILE_TIMEOUT_S + CALL_GRACE_S, self.node_id))

    def alive(self) -> bool:
        if self._closed:
            return False
        try:
            return bool(self._backend.call(self._agent.alive.remote(self._id), 10.0, self.node_id))
        except SandboxError:
            return False

    def close(self) -> None:
        """Remove the container on its node and free its slot. Idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        try:
            self._backend.call(self._agent.close.remote(self._id), 60.0, self.node_id)
        except SandboxError as exc:  # the node is gone, and the container with its agent
            log.debug("closing sandbox %s: %s", self._id, exc)
        _free(self._group)


def _connect(address: str, namespace: str) -> Any:
    try:
        import ray
    except ImportError:
        raise SandboxUnavailableError("the Ray backend needs the ray package: pip install 'medgym[ray]' (the same "
                                      "version as on the cluster's nodes)") from None
    try:
        if not ray.is_initialized():
            ray.init(address=address, namespace=namespace, log_to_driver=False, logging_level=logging.WARNING)
        return ray
    except Exception as exc:
        raise SandboxUnavailableError(
            f"the Ray cluster at {address} is not reachable ({type(exc).__name__}: {_first_line(exc)}); start it "
            f"(`ray start --head --resources='{{\"{RESOURCE}\": 8}}'` on a machine with Docker) or set "
            "MEDGYM_RAY_ADDRESS, and check with `medgym doctor`") from exc


def _free(group: Any) -> None:
    """Give a placement group's slot back (never raises: a group of a dead job is gone already)."""
    from ray.util.placement_group import remove_placement_group

    try:
        remove_placement_group(group)
    except Exception as exc:
        log.debug("freeing a sandbox slot: %s", exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
