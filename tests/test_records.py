"""Episode records: every tool call of an episode, with provenance, readable as a resource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready")]
CALC = "medcalcbench/test/6"  # accepted range [79.74205, 88.13595]



async def _trajectory(client: Client, episode_id: str) -> dict[str, Any]:
    result = await client.read_resource(f"medgym://episodes/{episode_id}")
    return json.loads(result.contents[0].text)  # type: ignore[union-attr]


async def test_every_call_is_recorded_with_provenance(settings: Settings) -> None:
    async with Client(build_server(settings).mcp) as client:
        view = (await client.call_tool("get_task", {"task_id": CALC})).structured_content
        episode = view["episode_id"]
        await client.call_tool("run_code", {"task_id": CALC, "code": "print(84)"})
        await client.call_tool("run_code", {"task_id": CALC, "code": "while True: pass", "timeout_s": 1})
        bad = await client.call_tool("submit_answer", {"task_id": CALC, "answer": "eighty-four"})
        assert bad.is_error
        await client.call_tool("submit_answer", {"task_id": CALC, "answer": 84})
        record = await _trajectory(client, episode)
    meta = record["episode"]
    assert meta["task_id"] == CALC and meta["outcome"] == "correct" and meta["attempts_used"] == 1
    assert meta["end_reason"] == "final_submission" and meta["ended_at"] >= meta["started_at"]
    provenance = meta["provenance"]
    assert provenance["medgym_version"] and provenance["image_id"].startswith("sha256:")
    assert provenance["verifier"] == "medcalc_range" and provenance["limits"]["memory_mb"] == settings.limits.memory_mb
    events = record["events"]
    assert [e["tool"] for e in events] == ["get_task", "run_code", "run_code", "submit_answer", "submit_answer"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[1]["result"]["stdout"] == "84\n" and events[1]["arguments"]["code"] == "print(84)"
    assert events[2]["timed_out"] is True
    assert events[3]["error_kind"] == "input" and "single number" in events[3]["error"]
    assert events[4]["verdict"]["correct"] is True and events[4]["duration_ms"] > 0
    assert all(e["schema_version"] == 1 for e in events)
    text = json.dumps(record)  # the agent's own answer is recorded; the answer key is not
    assert not any(truth in text for truth in ("88.13595", "79.74205", "83.939", '"kind": "range"'))


async def test_a_verifier_crash_is_an_error_not_a_wrong_answer(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tools.submission

    def broken(*_: Any) -> None:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(tools.submission, "verify", broken)
    async with Client(build_server(settings).mcp) as client:
        view = (await client.call_tool("get_task", {"task_id": CALC})).structured_content
        result = await client.call_tool("submit_answer", {"task_id": CALC, "answer": 84})
        assert result.is_error and "not a wrong answer" in result.content[0].text  # type: ignore[union-attr]
        again = (await client.call_tool("get_task", {"task_id": CALC})).structured_content
        assert again["attempts_used"] == 0  # not counted
        await client.call_tool("reset_task", {"task_id": CALC})
        record = await _trajectory(client, view["episode_id"])
    assert record["episode"]["outcome"] == "error"
    assert record["events"][1]["error_kind"] == "verifier"


async def test_records_survive_the_server(settings: Settings, tmp_path: Path) -> None:
    async with Client(build_server(settings).mcp) as client:
        view = (await client.call_tool("get_task", {"task_id": "npowerai/train/1"})).structured_content
        await client.call_tool("submit_answer", {"task_id": "npowerai/train/1", "answer": 3})
    from trajectory.store import RecordStore

    store = RecordStore(settings.db_path)
    trajectory = store.trajectory(view["episode_id"])
    store.close()
    assert trajectory is not None and trajectory.episode.outcome == "incorrect"
    assert [e.tool for e in trajectory.events] == ["get_task", "submit_answer"]
