"""The MCP tools, each declared once: its function (whose signature and docstring are the schema and
description), a title, what it does to the world, and whether its calls are recorded in episodes.

`mcp_server.registrar` turns each `ToolDef` into an MCP tool; `medgym eval` and the exports get the
tools' specs from the server's own `list_tools`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tools import catalog, execution, inspection, submission
from tools.readiness import GLANCE

# read: no side effect on the world (may open an episode: bookkeeping, not an effect);
# act: runs code or scores an answer; destroy: ends an episode and its files.
Effect = Literal["read", "act", "destroy"]


@dataclass(frozen=True)
class ToolDef:
    function: Callable[..., Any]
    title: str
    effect: Effect
    recorded: bool = False  # its calls are events of the episode they concern
    catalog_wait: float = 1.0  # the share of the catalog wait a call waits for it to load (see tools.readiness)

    @property
    def name(self) -> str:
        return self.function.__name__


TOOLS: tuple[ToolDef, ...] = (
    ToolDef(catalog.list_datasets, "List datasets", "read", catalog_wait=GLANCE),  # then shows the loading state
    ToolDef(catalog.list_tasks, "List tasks", "read"),
    ToolDef(catalog.get_task, "Get a task", "read", recorded=True),
    ToolDef(submission.get_progress, "Your progress", "read"),
    ToolDef(execution.run_code, "Run Python in the sandbox", "act", recorded=True),
    ToolDef(inspection.inspect_data, "Inspect the task's data", "read", recorded=True),
    ToolDef(submission.submit_answer, "Submit an answer", "act", recorded=True),
    ToolDef(submission.reset_task, "Start the task over", "destroy", recorded=True),
)
