"""End to end over stdio: the official MCP client spawns `medgym serve` as Claude Desktop would."""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from sandbox.docker_backend import DockerBackend
from tests.conftest import IMAGE

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready")]

MEDGYM = shutil.which("medgym", path=str(Path(sys.executable).parent)) or "medgym"



def _server(home: Path, data_dir: Path) -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "MEDGYM_HOME": str(home / ".medgym"),
           "MEDGYM_IMAGE": IMAGE, "MEDGYM_PACK": "0"}
    return StdioServerParameters(command=MEDGYM, args=["serve", "--data-dir", str(data_dir)], env=env)


def _records(shared: Path) -> dict[str, dict[str, Any]]:
    lines = (shared / "medcalcbench" / "test_tasks.jsonl").read_text().splitlines()
    return {str(r["Row Number"]): r for r in map(json.loads, lines)}


def _owner_pid(container: dict[str, Any]) -> int:
    return int(container["Labels"]["medgym.owner"].split(":")[1])


def _running_sandboxes(also: int | None = None) -> list[dict[str, Any]]:
    """Running sandboxes of servers this test spawned (or of the server `also`); other processes' are theirs."""
    return [c for c in DockerBackend("tests").managed_containers() if c.get("State") == "running"
            and (_parent_of(_owner_pid(c)) == os.getpid() or _owner_pid(c) == also)]


async def _call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    return result.structured_content or {}


async def test_solve_a_medcalcbench_task_end_to_end(tmp_path: Path, shared_dir: Path) -> None:
    records = _records(shared_dir)
    before = {c["Id"] for c in _running_sandboxes()}
    async with Client(_server(tmp_path, shared_dir)) as client:
        page = await _call(client, "list_tasks", dataset="medcalcbench", category="Mean Arterial Pressure (MAP)")
        assert page["total"] >= 2
        first, second = page["tasks"][0]["task_id"], page["tasks"][1]["task_id"]
        task = await _call(client, "get_task", task_id=first)
        record = records[first.rsplit("/", 1)[1]]
        assert task["context"] == record["Patient Note"]  # the agent sees the patient note
        entities = record["Relevant Entities"]
        entities = ast.literal_eval(entities) if isinstance(entities, str) else entities
        sbp, dbp = entities["Systolic Blood Pressure"][0], entities["Diastolic Blood Pressure"][0]
        code = f"sbp, dbp = {sbp}, {dbp}\nprint(round((2 * dbp + sbp) / 3, 3))"
        run = await _call(client, "run_code", task_id=first, code=code)
        assert run["exit_code"] == 0 and not run["timed_out"]
        verdict = await _call(client, "submit_answer", task_id=first, answer=float(run["stdout"]))
        assert verdict["correct"] is True, verdict
        wrong = await _call(client, "submit_answer", task_id=second, answer=float(run["stdout"]) * 1.5 + 7)
        assert wrong["correct"] is False
        await _call(client, "reset_task", task_id=second)
        await _call(client, "run_code", task_id=second, code="print('a sandbox that the exit must remove')")
        assert {c["Id"] for c in _running_sandboxes()} - before
    await _wait_until(lambda: {c["Id"] for c in _running_sandboxes()} <= before)


async def test_sigkilled_server_leaves_no_running_container(tmp_path: Path, shared_dir: Path) -> None:
    before = {c["Id"] for c in _running_sandboxes()}
    owner_pid = None
    with pytest.raises(BaseException):  # noqa: B017 - the transport dies with the server
        async with Client(_server(tmp_path, shared_dir), read_timeout_seconds=30) as client:
            await _call(client, "run_code", task_id="npowerai/train/1", code="print('hi')")
            mine = [c for c in _running_sandboxes() if c["Id"] not in before]  # the episode's and the pool's
            owners = {_owner_pid(c) for c in mine}
            assert len(mine) >= 1 and len(owners) == 1
            owner_pid = owners.pop()
            os.kill(owner_pid, signal.SIGKILL)
            await _call(client, "list_datasets")
    assert owner_pid is not None
    # the runner sees its stdin close and exits; a restarted server reaps anything left
    async with Client(_server(tmp_path, shared_dir)) as client:
        await _call(client, "list_datasets")
    await _wait_until(lambda: {c["Id"] for c in _running_sandboxes(also=owner_pid)} <= before)
    leftovers = [c for c in DockerBackend("tests").managed_containers()
                 if c["Labels"].get("medgym.owner", "").split(":")[1:2] == [str(owner_pid)]]
    assert leftovers == []


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


async def _wait_until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await anyio.sleep(0.2)
