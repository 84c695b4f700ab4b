"""Node agents for the Ray backend's tests: one that shrinks its idle pool within seconds, one that never answers.

They are shipped to the cluster's workers by value (`ship`), so the workers need not import the tests package.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sandbox import pool
from sandbox.ray_agent import AgentLoad, NodeAgent

QUICK_SHRINK_S = 2.0


class QuickShrinkAgent(NodeAgent):
    """A node agent whose warm pool gives back an unused grown slot after 2 s instead of a minute."""

    def __init__(self, *args: Any, **kwargs: Any):
        pool.SHRINK_AFTER_S = QUICK_SHRINK_S  # in this agent's own worker process
        super().__init__(*args, **kwargs)


class SilentAgent:
    """Stands in for a node agent that hangs: its load report never comes."""

    def load(self) -> AgentLoad:
        time.sleep(600)
        return AgentLoad(0, 0, 0)


def ship() -> None:
    """Pickle this module's classes by value, so Ray workers need not find the tests package."""
    from ray import cloudpickle

    register: Any = cloudpickle.register_pickle_by_value
    register(sys.modules[__name__])
