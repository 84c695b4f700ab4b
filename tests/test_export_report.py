"""Exports (sft, dpo, raw) from run directories and the record store, run summaries, the HTML report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import pytest

from evaluation.report import write_report
from evaluation.summary import markdown, pass_at_k, summarize, text
from trajectory.export import OutcomeFilter, export
from trajectory.records import EpisodeRecord, EventRecord, Provenance
from trajectory.rundir import ResultRow, RunDir
from trajectory.store import RecordStore
from trajectory.toolspecs import TOOL_SPECS_KEY, openai_specs
from trajectory.transcript import SYSTEM_PROMPT, Message, opening, tool_call, tool_result

CALC, EHR = "medcalcbench/test/6", "mimic_iii/test/1"
# (task, sample, outcome): one success and one failure on EHR, only failures on CALC
PLAN = [(EHR, 0, "correct"), (EHR, 1, "incorrect"), (CALC, 0, "unsubmitted"), (CALC, 1, "error")]
ODD = "ehr<shot>/test/9"
CATEGORY = {CALC: "lab <values> & ratios", EHR: "count", ODD: "misc"}
INPUT_ERROR = "answer must be a single number"


def _server_specs() -> list[dict[str, Any]]:
    """The agent tools' specs as the server publishes them (no lifespan needed to list tools)."""
    from mcp_server.app import build_server
    from mcp_server.settings import Settings

    tools = anyio.run(build_server(Settings(pack=False)).mcp.list_tools)
    return openai_specs(tool.model_dump(by_alias=True) for tool in tools)


TOOL_SPECS = _server_specs()


def view(task_id: str, episode_id: str) -> dict[str, Any]:
    dataset, split, _ = task_id.split("/")
    return {
        "task_id": task_id, "dataset": dataset, "split": split, "category": CATEGORY[task_id], "title": "t",
        "instructions": "Use the data.", "question": f"What is the value for {task_id}?", "context": None,
        "data_files": [{"path": f"/data/{dataset}/x.csv", "description": "a table"}],
        "answer_format": {"kind": "number", "how_to_submit": "a single number"},
        "episode_id": episode_id, "episode_active": True, "attempts_used": 0, "attempts_left": 1,
    }


def steps(outcome: str, episode_id: str) -> list[tuple[str, dict[str, Any], dict[str, Any] | None, str | None]]:
    """(tool, arguments the model typed, result, error) of an episode with this outcome."""
    ran = {"exit_code": 0, "stdout": "84\n", "stderr": "", "duration_ms": 12.5, "timed_out": False,
           "oom_killed": False, "output_truncated": False, "episode_id": episode_id}
    out: list[tuple[str, dict[str, Any], dict[str, Any] | None, str | None]] = [
        ("run_code", {"code": "print(84)", "timeout_s": 30.0}, ran, None)]
    if outcome in ("correct", "incorrect"):
        good = outcome == "correct"
        verdict = {"correct": good, "score": float(good), "feedback": "ok" if good else "not within range",
                   "attempts_used": 1, "attempts_left": 0, "episode_id": episode_id, "episode_ended": True}
        out += [("submit_answer", {"answer": "eighty"}, None, INPUT_ERROR),
                ("submit_answer", {"answer": 84 if good else 12}, verdict, None)]
    return out


def transcript(task_id: str, episode_id: str, outcome: str) -> list[Message]:
    messages = opening(view(task_id, episode_id))
    for number, (tool, arguments, result, error) in enumerate(steps(outcome, episode_id), start=1):
        messages += [tool_call(f"call_{number}", tool, arguments),
                     tool_result(f"call_{number}", result if result is not None else {"error": error})]
    return messages


def make_run(path: Path, plan: list[tuple[str, int, str]], agent: dict[str, Any] | None = None) -> Path:
    run = RunDir(path)
    run.create()
    run.write_metadata({"agent": agent or {"kind": "openai", "model": "gpt-test"}, "samples": 2})
    run.write_tool_specs(TOOL_SPECS)
    for task_id, sample, outcome in plan:
        episode_id = f"{path.name}-{task_id.replace('/', '-')}-{sample}"
        relative = run.write_transcript(episode_id, transcript(task_id, episode_id, outcome))
        run.append(ResultRow(
            task_id=task_id, sample=sample, episode_id=episode_id, dataset=task_id.split("/")[0], split="test",
            category=CATEGORY[task_id], agent=(agent or {}).get("kind", "openai"), submitted=outcome in
            ("correct", "incorrect"), correct=outcome == "correct", turns=len(steps(outcome, episode_id)),
            run_code_calls=1, duration_s=2.0 + sample, error="agent crashed" if outcome == "error" else None,
            transcript=relative))
    return path


def make_store(path: Path, plan: list[tuple[str, int, str]]) -> Path:
    store = RecordStore(path)
    store.set_meta(TOOL_SPECS_KEY, json.dumps(TOOL_SPECS))
    provenance = Provenance(medgym_version="0.1.0", image="medgym-sandbox:test", max_attempts=1)
    for number, (task_id, sample, outcome) in enumerate(plan):
        episode_id = f"ep-{task_id.replace('/', '-')}-{sample}"
        store.put(EpisodeRecord(episode_id=episode_id, task_id=task_id, dataset=task_id.split("/")[0], client="c",
                                started_at=1000.0 + number, ended_at=1010.0 + number, outcome=outcome,
                                provenance=provenance))
        events: list[tuple[str, dict[str, Any], dict[str, Any] | None, str | None]] = [
            ("get_task", {"task_id": task_id, "new_episode": True}, view(task_id, episode_id), None)]
        events += [(tool, {**arguments, "task_id": task_id, "episode_id": episode_id}, result, error)
                   for tool, arguments, result, error in steps(outcome, episode_id)]
        events.append(("reset_task", {"task_id": task_id}, {"task_id": task_id, "episode_id": "next"}, None))
        for seq, (tool, arguments, result, error) in enumerate(events, start=1):
            store.put(EventRecord(episode_id=episode_id, seq=seq, at=1000.0 + seq, tool=tool, arguments=arguments,
                                  result=result, error=error, error_kind="input" if error else None, duration_ms=1.0))
    store.close()
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "runs" / "run-a", PLAN)


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    return make_store(tmp_path / "medgym.sqlite", PLAN)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_conversation(messages: list[Message]) -> None:
    """system, user, then assistant tool calls each answered by a tool message with the same id."""
    assert [m["role"] for m in messages[:2]] == ["system", "user"] and messages[0]["content"] == SYSTEM_PROMPT
    rest = messages[2:]
    assert rest and [m["role"] for m in rest] == ["assistant", "tool"] * (len(rest) // 2)
    for call, answer in zip(rest[::2], rest[1::2], strict=True):
        assert set(call) == {"role", "content", "tool_calls"} and set(answer) == {"role", "tool_call_id", "content"}
        (only,) = call["tool_calls"]
        assert only["id"] == answer["tool_call_id"] and only["type"] == "function"
        arguments = json.loads(only["function"]["arguments"])
        assert "task_id" not in arguments and "episode_id" not in arguments
        json.loads(answer["content"])
    assert [c["tool_calls"][0]["id"] for c in rest[::2]] == [f"call_{i}" for i in range(1, len(rest) // 2 + 1)]


# -- exports ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["run", "store"])
def test_sft_holds_each_successful_episode_as_a_conversation(
    source: str, run_dir: Path, store_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sft.jsonl"
    assert export(run_dir if source == "run" else store_file, "sft", out) == 1
    (line,) = lines(out)
    assert set(line) == {"messages", "tools", "metadata"} and line["tools"] == TOOL_SPECS
    assert line["metadata"]["task_id"] == EHR and line["metadata"]["dataset"] == "mimic_iii"
    assert set(line["metadata"]) == {"task_id", "dataset", "episode_id", "group_id", "source"}
    assert line["metadata"]["source"] == ("run:run-a" if source == "run" else "store:medgym.sqlite")
    check_conversation(line["messages"])
    assert line["messages"] == transcript(EHR, line["metadata"]["episode_id"], "correct")
    assert json.loads(line["messages"][5]["content"]) == {"error": INPUT_ERROR}  # a tool error, as the model saw it


@pytest.mark.parametrize("source", ["run", "store"])
def test_dpo_pairs_a_failure_with_a_success_of_the_same_task(
    source: str, run_dir: Path, store_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dpo.jsonl"
    assert export(run_dir if source == "run" else store_file, "dpo", out) == 1  # only EHR has both
    (pair,) = lines(out)
    assert set(pair) == {"prompt", "chosen", "rejected", "metadata"}
    assert [m["role"] for m in pair["prompt"]] == ["system", "user"]
    check_conversation(pair["prompt"] + pair["chosen"])
    check_conversation(pair["prompt"] + pair["rejected"])
    assert json.loads(pair["chosen"][-1]["content"])["correct"] is True
    assert json.loads(pair["rejected"][-1]["content"])["correct"] is False
    meta = pair["metadata"]
    assert set(meta) == {"task_id", "dataset", "chosen_episode_id", "rejected_episode_id", "chosen_group_id",
                         "rejected_group_id", "same_group", "source"}
    assert meta["task_id"] == EHR
    assert meta["chosen_episode_id"].endswith("-0") and meta["rejected_episode_id"].endswith("-1")


def test_dpo_pairs_round_robin_in_a_fixed_order(tmp_path: Path) -> None:
    plan = [(CALC, 0, "incorrect"), (CALC, 1, "correct"), (CALC, 2, "unsubmitted"), (CALC, 3, "correct"),
            (CALC, 4, "incorrect"), (CALC, 5, "error")]
    out = tmp_path / "dpo.jsonl"
    assert export(make_run(tmp_path / "r", plan), "dpo", out) == 3
    pairs = [(p["metadata"]["chosen_episode_id"][-1], p["metadata"]["rejected_episode_id"][-1]) for p in lines(out)]
    assert pairs == [("1", "0"), ("3", "2"), ("1", "4")]


def test_raw_from_a_run_directory(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw.jsonl"
    assert export(run_dir, "raw", out) == 4
    records = lines(out)
    assert all(set(r) == {"result", "messages"} for r in records)
    keys = [(r["result"]["task_id"], r["result"]["sample"]) for r in records]
    assert keys == [(CALC, 0), (CALC, 1), (EHR, 0), (EHR, 1)]  # in task and sample order
    for record in records:
        check_conversation(record["messages"])
        assert ResultRow.model_validate(record["result"]).episode_id in record["result"]["transcript"]


def test_raw_from_the_store(store_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw.jsonl"
    assert export(store_file, "raw", out) == 4
    records = lines(out)
    assert all(set(r) == {"episode", "events"} for r in records)
    first = records[0]
    assert first["episode"]["task_id"] == EHR and first["episode"]["outcome"] == "correct"
    tools = [e["tool"] for e in first["events"]]
    assert tools == ["get_task", "run_code", "submit_answer", "submit_answer", "reset_task"]


@pytest.mark.parametrize("source", ["run", "store"])
def test_filters_by_dataset_and_outcome(source: str, run_dir: Path, store_file: Path, tmp_path: Path) -> None:
    path, out = (run_dir if source == "run" else store_file), tmp_path / "out.jsonl"
    assert export(path, "raw", out, dataset="mimic_iii") == 2
    assert export(path, "raw", out, dataset="nope") == 0 and out.read_text() == ""
    outcomes: list[tuple[OutcomeFilter, str]] = [
        ("correct", EHR), ("incorrect", EHR), ("unsubmitted", CALC), ("error", CALC)]
    for outcome, expected in outcomes:
        assert export(path, "raw", out, outcome=outcome) == 1
        (record,) = lines(out)
        task_id = record["result"]["task_id"] if source == "run" else record["episode"]["task_id"]
        assert task_id == expected
    assert export(path, "sft", out, outcome="incorrect") == 0
    with pytest.raises(ValueError, match="unknown outcome"):
        export(path, "raw", out, outcome="wrong")  # type: ignore[arg-type]


def test_a_folder_of_runs_skips_the_oracle_and_selects_by_name(run_dir: Path, tmp_path: Path) -> None:
    runs, out = run_dir.parent, tmp_path / "out.jsonl"
    make_run(runs / "run-b", [(CALC, 0, "correct")])
    make_run(runs / "run-oracle", [(EHR, 0, "correct"), (CALC, 0, "correct")], agent={"kind": "oracle"})
    (runs / "notes").mkdir()
    assert export(runs, "raw", out) == 5
    assert not any(r["result"]["episode_id"].startswith("run-oracle") for r in lines(out))
    assert export(runs, "sft", out) == 2
    assert export(runs, "sft", out, include_oracle=True) == 4
    assert export(runs, "raw", out, run="run-b") == 1 and lines(out)[0]["result"]["episode_id"].startswith("run-b")
    assert export(runs / "run-oracle", "sft", out) == 0
    assert export(runs / "run-oracle", "sft", out, include_oracle=True) == 2
    with pytest.raises(ValueError, match="run-z"):
        export(runs, "raw", out, run="run-z")
    assert sorted(p.name for p in tmp_path.glob("out.jsonl*")) == ["out.jsonl"]  # no partial file left


def test_not_a_source(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match="neither"):
        export(tmp_path / "x.txt", "raw", tmp_path / "o.jsonl")
    with pytest.raises(FileNotFoundError):
        export(tmp_path / "missing", "raw", tmp_path / "o.jsonl")


# -- summary ----------------------------------------------------------------------------------------
def test_pass_at_k_by_hand() -> None:
    assert pass_at_k(5, 2, 3) == pytest.approx(1 - 1 / 10)  # 1 - C(3,3)/C(5,3)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(2, 1, 2) == 1.0 and pass_at_k(3, 0, 2) == 0.0 and pass_at_k(4, 1, 1) == 0.25
    assert pass_at_k(1, 1, 5) == 1.0  # fewer samples than k: solved if any sample is


def test_summary_numbers(run_dir: Path) -> None:
    summary = summarize(RunDir(run_dir).rows())
    assert summary.k == 2
    overall = summary.overall
    assert (overall.episodes, overall.tasks, overall.errors) == (4, 2, 1)
    assert overall.accuracy == 0.25 and overall.pass_at_1 == 0.25 and overall.pass_at_k == 0.5
    assert overall.total_time_s == 10.0 and overall.mean_time_s == 2.5 and overall.mean_run_code_calls == 1.0
    assert overall.mean_turns == pytest.approx((3 + 3 + 1 + 1) / 4)
    by_dataset = {s.dataset: s for s in summary.datasets}
    assert by_dataset["mimic_iii"].accuracy == 0.5 and by_dataset["mimic_iii"].pass_at_k == 1.0
    assert by_dataset["medcalcbench"].accuracy == 0.0 and by_dataset["medcalcbench"].errors == 1
    assert [(s.dataset, s.category) for s in summary.categories] == [
        ("medcalcbench", CATEGORY[CALC]), ("mimic_iii", "count")]


def test_summary_renderings(run_dir: Path) -> None:
    summary = summarize(RunDir(run_dir).rows())
    md = markdown(summary, "Run a")
    assert md.startswith("# Run a")
    assert "| Dataset | Episodes | Tasks | Accuracy | pass@1 | pass@2 |" in md
    assert "| mimic_iii | 2 | 1 | 50.0% | 50.0% | 100.0% |" in md
    assert "| all | 4 | 2 | 25.0% | 25.0% | 50.0% |" in md
    plain = text(summary, "Run a")
    assert "mimic_iii" in plain and "50.0%" in plain and "|" not in plain
    assert "pass@2" not in markdown(summarize([]), "empty")


# -- report -----------------------------------------------------------------------------------------
def test_report_is_self_contained_with_one_bar_per_run_and_dataset(run_dir: Path, tmp_path: Path) -> None:
    other = make_run(tmp_path / "runs" / "run-b", [(EHR, 0, "correct"), (ODD, 0, "incorrect")],
                     agent={"kind": "<script>alert(1)</script>", "model": "m&m"})
    report = write_report([run_dir, other], tmp_path / "report" / "index.html")
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<svg" in page and "</svg>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<link" not in page and "<script" not in page and "@import" not in page and "url(" not in page
    assert page.count('class="bar"') == 2 + 2  # each run has two datasets, of three in all
    assert page.count(">n/a</text>") == 2  # no bar where a run has no episode of a dataset
    assert "ehr&lt;shot&gt;" in page and "ehr<shot>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (m&amp;m)" in page and "openai (gpt-test)" in page
    assert "lab &lt;values&gt; &amp; ratios" in page and "<details>" in page
    assert page.count('class="swatch"') == 2


def test_an_episode_opened_before_the_image_was_known_records_it_at_its_end(tmp_path: Path) -> None:
    """The server looks its image up in the background; an episode that started meanwhile still names it."""
    from trajectory.recorder import Recorder

    store = RecordStore(tmp_path / "medgym.sqlite")
    recorder = Recorder(store, Provenance(medgym_version="0", image="medgym-sandbox:0", max_attempts=1))
    recorder.opened("e1", "medgym_calc/test/a", None, "medcalc_range")
    recorder.note_image_id("sha256:abc")
    recorder.ended("e1", "final_submission", True, 1, 1)
    (episode,) = list(store.episodes())
    assert episode.provenance.image_id == "sha256:abc" and episode.provenance.verifier == "medcalc_range"
    store.close()
