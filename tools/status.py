"""`medgym://status`: capacity and back-pressure as a client can see them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sandbox.pool import WarmPool
from tools.capacity import Capacity


class NodeStatus(BaseModel):
    node: str = Field(description="where sandboxes run: 'local' (this host's Docker engine) or a cluster node")
    sandboxes_running: int
    sandboxes_free: int
    pool_idle: int = Field(description="warm sandboxes ready to start an episode at once")
    pool_target: int = Field(description="how many the warm pool aims to keep ready (it follows demand)")
    starts_waiting: int = Field(description="episode starts waiting for a free sandbox (a fair queue)")
    starts_per_minute: float
    start_p50_ms: float | None = Field(description="recent episode-start latency, median")
    start_p99_ms: float | None
    starts_at_once: int = Field(description="sandbox starts allowed at once right now (ramps up while fast)")


class ServerStatus(BaseModel):
    nodes: list[NodeStatus]
    catalog: str = Field(description="the task catalog's state")


def server_status(capacity: Capacity, pool: WarmPool, catalog: str, node: str = "local") -> ServerStatus:
    idle, target = pool.stats()
    stats = capacity.stats()
    return ServerStatus(catalog=catalog, nodes=[NodeStatus(
        node=node, sandboxes_running=capacity.held, sandboxes_free=max(0, capacity.max_sandboxes - capacity.held),
        pool_idle=idle, pool_target=target, starts_waiting=capacity.waiting,
        starts_per_minute=float(stats["starts_per_minute"] or 0), start_p50_ms=stats["start_p50_ms"],
        start_p99_ms=stats["start_p99_ms"], starts_at_once=int(stats["starts_at_once"] or 1))])
