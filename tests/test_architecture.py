"""The design, checked: no cycles between top-level packages, each tool declared once, the tool
specs models get equal the server's own, and published schema limits equal enforced limits."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import grimp
import pytest
from mcp import Client

from evaluation.session import agent_tool_specs
from mcp_server.app import build_server
from mcp_server.settings import Settings
from sandbox.limits import Limits
from tools.toolset import TOOLS
from trajectory.toolspecs import AGENT_TOOLS, HARNESS_PARAMETERS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("medgym_cli", "medgym", "mcp_server", "evaluation", "tools", "trajectory", "task_store", "sandbox",
            "scoring")


def test_no_import_cycles_between_top_level_packages() -> None:
    graph = grimp.build_graph(*PACKAGES)
    cycles = [(a, b) for a, b in itertools.combinations(PACKAGES, 2)
              if graph.chain_exists(importer=a, imported=b, as_packages=True)
              and graph.chain_exists(importer=b, imported=a, as_packages=True)]
    assert cycles == []


def _python_sources() -> list[Path]:
    return [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]


def test_each_tool_is_declared_in_exactly_one_place() -> None:
    sources = {path: path.read_text(encoding="utf-8") for path in _python_sources()}
    for definition in TOOLS:
        declared = [p for p, text in sources.items() if re.search(rf"^(async )?def {definition.name}\(", text, re.M)]
        assert [p.relative_to(ROOT).parts[0] for p in declared] == ["tools"], (definition.name, declared)
    # nobody writes a tool's JSON schema by hand
    hand_written = [p for p, text in sources.items() if re.search(r'"timeout_s":\s*\{\s*"type"', text)]
    assert hand_written == []


@pytest.mark.usefixtures("fake_backend")
@pytest.mark.anyio
async def test_model_tool_specs_are_the_servers_own(tmp_path: Path) -> None:
    handle = build_server(Settings(home=tmp_path, pack=False))
    async with Client(handle.mcp) as client:
        specs = await agent_tool_specs(client)
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert [s["function"]["name"] for s in specs] == list(AGENT_TOOLS)
    for spec in specs:
        function: dict[str, Any] = spec["function"]
        tool = listed[function["name"]]
        assert function["description"] == tool.description
        expected = {k: v for k, v in tool.input_schema["properties"].items() if k not in HARNESS_PARAMETERS}
        assert function["parameters"]["properties"] == expected


@pytest.mark.usefixtures("fake_backend")
@pytest.mark.anyio
async def test_schema_limits_equal_runtime_limits(tmp_path: Path) -> None:
    limits = Limits(default_timeout_s=12.5, max_timeout_s=99.0)
    handle = build_server(Settings(home=tmp_path, pack=False, limits=limits))
    async with Client(handle.mcp) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        timeout = tools["run_code"].input_schema["properties"]["timeout_s"]
        assert timeout["default"] == 12.5 and timeout["maximum"] == 99.0
        too_long = await client.call_tool("run_code", {"task_id": "x/y/z", "code": "print(1)", "timeout_s": 100})
    assert too_long.is_error
    message = " ".join(getattr(c, "text", "") for c in too_long.content)
    assert "timeout_s" in message and "99" in message and "errors.pydantic.dev" not in message
    assert message.count("\n") == 0
