"""The MCP surface in-process (the SDK's in-memory client) against the real Docker engine."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server.app import ServerHandle, build_server
from mcp_server.settings import Settings
from tests.leaks import assert_no_ground_truth, ground_truth_strings
from tests.mcp_calls import call_error as _error
from tests.mcp_calls import call_ok as _call

pytestmark = pytest.mark.anyio

CALC = "medcalcbench/test/6"  # Creatinine Clearance, accepted range [79.74205, 88.13595]



def _containers(handle: ServerHandle) -> set[str]:
    """Short ids of this server's live containers (pooled idle ones included)."""
    assert handle.state is not None
    backend = handle.state.backend
    return {c["Id"][:12] for c in backend.managed_containers()
            if (c.get("Labels") or {}).get("medgym.instance") == backend.instance_id}


def _episode_sandboxes(handle: ServerHandle) -> set[str]:
    assert handle.state is not None
    episodes = handle.state.services.episodes.episodes_of("local")
    return {e.sandbox.sandbox_id for e in episodes if e.sandbox is not None}


async def _until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await anyio.sleep(0.1)


@pytest.mark.usefixtures("fake_backend")
async def test_tools_are_declared_with_schemas_and_honest_annotations(settings: Settings) -> None:
    handle = build_server(settings)
    async with Client(handle.mcp) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    expected = {"list_datasets", "list_tasks", "get_task", "run_code", "inspect_data", "submit_answer", "reset_task",
                "get_progress"}
    assert expected <= set(tools)
    for name in expected:
        assert tools[name].output_schema, name
    for name in ("list_datasets", "list_tasks", "get_task", "inspect_data", "get_progress"):
        assert tools[name].annotations.read_only_hint is True
    assert tools["run_code"].annotations.read_only_hint is False
    assert tools["run_code"].annotations.open_world_hint is False
    assert tools["submit_answer"].annotations.idempotent_hint is False
    assert tools["reset_task"].annotations.destructive_hint is True
    limit = tools["list_tasks"].input_schema["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 200, 20)


async def test_reading_a_thousand_tasks_starts_no_container(settings: Settings, docker_ready: None) -> None:
    handle = build_server(settings)
    async with Client(handle.mcp) as client:
        datasets = await _call(client, "list_datasets")
        assert {d["name"] for d in datasets["datasets"]} >= {"medcalcbench", "npowerai", "mimic_iii"}
        read, cursor = 0, None
        while read < 1000:
            page = await _call(client, "list_tasks", limit=200, **({"cursor": cursor} if cursor else {}))
            for summary in page["tasks"]:
                view = await _call(client, "get_task", task_id=summary["task_id"])
                assert view["episode_id"].startswith("ep_")
                read += 1
            cursor = page["next_cursor"]
        assert _episode_sandboxes(handle) == set()  # no episode got a container
        assert len(_containers(handle)) <= settings.pool_size  # only the warm pool's idle ones


@pytest.mark.usefixtures("fake_backend")
async def test_no_ground_truth_in_listings_or_task_views(settings: Settings, shared_dir: Path) -> None:
    handle = build_server(settings)
    async with Client(handle.mcp) as client:
        for dataset in ("medcalcbench", "npowerai", "mimic_iii", "eicu", "treqs", "ehrcon", "biocoder",
                        "biodsbench", "medagentbench", "ehrshot", "mimic_extract"):
            page = await _call(client, "list_tasks", dataset=dataset, limit=40)
            for summary in page["tasks"]:
                view = await _call(client, "get_task", task_id=summary["task_id"])
                assert_no_ground_truth(json.dumps(view), ground_truth_strings(shared_dir, view["task_id"]))
            assert_no_ground_truth(json.dumps(page), set())


async def test_solve_submit_attempts_and_reset(settings: Settings, no_leftover_containers: None) -> None:
    handle = build_server(settings)
    async with Client(handle.mcp) as client:
        view = await _call(client, "get_task", task_id=CALC)
        assert view["context"].startswith("A 41-year-old Japanese man")  # the patient note is shown
        assert view["attempts_left"] == 1 and view["answer_format"]["kind"] == "number"
        run = await _call(client, "run_code", task_id=CALC, code="print(round(83.9, 1))")
        assert run["stdout"] == "83.9\n" and run["episode_id"] == view["episode_id"]
        (assigned,) = _episode_sandboxes(handle)
        assert assigned in _containers(handle)
        message = await _error(client, "submit_answer", task_id=CALC, answer="about 84 mL/min")
        assert "single number" in message and "not counted" in message
        verdict = await _call(client, "submit_answer", task_id=CALC, answer=83.9)
        assert verdict["correct"] is True and verdict["attempts_left"] == 0 and verdict["episode_ended"]
        await _until(lambda: assigned not in _containers(handle))  # the episode ended: its sandbox goes
        for ended in (await _error(client, "run_code", task_id=CALC, code="print(1)"),
                      await _error(client, "submit_answer", task_id=CALC, answer=83.9)):
            assert "first finished episode" in ended and "reset_task" not in ended  # no invitation to retry
        fresh = await _call(client, "reset_task", task_id=CALC)
        assert fresh["previous_episode_id"] == view["episode_id"] and fresh["attempts_left"] == 1
        again = await _call(client, "run_code", task_id=CALC, code="import os\nprint(os.listdir('.'))")
        assert again["episode_id"] == fresh["episode_id"] and again["stdout"] == "[]\n"
        wrong = await _call(client, "submit_answer", task_id=CALC, answer=12.5)
        assert wrong["correct"] is False and "12.5" in wrong["feedback"]
        progress = await _call(client, "get_progress")
        (row,) = progress["datasets"]
        assert row["first_try_correct"] == 1 and row["first_try_accuracy"] == 1.0 and progress["episodes_total"] == 2
        assert row["k"] == 2 and row["pass_at_k"] == 1.0 and row["episodes_per_task"] == 2.0


@pytest.mark.usefixtures("fake_backend")
async def test_training_mode_allows_more_attempts(tmp_path: Path, shared_dir: Path) -> None:
    settings = Settings(home=tmp_path, data_dir=shared_dir, max_attempts=3, pack=False)
    async with Client(build_server(settings).mcp) as client:
        first = await _call(client, "submit_answer", task_id=CALC, answer=1)
        assert not first["correct"] and first["attempts_left"] == 2 and not first["episode_ended"]
        second = await _call(client, "submit_answer", task_id=CALC, answer=84)
        assert second["correct"] and second["episode_ended"]


@pytest.mark.usefixtures("fake_backend")
async def test_fixable_mistakes_are_tool_errors(settings: Settings) -> None:
    async with Client(build_server(settings).mcp) as client:
        assert "list_tasks" in await _error(client, "get_task", task_id="medcalcbench/test/999999")
        assert "unknown dataset" in await _error(client, "list_tasks", dataset="nope")
        assert "cursor" in await _error(client, "list_tasks", cursor="garbage")
        assert await _error(client, "list_tasks", limit=500)
        assert await _error(client, "run_code", task_id=CALC, code="print(1)", timeout_s=-1)
        code_task = (await _call(client, "list_tasks", dataset="biocoder", limit=1))["tasks"][0]["task_id"]
        refused = await _error(client, "submit_answer", task_id=code_task, answer="def f(): pass")
        assert "must define the function" in refused and "not counted" in refused  # wrong function: not an attempt
        assert "episode" in await _error(client, "get_task", task_id=CALC, episode_id="ep_unknown")


@pytest.mark.usefixtures("fake_backend")
async def test_task_statement_resource(settings: Settings) -> None:
    async with Client(build_server(settings).mcp) as client:
        result = await client.read_resource(f"medgym://tasks/{CALC}")
        text = result.contents[0].text  # type: ignore[union-attr]
        assert text.startswith(f"# {CALC}") and "Japanese" in text and "88.1" not in text
        listing = await client.read_resource("medgym://datasets")
        assert "medcalcbench" in listing.contents[0].text  # type: ignore[union-attr]


async def test_sandbox_holds_no_task_files_or_answers(
    settings: Settings, shared_dir: Path, no_leftover_containers: None
) -> None:
    code = r"""
import os, fnmatch
hits = []
for top in ['/']:
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath.startswith(('/proc', '/sys', '/dev')):
            dirnames[:] = []
            continue
        for name in filenames:
            if fnmatch.fnmatch(name.lower(), '*task*.json*') or name.endswith('.sqlite'):
                hits.append(os.path.join(dirpath, name))
print(hits)
print(sorted(os.listdir('/data')) if os.path.isdir('/data') else 'no /data')
print(sorted(os.environ))
"""
    async with Client(build_server(settings).mcp) as client:
        for task_id in (CALC, "npowerai/train/1", "mimic_iii/train/75379177b6a56fb54e946591"):
            result = await _call(client, "run_code", task_id=task_id, code=code, timeout_s=60)
            found, _data_listing, env = result["stdout"].splitlines()
            assert found == "[]", found
            assert "MEDGYM_HOME" not in env and "DOCKER" not in env
            assert_no_ground_truth(result["stdout"], ground_truth_strings(shared_dir, task_id))
            await _call(client, "reset_task", task_id=task_id)


@pytest.mark.usefixtures("fake_backend")
async def test_logs_carry_no_ground_truth(
    settings: Settings, shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with Client(build_server(settings).mcp) as client:
        await _call(client, "get_task", task_id=CALC)
        await _call(client, "submit_answer", task_id=CALC, answer=50)
        await _call(client, "submit_answer", task_id="npowerai/train/1", answer=3)
    assert_no_ground_truth(caplog.text, ground_truth_strings(shared_dir, CALC) | {"88.13595", "79.74205"})


async def test_long_runs_report_progress(settings: Settings, docker_ready: None) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with Client(build_server(settings).mcp) as client:
        arguments = {"task_id": CALC, "code": "import time\ntime.sleep(11)\nprint('done')", "timeout_s": 60}
        result = await client.call_tool("run_code", arguments, progress_callback=on_progress)
    assert not result.is_error and result.structured_content["stdout"] == "done\n"
    running = [u for u in updates if "running" in (u[2] or "")]  # (after any catalog-wait notices)
    assert [u[0] for u in running] == [5.0, 10.0] and running[0][1] == 60
