"""OpenAI function specs of the agent-facing tools, generated from the server's own `list_tools`.

`medgym eval` gives these to models, writes them to the run directory (`tools.json`), and the
server keeps them in its record store, so exports carry exactly the schemas the server published.
`task_id` and `episode_id` are filled in by the harness, so they are not part of the agent's view.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

AGENT_TOOLS = ("run_code", "inspect_data", "submit_answer")
HARNESS_PARAMETERS = ("task_id", "episode_id")
TOOL_SPECS_KEY = "tool_specs"  # where the server keeps the specs it publishes, in its record store

Spec = dict[str, Any]


def openai_specs(tools: Iterable[Mapping[str, Any]], names: tuple[str, ...] = AGENT_TOOLS) -> list[Spec]:
    """`[{"type": "function", "function": {name, description, parameters}}]` for the named MCP tools
    (each given as the dict of an MCP `Tool`: `name`, `description`, `inputSchema`), in `names` order."""
    by_name = {str(tool["name"]): tool for tool in tools}
    return [_spec(by_name[name]) for name in names if name in by_name]


def _spec(tool: Mapping[str, Any]) -> Spec:
    schema = copy.deepcopy(dict(tool.get("inputSchema") or tool.get("input_schema") or {}))
    properties = {k: v for k, v in (schema.get("properties") or {}).items() if k not in HARNESS_PARAMETERS}
    required = [k for k in schema.get("required") or [] if k not in HARNESS_PARAMETERS]
    parameters = {**schema, "type": "object", "properties": properties, "required": required}
    parameters.pop("title", None)
    return {"type": "function", "function": {"name": tool["name"], "description": tool.get("description") or "",
                                             "parameters": parameters}}


def argument_names(specs: Iterable[Spec]) -> dict[str, set[str]]:
    """Tool name -> the argument names an agent may pass."""
    return {spec["function"]["name"]: set(spec["function"]["parameters"].get("properties", {})) for spec in specs}
