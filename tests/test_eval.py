"""`medgym eval`: the oracle solves the pack, a wrong agent scores 0, the openai agent's tool loop,
concurrency without lost or duplicated rows, and resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from mcp_server.settings import Settings
from scoring.prediction_keys import PredictionsKey
from task_store.pack.build import PACK_DATASETS
from task_store.store import TaskStore
from tests.conftest import IMAGE
from tests.fake_chat import fake_chat_server
from tests.leaks import hidden_label_rows, leaked
from tests.pack_sample import pack_sample
from tests.test_fhir_server import docker_client, fhir_image  # noqa: F401 (fixtures)
from trajectory.rundir import RunDir
from trajectory.store import RecordStore

pytestmark = pytest.mark.usefixtures("docker_ready", "fhir_image")  # the pack's samples hold FHIR tasks
MEDGYM = str(Path(sys.executable).parent / "medgym")
VALUE_DATASETS = tuple(d for d in PACK_DATASETS if d != "medgym_bio")  # the scripted agents answer with values


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MEDGYM_HOME": str(home), "MEDGYM_IMAGE": IMAGE, "MEDGYM_POOL_SIZE": "4",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **extra}


def _eval(home: Path, run_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [MEDGYM, "eval", "--run-dir", str(run_dir), "--quiet", *args]
    return subprocess.run(command, env=env or _env(home), capture_output=True, text=True, timeout=1200)


def _sample_tasks(home: Path, path: Path, per_dataset: int | None) -> list[str]:
    """The whole-pack sample (None: `tests.pack_sample`) or a few tasks spread over every category of
    every dataset whose answers are values or predictions files (code tasks: test_code_datasets.py)."""
    from medgym_cli.certify import select

    store = TaskStore.open(home / "medgym.sqlite", Settings(home=home).roots())
    if per_dataset is None:
        ids = [t.task_id for t in pack_sample(store)]
    else:
        each = max(1, per_dataset * 3 // len(VALUE_DATASETS))
        ids = [t.task_id for d in VALUE_DATASETS for t in select(store, d, each)]
    path.write_text("\n".join(ids) + "\n")
    return ids


def test_oracle_solves_the_whole_pack_and_every_episode_is_recorded(pack_home: Path, tmp_path: Path) -> None:
    ids = _sample_tasks(pack_home, tmp_path / "tasks.txt", None)
    assert len(ids) >= 1000
    run_dir = tmp_path / "oracle"
    started = time.time()
    result = _eval(pack_home, run_dir, "--agent", "oracle", "--tasks-file", str(tmp_path / "tasks.txt"),
                   "--concurrency", "8", env=_env(pack_home, MEDGYM_POOL_SIZE="8"))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = RunDir(run_dir).rows()
    assert len(rows) == len(ids) == len({r.key for r in rows})
    assert all(r.correct and r.error is None for r in rows), [r for r in rows if not r.correct][:3]
    assert "| all |" in result.stdout and "100.0%" in result.stdout
    assert (run_dir / "summary.md").is_file() and json.loads((run_dir / "metadata.json").read_text())["agent"]
    records = RecordStore(pack_home / "medgym.sqlite")
    by_id = {e.episode_id: e for e in records.episodes() if e.started_at >= started}
    records.close()
    for row in rows:
        episode = by_id[row.episode_id]
        assert episode.outcome == "correct" and episode.provenance.image_id and episode.provenance.verifier
        assert episode.used_reference_solution  # the server noticed the hidden reference solution
    # oracle runs carry the pack's hidden reference solutions: exports leave them out unless asked
    from trajectory.export import export

    assert export(run_dir, "sft", tmp_path / "none.jsonl") == 0
    exported = export(pack_home / "medgym.sqlite", "sft", tmp_path / "store.jsonl")
    lines = (tmp_path / "store.jsonl").read_text().splitlines()
    assert exported == len(lines) and not {json.loads(line)["metadata"]["episode_id"] for line in lines} & set(by_id)


def test_a_wrong_agent_scores_zero(pack_home: Path, tmp_path: Path) -> None:
    ids = _sample_tasks(pack_home, tmp_path / "tasks.txt", 4)
    result = _eval(pack_home, tmp_path / "wrong", "--agent", "tests.eval_agents:wrong",
                   "--tasks-file", str(tmp_path / "tasks.txt"), "--samples", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = RunDir(tmp_path / "wrong").rows()
    assert len(rows) == 2 * len(ids) >= 20 and all(r.submitted and not r.correct for r in rows)
    assert all(r.run_code_calls == 1 and r.turns == 2 for r in rows)
    _assert_exports_hold_no_ground_truth(pack_home, tmp_path, tmp_path / "wrong", {r.task_id for r in rows})


def _assert_exports_hold_no_ground_truth(home: Path, tmp_path: Path, run_dir: Path, task_ids: set[str]) -> None:
    from trajectory.export import export

    store = TaskStore.open(home / "medgym.sqlite", Settings(home=home).roots())
    secrets: set[str] = set()
    # key fields the statements show (a FHIR task's MRN, its "now") are no secret
    shown = " ".join(f"{t.question} {t.context or ''}" for t in map(store.get, task_ids))
    for task_id in task_ids:
        key = store.answer_key(task_id).model_dump()
        secrets.add((store.reference_solution(task_id) or "").strip()[:200])
        if key["kind"] == "predictions":  # its threshold and columns are in the statement; its labels are secret
            secrets |= hidden_label_rows(PredictionsKey.model_validate(key))
            continue
        values = [v for k, v in key.items() if k != "kind"]
        secrets |= {str(x) for v in values for x in (v if isinstance(v, list) else [v])
                    if len(str(x)) >= 5 and str(x) not in shown}
        secrets.add((store.reference_solution(task_id) or "").strip()[:200])
    secrets.discard("")
    for source in (run_dir, home / "medgym.sqlite"):
        for kind in ("raw", "dpo", "sft"):
            out = tmp_path / f"export-{kind}.jsonl"
            export(source, kind, out, include_oracle=False)  # type: ignore[arg-type]
            text = out.read_text()
            for line in text.splitlines():
                json.loads(line)
            found = leaked(text, secrets)
            assert not found, (source, kind, found[:3])


def test_openai_agent_tool_loop_turn_limit_and_scoring(pack_home: Path, tmp_path: Path) -> None:
    ids = _sample_tasks(pack_home, tmp_path / "tasks.txt", 2)
    store = TaskStore.open(pack_home / "medgym.sqlite", Settings(home=pack_home).roots())
    solutions = {task_id: store.reference_solution(task_id) or "" for task_id in ids}
    env = _env(pack_home, FAKE_KEY="sk-test-123")
    tasks = ["--tasks-file", str(tmp_path / "tasks.txt")]
    with fake_chat_server(solutions) as (base_url, received):
        common = ["--agent", "openai", "--base-url", base_url, "--api-key-env", "FAKE_KEY", "--max-turns", "3"]
        for model in ("solver", "explorer", "wrong", "chatty", "looper"):
            result = _eval(pack_home, tmp_path / model, *common, "--model", model, *tasks, env=env)
            assert result.returncode == 0, result.stderr[-2000:]
    rows = {model: RunDir(tmp_path / model).rows()
            for model in ("solver", "explorer", "wrong", "chatty", "looper")}
    assert all(r.correct and r.turns == 2 and r.run_code_calls == 1 for r in rows["solver"])
    assert all(r.correct and r.turns == 3 and r.run_code_calls == 1 for r in rows["explorer"])
    for row in rows["explorer"]:  # inspect_data was forwarded: tables for an EHR task, a clear error otherwise
        seen = json.loads(RunDir(tmp_path / "explorer").transcript(row)[3]["content"])
        if row.task_id.startswith("medgym_ehr/"):
            assert any(r[0] == "ADMISSIONS" for r in seen["rows"]), seen
        elif row.task_id.startswith("medgym_predict/"):
            assert any(r[0] == "admissions/X_train" for r in seen["rows"]), seen
        else:
            assert "no data files" in seen["error"], seen
    assert all(r.submitted and not r.correct for r in rows["wrong"])
    assert all(not r.submitted and r.turns == 3 and r.run_code_calls == 0 for r in rows["chatty"])
    assert all(not r.submitted and r.turns == 3 and r.run_code_calls == 3 for r in rows["looper"])
    request = received[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test-123"
    assert {t["function"]["name"] for t in request["body"]["tools"]} == {"run_code", "inspect_data", "submit_answer"}
    assert request["body"]["messages"][0]["role"] == "system"
    transcript = RunDir(tmp_path / "solver").transcript(rows["solver"][0])
    assert [m["role"] for m in transcript] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert "sk-test-123" not in json.dumps(json.loads((tmp_path / "solver" / "metadata.json").read_text()))


def test_concurrency_and_resume_after_a_kill(pack_home: Path, tmp_path: Path) -> None:
    ids = _sample_tasks(pack_home, tmp_path / "tasks.txt", 20)
    run_dir = tmp_path / "resumed"
    command = [MEDGYM, "eval", "--run-dir", str(run_dir), "--quiet", "--agent", "oracle", "--tasks-file",
               str(tmp_path / "tasks.txt"), "--concurrency", "8"]
    first = subprocess.Popen(command, env=_env(pack_home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    results = run_dir / "results.jsonl"
    deadline = time.monotonic() + 300
    while not results.exists() or len(results.read_text().splitlines()) < 15:
        assert first.poll() is None and time.monotonic() < deadline, "the first run ended too early"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_before = {r.key for r in RunDir(run_dir).rows()}
    assert 15 <= len(done_before) < len(ids)
    resumed_at = time.time()
    second = subprocess.run(command, env=_env(pack_home), capture_output=True, text=True, timeout=1200)
    assert second.returncode == 0, second.stderr[-2000:]
    rows = RunDir(run_dir).rows()
    keys = Counter(r.key for r in rows)
    assert len(rows) == len(ids) and max(keys.values()) == 1  # nothing lost, nothing duplicated
    assert all(r.correct for r in rows)
    records = RecordStore(pack_home / "medgym.sqlite")
    rerun = [e for e in records.episodes() if e.started_at >= resumed_at and e.task_id in set(ids)]
    records.close()
    assert len({e.task_id for e in rerun if e.outcome != "unsubmitted"}) == len(ids) - len(done_before)


def test_retry_errors_runs_again_only_the_episodes_that_failed_before_a_verdict(pack_home: Path,
                                                                              tmp_path: Path) -> None:
    run_dir, down = tmp_path / "flaky", tmp_path / "down"
    down.touch()
    env = _env(pack_home, EVAL_AGENT_DOWN=str(down))
    args = ("--agent", "tests.eval_agents:flaky", "--dataset", "medgym_power", "--limit", "2", "--samples", "2")
    first = _eval(pack_home, run_dir, *args, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    failed = RunDir(run_dir).rows()
    assert len(failed) == 4 and all(r.error == "ConnectionError: the model's API is down" and r.retryable
                                    for r in failed)
    assert "4 of them ended before any verdict" in first.stderr and "--retry-errors" in first.stderr
    assert _eval(pack_home, run_dir, *args, env=env).returncode == 0  # a plain resume leaves them be
    assert RunDir(run_dir).history() == failed
    down.unlink()  # the API is back
    retried = _eval(pack_home, run_dir, *args, "--retry-errors", env=env)
    assert retried.returncode == 0, retried.stderr[-2000:]
    rows = RunDir(run_dir).rows()
    assert sorted(r.key for r in rows) == sorted(r.key for r in failed)  # one row per (task, sample)
    assert all(r.error is None and r.submitted and not r.correct for r in rows)
    assert {r.retry_of for r in rows} == {r.episode_id for r in failed}  # each names the row it replaces
    assert len(RunDir(run_dir).history()) == 8  # nothing rewritten
    overall = next(line for line in (run_dir / "summary.md").read_text().splitlines() if line.startswith("| all |"))
    assert overall.startswith("| all | 4 | 2 |") and overall.endswith("| 0 |")  # 4 episodes, no errors left
    again = _eval(pack_home, run_dir, *args, "--retry-errors", env=env)  # nothing left to retry
    assert again.returncode == 0 and len(RunDir(run_dir).history()) == 8 and "failed" not in again.stderr


def test_eval_against_a_running_http_server(http_server: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = _eval(tmp_path, tmp_path / "remote", "--agent", "tests.eval_agents:wrong", "--url", http_server,
                   "--dataset", "npowerai", "--limit", "3", "--concurrency", "3", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = RunDir(tmp_path / "remote").rows()
    assert len(rows) == 3 and all(r.submitted and not r.correct and r.dataset == "npowerai" for r in rows)
    assert json.loads((tmp_path / "remote" / "metadata.json").read_text())["server"]["url"] == http_server


def test_eval_sends_medgym_token_to_a_server_that_wants_one(tmp_path: Path, shared_dir: Path) -> None:
    from tests.test_http_exposure import TOKEN, _start, _wait

    proc, port = _start(tmp_path, shared_dir, "127.0.0.1", {"MEDGYM_TOKEN": TOKEN})
    try:
        _wait(proc, port, tmp_path / "server.log")
        url = f"http://127.0.0.1:{port}/mcp"
        env = {k: v for k, v in os.environ.items() if k != "MEDGYM_TOKEN"}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        args = ("--agent", "tests.eval_agents:wrong", "--url", url, "--dataset", "npowerai", "--limit", "2")
        refused = _eval(tmp_path, tmp_path / "refused", *args, env=env)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        told = f"medgym: {url} wants a bearer token: set MEDGYM_TOKEN to a token it accepts (HTTP 401)"
        assert told in refused.stderr
        wrong = _eval(tmp_path, tmp_path / "wrong", *args, env={**env, "MEDGYM_TOKEN": TOKEN[::-1]})
        assert wrong.returncode == 1 and "it refused MEDGYM_TOKEN (HTTP 401)" in wrong.stderr
        accepted = _eval(tmp_path, tmp_path / "run", *args, env={**env, "MEDGYM_TOKEN": TOKEN})
        assert accepted.returncode == 0, accepted.stderr[-2000:]
        assert len(RunDir(tmp_path / "run").rows()) == 2 and "HTTP Request" not in accepted.stderr
        assert TOKEN not in (tmp_path / "run" / "metadata.json").read_text() + accepted.stderr
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0, (tmp_path / "server.log").read_text()[-3000:]
