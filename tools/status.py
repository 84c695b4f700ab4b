"""`medgym://status`: capacity and back-pressure as a client can see them.

On the Docker backend there is one node, `local`. On the Ray backend there is one entry per Ray node
offering sandbox slots: its slots and warm pool as that node's agent reports them, asked with a short
timeout (a node that does not answer in time is shown as unreachable, never waited for). The queue and
start figures belong to the server, not to a node, and are repeated on every entry.
"""

from __future__ import annotations

import math

import anyio
from pydantic import BaseModel, Field

from medgym.errors import SandboxError
from sandbox.contract import SandboxBackend
from sandbox.pool import WarmPool
from sandbox.ray_agent import AgentLoad
from sandbox.ray_backend import NodeLoad, RayBackend
from tools.capacity import Capacity

NODE_TIMEOUT_S = 2.0  # how long a Ray node's agent has to report its load
SERVER_WIDE = " (server-wide: the same on every node)"


class NodeStatus(BaseModel):
    node: str = Field(description="where sandboxes run: 'local' (this host's Docker engine) or a Ray node, "
                                  "'host (node id)'")
    sandboxes_running: int = Field(description="sandboxes of this server running there")
    sandboxes_free: int = Field(description="sandboxes that may still start there: the server's own limit on "
                                            "'local'; a Ray node's free sandbox slots (every server's count)")
    pool_idle: int = Field(description="warm sandboxes ready to start an episode at once")
    pool_target: int = Field(description="how many the warm pool aims to keep ready (it follows demand)")
    starts_waiting: int = Field(description="episode starts waiting for a free sandbox (a fair queue)"
                                            + SERVER_WIDE)
    starts_per_minute: float = Field(description="episode starts per minute" + SERVER_WIDE)
    start_p50_ms: float | None = Field(description="recent episode-start latency, median" + SERVER_WIDE)
    start_p99_ms: float | None = Field(description="recent episode-start latency, 99th percentile" + SERVER_WIDE)
    starts_at_once: int = Field(description="sandbox starts allowed at once right now (ramps up while fast)"
                                            + SERVER_WIDE)
    reachable: bool = Field(True, description="false when the node did not report in time (its figures are 0)")
    error: str | None = Field(None, description="why the node is unreachable")


class ServerStatus(BaseModel):
    nodes: list[NodeStatus]
    catalog: str = Field(description="the task catalog's state")


def server_status(capacity: Capacity, pool: WarmPool, catalog: str, node: str = "local") -> ServerStatus:
    idle, target = pool.stats()
    free = max(0, capacity.max_sandboxes - capacity.held)
    return ServerStatus(catalog=catalog, nodes=[_node_status(node, capacity, capacity.held, free, idle, target)])


async def backend_status(backend: SandboxBackend, capacity: Capacity, pool: WarmPool, catalog: str) -> ServerStatus:
    """The status of whichever backend runs the sandboxes (one entry per Ray node on Ray). Never hangs."""
    if not isinstance(backend, RayBackend):
        return server_status(capacity, pool, catalog)
    loads = await ray_loads(backend, NODE_TIMEOUT_S)
    return ServerStatus(catalog=catalog, nodes=[_ray_node(load, capacity) for load in loads])


async def ray_loads(backend: RayBackend, timeout_s: float) -> list[NodeLoad]:
    """The nodes' loads, or one unreachable entry for the cluster when it does not answer in time."""
    with anyio.move_on_after(timeout_s + 3.0):
        try:
            return await anyio.to_thread.run_sync(backend.node_loads, timeout_s, abandon_on_cancel=True)
        except SandboxError as exc:
            return [_cluster_down(backend, str(exc))]
    return [_cluster_down(backend, f"the Ray cluster did not answer within {timeout_s + 3.0:g} s")]


def _cluster_down(backend: RayBackend, problem: str) -> NodeLoad:
    return NodeLoad(f"Ray cluster at {backend.address}", 0.0, 0.0, AgentLoad(0, 0, 0), problem)


def _ray_node(load: NodeLoad, capacity: Capacity) -> NodeStatus:
    status = _node_status(load.node, capacity, load.load.running, math.floor(load.free), load.load.pool_idle,
                          load.load.pool_target)
    return status.model_copy(update={"reachable": load.problem is None, "error": load.problem})


def _node_status(node: str, capacity: Capacity, running: int, free: int, idle: int, target: int) -> NodeStatus:
    stats = capacity.stats()
    return NodeStatus(
        node=node, sandboxes_running=running, sandboxes_free=free, pool_idle=idle, pool_target=target,
        starts_waiting=capacity.waiting, starts_per_minute=float(stats["starts_per_minute"] or 0),
        start_p50_ms=stats["start_p50_ms"], start_p99_ms=stats["start_p99_ms"],
        starts_at_once=int(stats["starts_at_once"] or 1))
