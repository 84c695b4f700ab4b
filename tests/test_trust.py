"""Scores you can trust: one scored try per task in benchmark mode, honest availability, no answer
files in any sandbox, and the friction an agent met (issue 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from tests.conftest import IMAGE
from tests.mcp_calls import call_error as _error
from tests.mcp_calls import call_ok as _call

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready")]
POWER = "npowerai/train/1"  # answer 4


def _server(tmp_path: Path, shared_dir: Path, **extra: Any) -> Any:
    settings = Settings(home=tmp_path / "home", data_dir=shared_dir, image=IMAGE, pack=False, pool_size=0, **extra)
    return build_server(settings)


async def test_a_retry_after_a_wrong_answer_never_becomes_the_score(tmp_path: Path, shared_dir: Path) -> None:
    handle = _server(tmp_path, shared_dir)
    async with Client(handle.mcp) as client:
        first = await _call(client, "get_task", task_id=POWER)
        assert first["ordinal"] == 1
        wrong = await _call(client, "submit_answer", task_id=POWER, answer=5)
        assert wrong["correct"] is False and wrong["episode_ended"]
        ended = await _error(client, "submit_answer", task_id=POWER, answer=4)
        assert "first finished episode" in ended and "reset_task" not in ended
        again = await _call(client, "reset_task", task_id=POWER)
        assert again["ordinal"] == 2 and "sample" in again["message"]
        right = await _call(client, "submit_answer", task_id=POWER, answer=4)
        assert right["correct"] is True
        sample = await _call(client, "get_task", task_id=POWER, new_episode=True)
        assert sample["ordinal"] == 3
        await _call(client, "submit_answer", task_id=POWER, answer=4, episode_id=sample["episode_id"])
        (row,) = (await _call(client, "get_progress"))["datasets"]
    assert row["dataset"] == "npowerai" and row["split"] == "train"
    assert row["tasks_attempted"] == 1 and row["first_try_correct"] == 0 and row["first_try_accuracy"] == 0.0
    assert row["k"] == 3 and row["pass_at_k"] == 1.0 and row["episodes"] == 3
    assert handle.state is None
    from trajectory.store import RecordStore

    records = {e.episode_id: e for e in RecordStore(tmp_path / "home" / "medgym.sqlite").episodes()}
    chain = sorted(records.values(), key=lambda e: e.ordinal)
    assert [e.ordinal for e in chain] == [1, 2, 3] and [e.outcome for e in chain] == ["incorrect", "correct", "correct"]
    assert chain[1].previous_episode_id == chain[0].episode_id and chain[2].previous_episode_id == chain[1].episode_id


async def test_episodes_per_task_cap(tmp_path: Path, shared_dir: Path) -> None:
    async with Client(_server(tmp_path, shared_dir, episodes_per_task=2).mcp) as client:
        await _call(client, "get_task", task_id=POWER)
        await _call(client, "get_task", task_id=POWER, new_episode=True)
        for tool, arguments in (("get_task", {"new_episode": True}), ("reset_task", {})):
            refused = await _error(client, tool, task_id=POWER, **arguments)
            assert "MEDGYM_EPISODES_PER_TASK=2" in refused
        assert not (await client.call_tool("get_task", {"task_id": "npowerai/train/2"})).is_error


def test_exports_keep_first_episodes_and_their_group(tmp_path: Path) -> None:
    from trajectory.export import Episode, first_episodes

    def episode(task: str, ordinal: int, group: str | None, client: str = "c") -> Episode:
        return Episode(task, "d", f"{task}-{ordinal}", "correct", "s", list, dict, [], client=client,
                       ordinal=ordinal, group=group)

    chosen = [episode("a", 1, None), episode("a", 2, None), episode("b", 1, "g"), episode("b", 2, "g"),
              episode("b", 3, "h"), episode("a", 1, None, client="other")]
    kept = [(e.task_id, e.ordinal, e.client) for e in first_episodes(chosen)]
    assert kept == [("a", 1, "c"), ("b", 1, "c"), ("b", 2, "c"), ("a", 1, "other")]


async def test_audited_labels_are_served_honestly(tmp_path: Path, shared_dir: Path) -> None:
    from task_store.audit import audited_key, run_audit

    report = run_audit(shared_dir, "medcalcbench")
    wrong = next(f for f in report.findings if f.status == "disagrees" and f.confident and "Due Date" in f.category)
    for labels in ("official", "audited"):
        handle = _server(tmp_path / labels, shared_dir, labels=labels)
        async with Client(handle.mcp) as client:
            view = await _call(client, "get_task", task_id=wrong.task_id)
            assert "Label audit" in view["audit_note"] and wrong.official not in view["audit_note"]
            assert handle.state is not None
            store = handle.state.services.store
            official = store.official_key(wrong.task_id)
            expected = official if labels == "official" else audited_key(wrong, official)
            assert store.answer_key(wrong.task_id) == expected
            assert (await _call(client, "list_datasets"))["labels"] == labels
            power = (await _call(client, "list_tasks", dataset="npowerai", limit=1))["tasks"][0]["task_id"]
            instructions = (await _call(client, "get_task", task_id=power))["instructions"]
            assert "Convention of this task type's answers" in instructions
            episode = view["episode_id"]
        from trajectory.store import RecordStore

        record = next(e for e in RecordStore(tmp_path / labels / "home" / "medgym.sqlite").episodes()
                      if e.episode_id == episode)
        assert record.provenance.labels == labels


async def test_friction_an_agent_met(tmp_path: Path, shared_dir: Path) -> None:
    async with Client(_server(tmp_path, shared_dir).mcp) as client:
        mixed = await _call(client, "list_tasks", dataset="medcalcbench", category="centor score (modified/mcisaac) "
                                                                                 "for strep pharyngitis")
        assert mixed["total"] > 0  # categories match case-insensitively
        near = await _error(client, "list_tasks", dataset="medcalcbench", category="Centor Scores")
        assert "no category" in near and "Centor Score (Modified/McIsaac)" in near
        listing = await _call(client, "list_datasets")
        mimic = next(d for d in listing["datasets"] if d["name"] == "mimic_iii")
        assert mimic["categories_truncated"] and "dataset='mimic_iii'" in mimic["categories_note"]
        assert not any("{" in c["category"] or "has_verb" in c["category"] for c in mimic["categories"])
        full = (await _call(client, "list_datasets", dataset="mimic_iii"))["datasets"][0]
        assert len(full["categories"]) == full["categories_total"] and not full["categories_truncated"]
        view = await _call(client, "get_task", task_id=POWER)
        assert "Also accepted" in view["answer_format"]["how_to_submit"]
        slow = await _call(client, "run_code", task_id=POWER, code="import time; time.sleep(5)", timeout_s=1)
        assert slow["timed_out"] and "stopped after 1 s" in slow["note"] and "timeout_s" in slow["note"]
        dry = await _call(client, "submit_answer", task_id=POWER, answer="4", dry_run=True)
        assert dry["dry_run"] and dry["correct"] is None and dry["attempts_left"] == 1
        bad = await _error(client, "submit_answer", task_id=POWER, answer="four", dry_run=True)
        assert "not counted" in bad
        real = await _call(client, "submit_answer", task_id=POWER, answer=4)
        assert real["correct"] is True
