"""The README says what the code does: every setting and every tool parameter is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

from mcp_server.settings import variables_table
from tools.toolset import TOOLS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    table = README[README.index("## Configuration"):README.index("## The sandbox")]
    missing = [variable for variable, _, _ in variables_table() if f"`{variable}`" not in table]
    assert missing == []


def test_every_tool_and_parameter_is_in_the_tools_table() -> None:
    table = README[README.index("## Tools"):README.index("## Episodes and attempts")]
    for definition in TOOLS:
        row = next((line for line in table.splitlines() if line.startswith(f"| `{definition.name}` |")), "")
        assert row, definition.name
        for name in list(inspect.signature(definition.function).parameters)[1:]:
            assert f"`{name}" in row, (definition.name, name)
