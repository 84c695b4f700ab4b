"""`medgym eval --capture-tokens` against the scripted chat server answering like vLLM, on the real
server (Docker) and the built-in pack: token ids per assistant turn beside the transcripts and in the
exports, never in the messages sent back; samples share a group in rows, records and exports; ATIF
exports validate; rescoring the run and the store changes no verdict; no export holds ground truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mcp_server.settings import Settings
from task_store.store import TaskStore
from tests.conftest import IMAGE, share_pack
from tests.fake_chat import fake_chat_server, fake_token_ids
from tests.leaks import leaked
from tests.test_training_data import check_atif
from trajectory.export import export
from trajectory.rescore_store import rescore_source
from trajectory.rundir import RunDir
from trajectory.store import RecordStore
from trajectory.turns import read_turns

pytestmark = pytest.mark.usefixtures("docker_ready")
TOKEN_KEYS = ("token_ids", "prompt_token_ids", "logprobs", "completion_token_ids")


def _secrets(store: TaskStore, task_ids: list[str]) -> set[str]:
    """Key values and reference solutions (a value the statement shows is no secret)."""
    found: set[str] = set()
    for task_id in task_ids:
        task = store.get(task_id)
        shown = f"{task.question} {task.context or ''}"
        key = store.answer_key(task_id).model_dump()
        found |= {str(x) for k, v in key.items() if k != "kind" for x in (v if isinstance(v, list) else [v])
                  if len(str(x)) >= 5 and str(x) not in shown}
        found.add((store.reference_solution(task_id) or "").strip()[:200])
    return found - {""}


def test_eval_captures_tokens_groups_samples_and_exports_them(pack_home: Path, tmp_path: Path) -> None:
    from medgym_cli.certify import select

    home = tmp_path / "home"
    home.mkdir()
    share_pack(home, pack_home)
    store = TaskStore.open(pack_home / "medgym.sqlite", Settings(home=pack_home).roots())
    ids = [t.task_id for d in ("medgym_ehr", "medgym_calc", "medgym_power") for t in select(store, d, 1)]
    (tmp_path / "tasks.txt").write_text("\n".join(ids) + "\n")
    env = {**os.environ, "MEDGYM_HOME": str(home), "MEDGYM_IMAGE": IMAGE, "MEDGYM_POOL_SIZE": "2",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "FAKE_KEY": "sk-test"}
    run = tmp_path / "runs" / "captured"
    started = time.time()
    with fake_chat_server({t: store.reference_solution(t) or "" for t in ids}) as (url, received):
        command = [str(Path(sys.executable).parent / "medgym"), "eval", "--quiet", "--agent", "openai",
                   "--base-url", url, "--api-key-env", "FAKE_KEY", "--capture-tokens", "--tasks-file",
                   str(tmp_path / "tasks.txt")]
        result = subprocess.run([*command, "--run-dir", str(run), "--model", "solver", "--samples", "2"], env=env,
                                capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, result.stderr[-2000:]
        wrong = subprocess.run([*command, "--run-dir", str(tmp_path / "runs" / "wrong"), "--model", "wrong"], env=env,
                               capture_output=True, text=True, timeout=1200)
        assert wrong.returncode == 0, wrong.stderr[-2000:]
    _check_requests(received)
    rows = RunDir(run).rows()
    assert len(rows) == 6 and all(r.correct and r.scorable for r in rows)
    _check_turns(RunDir(run), received)
    assert all(r.group_id == f"captured/{r.task_id}" for r in rows)  # a task's two samples share its group
    records = RecordStore(home / "medgym.sqlite")
    recorded = {e.episode_id: e for e in records.episodes() if e.started_at >= started}
    records.close()
    assert {recorded[r.episode_id].group_id for r in rows} == {f"captured/{t}" for t in ids}
    assert {recorded[r.episode_id].provenance.verifier_version for r in rows} == {"1"}
    _check_exports(run, tmp_path / "runs" / "wrong", home / "medgym.sqlite", tmp_path, _secrets(store, ids))
    for source in (run, home / "medgym.sqlite"):  # the current verifiers agree with every recorded verdict
        _, results = rescore_source(source, store.answer_key, "official", write=False)
        assert len(results) == (6 if source == run else 9)
        assert all(r.status == "rescored" and r.new_correct == r.old_correct for r in results), results
        assert sum(bool(r.new_correct) for r in results) == 6


def _check_requests(received: list[dict[str, Any]]) -> None:
    """Every request asked for tokens, and no message sent back holds any."""
    assert received and all(r["body"]["return_token_ids"] and r["body"]["logprobs"] for r in received)
    for request in received:
        for message in request["body"]["messages"]:
            assert not set(TOKEN_KEYS) & set(message), message
            assert set(message) <= {"role", "content", "tool_calls", "tool_call_id"}, message


def _check_turns(run: RunDir, received: list[dict[str, Any]]) -> None:
    """The turn log beside each transcript holds what the endpoint returned for each assistant turn."""
    for row in run.rows():
        messages = run.transcript(row)
        log = read_turns(run.path / str(row.transcript))
        assistant = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        assert [t.message_index for t in log.turns] == assistant and len(log.calls) == len(assistant)
        for turn in log.turns:
            sent = messages[:turn.message_index]
            assert turn.tokens is not None and turn.latency_ms is not None
            assert turn.tokens.prompt_token_ids == fake_token_ids(json.dumps(sent, sort_keys=True), 0)
            reply = _as_sent(messages[turn.message_index])
            assert turn.tokens.completion_token_ids == fake_token_ids(json.dumps(reply, sort_keys=True), 1)
            assert turn.tokens.logprobs is not None and len(turn.tokens.logprobs) == len(
                turn.tokens.completion_token_ids)


def _as_sent(message: dict[str, Any]) -> dict[str, Any]:
    """The assistant message as the scripted server produced it (its tool calls as it wrote them)."""
    return {"role": "assistant", "content": message.get("content"), "tool_calls": message.get("tool_calls")}


def _check_exports(run: Path, wrong: Path, store: Path, tmp_path: Path, secrets: set[str]) -> None:
    """The solver's exports carry tokens and groups (its code is the reference solution, scripted: not a
    leak check); the wrong model's and the store's exports (which leave out episodes that ran a reference
    solution unless asked) hold no ground truth; every ATIF document validates."""
    out = tmp_path / "out.jsonl"
    assert export(run, "sft", out) == 6
    for line in _lines(out):
        assert line["metadata"]["group_id"] and len(line["tokens"]) == 2  # run_code, then submit_answer
    assert export(run, "atif", out) == 6
    for document in _lines(out):
        check_atif(document)
        assert document["extra"]["medgym"]["reward"] == 1.0 and document["extra"]["medgym"]["group_id"]
        assert all(s["metrics"]["completion_token_ids"] for s in document["steps"] if s["source"] == "agent")
    assert export(store, "atif", out, include_oracle=True, include_samples=True) == 9
    assert all(check_atif(d) is None and d["extra"]["medgym"]["group_id"] for d in _lines(out))
    for source in (wrong, store):  # the wrong run's episodes are the server's later samples of these tasks
        for kind in ("sft", "dpo", "raw", "atif"):
            export(source, kind, out, include_samples=True)
            text = out.read_text()
            found = leaked(text, secrets)
            assert not found, (source, kind, found[:3])
            if kind == "atif":
                assert len(_lines(out)) == 3 and all(check_atif(d) is None for d in _lines(out))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]
