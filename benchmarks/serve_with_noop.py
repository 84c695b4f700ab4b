"""`medgym serve` with one extra tool, `noop`, for the latency benchmark's floor.

`noop` is an async tool that does nothing, registered through the same registrar as medgym's own
tools, so a call of it costs exactly what every tool call costs (MCP decode and encode, argument
validation, the registrar's wrapper, result conversion) and nothing else. run_code's latency is
compared against it in the same server process.

With MEDGYM_BENCH_STAGES=<file>, the per-call stage timings that medgym logs at DEBUG (logger
`medgym.stages`) are appended to that file, for the benchmark's stage table.

usage: python benchmarks/serve_with_noop.py [serve options]   (run from a medgym source tree)
"""

from __future__ import annotations

import logging
import os
import sys

from pydantic import BaseModel

import tools.toolset as toolset  # patched before mcp_server.app reads it
from tools.context import Call


class NoopResult(BaseModel):
    ok: bool


async def noop(call: Call) -> NoopResult:
    """Do nothing: the cost of a tool call through this server, for comparison."""
    return NoopResult(ok=True)


def _log_stages(path: str) -> None:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("medgym.stages")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)


def main() -> int:
    toolset.TOOLS = (*toolset.TOOLS, toolset.ToolDef(noop, "No-op", "read"))
    if os.environ.get("MEDGYM_BENCH_STAGES"):
        _log_stages(os.environ["MEDGYM_BENCH_STAGES"])
    from medgym_cli.main import main as medgym_main

    return medgym_main(["serve", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
