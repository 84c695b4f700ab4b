"""`medgym serve` with one extra tool, `noop`, for the latency benchmark's floor.

`noop` is an async tool that does nothing, registered through the same registrar as medgym's own
tools, so a call of it costs exactly what every tool call costs (MCP decode and encode, argument
validation, the registrar's wrapper, result conversion) and nothing else. run_code's latency is
compared against it in the same server process.

With MEDGYM_BENCH_STAGES=<file>, the per-call stage timings that medgym logs at DEBUG (logger
`medgym.stages`) are appended to that file, for the benchmark's stage table; the clock then opens
around the MCP SDK's whole `call_tool`, not just medgym's wrapper.

usage: python benchmarks/serve_with_noop.py [serve options]   (run from a medgym source tree)
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from pydantic import BaseModel

import tools.toolset as toolset  # patched before mcp_server.app reads it
from tools.context import Call


class NoopResult(BaseModel):
    ok: bool


async def noop(call: Call) -> NoopResult:
    """Do nothing: the cost of a tool call through this server, for comparison."""
    return NoopResult(ok=True)


def _log_stages(path: str) -> None:
    """Log every call's stages to `path`, with the clock opened around the SDK's whole `call_tool`
    (so the SDK's argument validation and result conversion are stages too)."""
    try:
        from medgym import stages
    except ImportError:  # a tree older than the stage clock: client-side figures only
        return
    from mcp_server.app import StrictMCPServer

    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(message)s"))
    stages.log.setLevel(logging.DEBUG)
    stages.log.propagate = False
    stages.log.addHandler(handler)
    call_tool = StrictMCPServer.call_tool

    async def timed(self: StrictMCPServer, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        with stages.clocked(name, last_stage="sdk_out"):
            return await call_tool(self, name, arguments, context)

    StrictMCPServer.call_tool = timed  # type: ignore[method-assign]


def main() -> int:
    toolset.TOOLS = (*toolset.TOOLS, toolset.ToolDef(noop, "No-op", "read"))
    if os.environ.get("MEDGYM_BENCH_STAGES"):
        _log_stages(os.environ["MEDGYM_BENCH_STAGES"])
    from medgym_cli.main import main as medgym_main

    return medgym_main(["serve", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
