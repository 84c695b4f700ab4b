"""Training data without Docker: token capture parsing and export, `medgym rescore`, verifier versions in
verdicts, ATIF exports validated against Harbor's schema, and groups in exports and DPO pairs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import tests.test_export_report as fixtures
from evaluation.tokens import CAPTURE_FIELDS, turn_tokens
from medgym.errors import UnknownTaskError
from scoring.keys import AnswerKey, ItemSetKey, RangeKey, UnscorableKey
from scoring.prediction_keys import InlineLabels, PredictionsKey
from scoring.verify import VERIFIER_NAMES
from scoring.versions import VERIFIER_VERSIONS
from tests.fake_chat import _reply, _with_tokens
from trajectory.export import export
from trajectory.recorder import Recorder
from trajectory.records import EpisodeRecord, EventRecord, Provenance, Verdict
from trajectory.rescore_store import changes, rescore_source, stored_rescores
from trajectory.rundir import RunDir
from trajectory.store import RecordStore
from trajectory.turns import CallTiming, Turn, TurnLog, TurnTokens, write_turns

SCHEMA = json.loads((Path(__file__).parent / "data" / "atif-v1.8.schema.json").read_text())
CALC, EHR = fixtures.CALC, fixtures.EHR
PROVENANCE = Provenance(medgym_version="0.1.0", image="medgym-sandbox:test", max_attempts=1)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- token capture ----------------------------------------------------------------------------------
def test_turn_tokens_reads_vllm_responses() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], **CAPTURE_FIELDS}
    reply = _with_tokens(_reply({"role": "assistant", "content": "42"}), body)
    tokens = turn_tokens(reply)
    assert tokens.prompt_token_ids == reply["prompt_token_ids"] and tokens.prompt_token_ids
    assert tokens.completion_token_ids == reply["choices"][0]["token_ids"]
    assert tokens.logprobs == [e["logprob"] for e in reply["choices"][0]["logprobs"]["content"]]
    assert tokens.prompt_tokens == len(tokens.prompt_token_ids)
    del reply["choices"][0]["token_ids"]  # a vLLM without return_token_ids: ids from `token_id:<id>` tokens
    assert turn_tokens(reply).completion_token_ids == tokens.completion_token_ids
    plain = _with_tokens(_reply({"role": "assistant", "content": "42"}), {"messages": [], "logprobs": True})
    assert turn_tokens(plain).completion_token_ids is None and turn_tokens(plain).logprobs
    assert not turn_tokens(_reply({"role": "assistant", "content": "42"})).has_ids()


def _captured(run: Path) -> dict[str, TurnLog]:
    """Give every assistant turn of a run captured tokens and timings, as `medgym eval --capture-tokens` does."""
    logs = {}
    for row in RunDir(run).rows():
        messages = RunDir(run).transcript(row)
        log = TurnLog()
        for index, message in enumerate(messages):
            if message["role"] == "assistant":
                ids = [index, index + 1, index + 2]
                log.turns.append(Turn(message_index=index, at=1_700_000_000.0 + index, latency_ms=12.5, model="m",
                                      tokens=TurnTokens(prompt_token_ids=list(range(index * 10)),
                                                        completion_token_ids=ids, logprobs=[-0.5] * 3,
                                                        prompt_tokens=index * 10, completion_tokens=3)))
                call_id = message["tool_calls"][0]["id"]
                log.calls.append(CallTiming(tool_call_id=call_id, at=1_700_000_000.5 + index, duration_ms=7.0))
        write_turns(run / str(row.transcript), log)
        logs[row.episode_id] = log
    return logs


def test_exports_keep_captured_tokens_per_assistant_turn_beside_the_messages(tmp_path: Path) -> None:
    run = fixtures.make_run(tmp_path / "run", fixtures.PLAN)
    logs = _captured(run)
    out = tmp_path / "out.jsonl"
    assert export(run, "sft", out) == 1
    (line,) = lines(out)
    log = logs[line["metadata"]["episode_id"]]
    assert [t["message_index"] for t in line["tokens"]] == [t.message_index for t in log.turns] == [2, 4, 6]
    assert all(line["messages"][t["message_index"]]["role"] == "assistant" for t in line["tokens"])
    assert line["tokens"][0]["completion_token_ids"] == [2, 3, 4] and line["tokens"][0]["logprobs"] == [-0.5] * 3
    fixtures.check_conversation(line["messages"])  # the messages themselves carry no token fields
    assert export(run, "dpo", out) == 1
    (pair,) = lines(out)
    for side in ("chosen", "rejected"):  # indices count in prompt + chosen / prompt + rejected
        conversation = pair["prompt"] + pair[side]
        assert all(conversation[t["message_index"]]["role"] == "assistant" for t in pair[f"{side}_tokens"])
    assert export(run, "raw", out) == 4 and all("tokens" in record for record in lines(out))
    plain = fixtures.make_run(tmp_path / "plain", fixtures.PLAN)  # nothing captured: no tokens key at all
    assert export(plain, "sft", out) == 1 and "tokens" not in lines(out)[0]


# -- verifier versions ---------------------------------------------------------------------------------
def test_every_verifier_has_a_version_and_verdict_events_name_theirs(tmp_path: Path) -> None:
    assert set(VERIFIER_VERSIONS) == set(VERIFIER_NAMES.values())
    store = RecordStore(tmp_path / "medgym.sqlite")
    recorder = Recorder(store, PROVENANCE)
    recorder.opened("ep1", CALC, "client", "medcalc_range")
    verdict = {"correct": True, "score": 1.0, "feedback": "ok", "attempts_used": 1, "attempts_left": 0,
               "episode_id": "ep1", "episode_ended": True}
    recorder.event("ep1", "submit_answer", {"answer": 3}, _Payload(verdict), None, None, 1.0)
    recorder.event("ep1", "submit_answer", {"answer": 3, "dry_run": True},
                   _Payload({**verdict, "correct": None, "score": None, "dry_run": True}), None, None, 1.0)
    trajectory = store.trajectory("ep1")
    store.close()
    assert trajectory is not None
    assert trajectory.episode.provenance.verifier == "medcalc_range"
    assert trajectory.episode.provenance.verifier_version == VERIFIER_VERSIONS["medcalc_range"]
    scored, dry = trajectory.events
    assert scored.verdict == Verdict(correct=True, score=1.0, feedback="ok", verifier="medcalc_range",
                                     verifier_version=VERIFIER_VERSIONS["medcalc_range"])
    assert dry.verdict is None


class _Payload:
    def __init__(self, data: dict[str, Any]):
        self.data = data

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return dict(self.data)


# -- rescore --------------------------------------------------------------------------------------------
KEYS: dict[str, AnswerKey] = {
    "medgym_calc/test/a": RangeKey(lower=10, upper=12), "medgym_calc/test/b": RangeKey(lower=10, upper=12),
    "medgym_ehr/test/c": ItemSetKey(items=["7"]), "medgym_predict/test/d": PredictionsKey(
        id_columns=["id"], threshold=0.7, threshold_rule="fixed", labels=InlineLabels(ids=["1"], hidden_labels=[1])),
    "biocoder/test/e": UnscorableKey(reason="code needs a grader"), "medgym_calc/test/f": RangeKey(lower=1, upper=2),
    "medgym_calc/test/g": RangeKey(lower=1, upper=2), "medgym_calc/test/h": RangeKey(lower=1, upper=2),
}
# task -> (outcome, recorded answer, recorded verdict correct) of its one episode
PLAN: dict[str, tuple[str, Any, bool | None]] = {
    "medgym_calc/test/a": ("correct", 11, True),          # still correct
    "medgym_calc/test/b": ("incorrect", 11.5, False),     # the key (or verifier) changed: now correct
    "medgym_ehr/test/c": ("correct", ["8"], True),        # now incorrect
    "medgym_predict/test/d": ("incorrect", "predictions.csv", False),  # graded from the sandbox: left
    "biocoder/test/e": ("incorrect", "def f(): pass", False),  # unscorable now: left, never a 0
    "medgym_calc/test/f": ("error", 3, None),             # the verifier failed then: stays an error
    "medgym_calc/test/g": ("unsubmitted", None, None),    # no final verdict: left
    "medgym_calc/test/h": ("incorrect", "twelve", False),  # the current verifier cannot read it: left
}


def _store(path: Path) -> Path:
    store = RecordStore(path)
    for number, (task_id, (outcome, answer, correct)) in enumerate(PLAN.items()):
        episode_id = f"ep{number}"
        store.put(EpisodeRecord(episode_id=episode_id, task_id=task_id, dataset=task_id.split("/")[0], client="c",
                                started_at=100.0 + number, outcome=outcome,
                                provenance=PROVENANCE.model_copy(update={"verifier": "old_rule"})))
        if outcome == "unsubmitted":
            continue
        verdict = None if correct is None else Verdict(correct=correct, score=float(correct), feedback="then",
                                                       verifier="old_rule", verifier_version="0")
        store.put(EventRecord(episode_id=episode_id, seq=1, at=100.0, tool="submit_answer",
                              arguments={"task_id": task_id, "answer": answer, "episode_id": episode_id},
                              result=None if verdict is None else {"correct": correct}, duration_ms=1.0,
                              error="verifier failed" if verdict is None else None,
                              error_kind="verifier" if verdict is None else None, verdict=verdict))
    store.close()
    return path


def _key_of(task_id: str) -> AnswerKey:
    if task_id not in KEYS:
        raise UnknownTaskError(task_id)
    return KEYS[task_id]


def _dump(path: Path) -> list[Any]:
    conn = sqlite3.connect(path)
    try:
        return [conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in ("episodes", "events")]
    finally:
        conn.close()


def test_rescore_a_store_writes_new_verdicts_beside_the_old_and_never_a_zero_for_what_it_cannot_score(
        tmp_path: Path) -> None:
    path = _store(tmp_path / "medgym.sqlite")
    before = _dump(path)
    run_id, results = rescore_source(path, _key_of, "official")
    by_task = {r.task_id: r for r in results}
    assert {t: r.status for t, r in by_task.items()} == {
        "medgym_calc/test/a": "rescored", "medgym_calc/test/b": "rescored", "medgym_ehr/test/c": "rescored",
        "medgym_predict/test/d": "not_rescorable", "biocoder/test/e": "unscorable",
        "medgym_calc/test/f": "error_episode", "medgym_calc/test/g": "no_final_verdict",
        "medgym_calc/test/h": "format_error"}
    assert [by_task[t].new_correct for t in ("medgym_calc/test/a", "medgym_calc/test/b", "medgym_ehr/test/c")] == [
        True, True, False]
    assert all(r.new_correct is None and r.new_score is None for r in results if r.status != "rescored")
    rescored = by_task["medgym_calc/test/b"]
    assert (rescored.old_correct, rescored.old_verifier, rescored.old_verifier_version) == (False, "old_rule", "0")
    assert (rescored.verifier, rescored.verifier_version) == ("medcalc_range", VERIFIER_VERSIONS["medcalc_range"])
    assert "sandbox" in str(by_task["medgym_predict/test/d"].reason)
    assert _dump(path) == before  # history untouched
    rescore_source(path, _key_of, "audited")
    kept = stored_rescores(path)
    assert len(kept) == 2 * len(PLAN) and {r.labels for _, r in kept} == {"official", "audited"}
    assert {run for run, _ in kept} >= {run_id}
    summary = {c.dataset: c for c in changes(results)}
    calc = summary["medgym_calc"]
    assert (calc.episodes, calc.rescored, calc.unchanged, calc.to_correct, calc.to_incorrect) == (5, 2, 1, 1, 0)
    assert calc.left == {"error_episode": 1, "no_final_verdict": 1, "format_error": 1}
    assert summary["medgym_ehr"].to_incorrect == 1 and summary["biocoder"].left == {"unscorable": 1}


def test_rescore_a_run_directory_appends_beside_its_results(tmp_path: Path) -> None:
    run = fixtures.make_run(tmp_path / "run", fixtures.PLAN)
    results_before = (run / "results.jsonl").read_text()
    keys = {EHR: RangeKey(lower=83, upper=85), CALC: RangeKey(lower=0, upper=1)}
    _, results = rescore_source(run, keys.__getitem__, "official")
    by_sample = {(r.task_id, r.where): r for r in results}
    correct, incorrect = by_sample[(EHR, "sample 0")], by_sample[(EHR, "sample 1")]
    assert (correct.status, correct.old_correct, correct.new_correct) == ("rescored", True, True)
    assert (incorrect.status, incorrect.old_correct, incorrect.new_correct) == ("rescored", False, False)
    assert by_sample[(CALC, "sample 0")].status == "no_final_verdict"
    assert by_sample[(CALC, "sample 1")].status == "error_episode"
    assert (run / "results.jsonl").read_text() == results_before
    kept = lines(run / "rescores.jsonl")
    assert len(kept) == 4 and all(k["run_id"].startswith("rescore_") for k in kept)


def test_rescore_command_scores_recorded_answers_against_the_pack_keys(pack_home: Path, tmp_path: Path) -> None:
    from mcp_server.settings import Settings
    from medgym_cli.certify import select
    from medgym_cli.main import main
    from task_store.store import TaskStore

    store = TaskStore.open(pack_home / "medgym.sqlite", Settings(home=pack_home).roots())
    task = select(store, "medgym_calc", 1)[0]
    key = store.answer_key(task.task_id)
    assert isinstance(key, RangeKey)
    path = tmp_path / "records.sqlite"
    records = RecordStore(path)
    for number, (answer, then) in enumerate([((key.lower + key.upper) / 2, False), (abs(key.upper) * 10 + 1e3, True)]):
        episode_id = f"ep{number}"
        records.put(EpisodeRecord(episode_id=episode_id, task_id=task.task_id, dataset="medgym_calc", client="c",
                                  started_at=float(number), outcome="correct" if then else "incorrect",
                                  provenance=PROVENANCE))
        records.put(EventRecord(episode_id=episode_id, seq=1, at=1.0, tool="submit_answer", duration_ms=1.0,
                                arguments={"answer": answer}, result={"correct": then},
                                verdict=Verdict(correct=then, score=float(then), feedback="then")))
    records.close()
    out = tmp_path / "rescores.jsonl"
    assert main(["rescore", str(path), "--home", str(pack_home), "--json", str(out)]) == 0
    assert [(r["old_correct"], r["new_correct"]) for r in lines(out)] == [(False, True), (True, False)]
    assert all(str(key.lower) not in r["new_feedback"] for r in lines(out))  # feedback never quotes the key


# -- ATIF ------------------------------------------------------------------------------------------------
def check_atif(document: dict[str, Any]) -> None:
    """Harbor's schema, and the rules its models check beyond it."""
    jsonschema.validate(document, SCHEMA)
    steps = document["steps"]
    assert [s["step_id"] for s in steps] == list(range(1, len(steps) + 1))
    for step in steps:
        if step["source"] != "agent":
            assert not {"model_name", "reasoning_effort", "reasoning_content", "tool_calls", "metrics"} & set(step)
        if step.get("llm_call_count") == 0:
            assert "metrics" not in step and "reasoning_content" not in step
        ids = {c["tool_call_id"] for c in step.get("tool_calls") or []}
        for result in (step.get("observation") or {}).get("results", []):
            assert result.get("source_call_id") is None or result["source_call_id"] in ids


@pytest.mark.parametrize("source", ["run", "store"])
def test_atif_export_validates_and_carries_calls_observations_timings_tokens_and_reward(
        source: str, tmp_path: Path) -> None:
    run = fixtures.make_run(tmp_path / "run", fixtures.PLAN)
    if source == "run":
        _captured(run)
    path = run if source == "run" else fixtures.make_store(tmp_path / "medgym.sqlite", fixtures.PLAN)
    out = tmp_path / "atif.jsonl"
    assert export(path, "atif", out) == 4
    documents = lines(out)
    for document in documents:
        check_atif(document)
        assert document["schema_version"] == "ATIF-v1.8" and document["agent"]["tool_definitions"]
        assert [s["source"] for s in document["steps"][:2]] == ["system", "user"]
    medgym = {d["extra"]["medgym"]["episode_id"]: d["extra"]["medgym"] for d in documents}
    assert sorted((m["outcome"], m["reward"]) for m in medgym.values()) == sorted(
        [("correct", 1.0), ("incorrect", 0.0), ("unsubmitted", None), ("error", None)])
    won = next(d for d in documents if d["extra"]["medgym"]["outcome"] == "correct")
    assert won["extra"]["medgym"]["verdict"] == {"correct": True, "score": 1.0, "feedback": "ok"}
    agent_steps = [s for s in won["steps"] if s["source"] == "agent"]
    assert [c["function_name"] for s in agent_steps for c in s["tool_calls"]] == [
        "run_code", "submit_answer", "submit_answer"]
    first = agent_steps[0]
    assert first["tool_calls"][0]["arguments"] == {"code": "print(84)", "timeout_s": 30.0}
    assert json.loads(first["observation"]["results"][0]["content"])["stdout"] == "84\n"
    assert all("timestamp" in s and "duration_ms" in s["observation"]["results"][0]["extra"] for s in agent_steps)
    if source == "run":
        assert won["agent"]["model_name"] == "gpt-test"
        assert first["metrics"]["completion_token_ids"] == [2, 3, 4] and first["metrics"]["logprobs"] == [-0.5] * 3
        assert first["llm_call_count"] == 1 and won["final_metrics"]["total_completion_tokens"] == 9
    else:
        assert "metrics" not in first and "llm_call_count" not in first  # the server never sees the model


# -- groups ----------------------------------------------------------------------------------------------
def _grouped_run(path: Path, plan: list[tuple[str, int, str, str | None]]) -> Path:
    fixtures.make_run(path, [(t, k, o) for t, k, o, _ in plan])
    run = RunDir(path)
    rows = run.rows()
    run.results_path.write_text("".join(row.model_copy(update={"group_id": g, "ordinal": k + 1}).model_dump_json()
                                        + "\n" for row, (_, k, _, g) in zip(rows, plan, strict=True)))
    return path


def test_dpo_pairs_within_groups_first_then_across_and_exports_carry_the_group(tmp_path: Path) -> None:
    plan = [(EHR, 0, "correct", "g1"), (EHR, 1, "incorrect", "g1"), (EHR, 2, "correct", "g2"),
            (EHR, 3, "incorrect", "g2"), (EHR, 4, "unsubmitted", "g3"), (EHR, 5, "incorrect", "g2")]
    run = _grouped_run(tmp_path / "grouped", plan)
    out = tmp_path / "dpo.jsonl"
    assert export(run, "dpo", out, include_samples=True) == 4
    pairs = [(p["metadata"]["chosen_episode_id"][-1], p["metadata"]["rejected_episode_id"][-1],
              p["metadata"]["same_group"]) for p in lines(out)]
    # g1 and g2 losers get their group's winner; g3 has none: paired across, round-robin over all winners
    assert pairs == [("0", "1", True), ("2", "3", True), ("0", "4", False), ("2", "5", True)]
    assert {(p["metadata"]["chosen_group_id"], p["metadata"]["rejected_group_id"]) for p in lines(out)} == {
        ("g1", "g1"), ("g2", "g2"), ("g1", "g3")}
    assert export(run, "sft", out, include_samples=True) == 2
    assert [line["metadata"]["group_id"] for line in lines(out)] == ["g1", "g2"]
    assert export(run, "atif", out, include_samples=True) == 6
    assert [d["extra"]["medgym"]["group_id"] for d in lines(out)] == [g for *_, g in plan]
    assert export(run, "sft", out) == 1  # by default: the first episode and its group (g1) only


def test_store_exports_carry_the_recorded_group(tmp_path: Path) -> None:
    path = fixtures.make_store(tmp_path / "medgym.sqlite", fixtures.PLAN)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE episodes SET group_id='run-a/' || task_id")
    conn.commit()
    conn.close()
    out = tmp_path / "out.jsonl"
    assert export(path, "sft", out) == 1 and lines(out)[0]["metadata"]["group_id"] == f"run-a/{EHR}"
    assert export(path, "raw", out) == 4 and {r["episode"]["group_id"] for r in lines(out)} == {
        f"run-a/{EHR}", f"run-a/{CALC}"}
