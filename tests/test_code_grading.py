"""Code answers graded through the MCP tools in fresh grader sandboxes (real Docker).

BioCoder-style (a function spliced into a hidden harness) and BioDSBench-style (analysis code, then
hidden asserts), on the built-in `medgym_bio` pack: correct, wrong, crash, timeout and format error;
the grader containers are gone afterwards; the agent's sandbox is untouched; nothing hidden appears
in a tool result, the agent's sandbox, a log line, a record or an export.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server.app import ServerHandle, build_server
from mcp_server.settings import Settings
from sandbox.limits import Limits
from task_store.store import TaskFilter, TaskStore
from tests.conftest import IMAGE
from tests.leaks import assert_no_code_secrets, assert_no_ground_truth, code_key_secrets
from tests.mcp_calls import call_error, call_ok
from trajectory.export import export
from trajectory.store import RecordStore

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready", "no_leftover_containers")]

GRADE_TIMEOUT_S = 8.0
TIMINGS: dict[str, list[float]] = {}


def _settings(home: Path, **extra: Any) -> Settings:
    # grader runs are capped at max_timeout_s, so an endless loop is cut after 8 s
    limits = Limits(default_timeout_s=GRADE_TIMEOUT_S, max_timeout_s=GRADE_TIMEOUT_S, max_output_bytes=4 << 20)
    return Settings(home=home, image=IMAGE, limits=limits, max_attempts=10, **extra)


def _task(home: Path, category: str) -> str:
    store = TaskStore.open(home / "medgym.sqlite", Settings(home=home).roots())
    task_id = store.query(TaskFilter(dataset="medgym_bio", category=category), limit=1).tasks[0].task_id
    store.close()
    return task_id


def _secrets(home: Path, task_id: str) -> set[str]:
    store = TaskStore.open(home / "medgym.sqlite", Settings(home=home).roots())
    secrets = code_key_secrets(store.answer_key(task_id)) | {(store.reference_solution(task_id) or "").strip()}
    store.close()
    return secrets


def _graders(handle: ServerHandle) -> list[dict[str, Any]]:
    assert handle.state is not None
    backend = handle.state.backend
    return [c for c in backend.managed_containers() if (c.get("Labels") or {}).get("medgym.role") == "grader"
            and c["Labels"].get("medgym.instance") == backend.instance_id]


class Session:
    """One episode driven through MCP, keeping every text the agent saw."""

    def __init__(self, client: Client, task_id: str):
        self.client, self.task_id, self.seen, self.episode = client, task_id, [], ""

    async def open(self) -> dict[str, Any]:
        view = await call_ok(self.client, "get_task", task_id=self.task_id, new_episode=True)
        self.episode = view["episode_id"]
        self.seen.append(json.dumps(view))
        return view

    async def run(self, code: str) -> dict[str, Any]:
        result = await call_ok(self.client, "run_code", task_id=self.task_id, episode_id=self.episode, code=code)
        self.seen.append(json.dumps(result))
        return result

    async def submit(self, answer: Any, style: str) -> dict[str, Any]:
        started = time.monotonic()
        verdict = await call_ok(self.client, "submit_answer", task_id=self.task_id, episode_id=self.episode,
                                answer=answer)
        TIMINGS.setdefault(style, []).append(time.monotonic() - started)
        self.seen.append(json.dumps(verdict))
        return verdict

    async def refused(self, answer: Any) -> str:
        message = await call_error(self.client, "submit_answer", task_id=self.task_id, episode_id=self.episode,
                                   answer=answer)
        self.seen.append(message)
        return message


async def _agent_sandbox_untouched(session: Session, handle: ServerHandle) -> str:
    """Write a file in the agent's sandbox; later checks read it back from the same container."""
    result = await session.run("open('/workspace/mine.txt', 'w').write('kept'); print('ok')")
    assert result["stdout"].strip() == "ok"
    assert handle.state is not None
    episode = next(e for e in handle.state.services.episodes.episodes_of("local") if e.episode_id == session.episode)
    assert episode.sandbox is not None
    return episode.sandbox.sandbox_id


async def _check_agent_sandbox(session: Session, handle: ServerHandle, sandbox_id: str, secrets: set[str]) -> None:
    listing = ("import os\nfor root in ('/workspace', '/tmp', '/data'):\n    for d, _, files in os.walk(root):\n"
               "        for f in files:\n            p = os.path.join(d, f)\n            print(p)\n"
               "            if os.path.getsize(p) < 5_000_000:\n"
               "                print(open(p, errors='replace').read())")
    result = await session.run(listing)
    assert "/workspace/mine.txt\nkept" in result["stdout"]
    assert_no_code_secrets(result["stdout"], secrets)
    assert handle.state is not None
    episode = next(e for e in handle.state.services.episodes.episodes_of("local") if e.episode_id == session.episode)
    assert episode.sandbox is not None and episode.sandbox.sandbox_id == sandbox_id


def _gc_content(question: str) -> str:
    digits = re.search(r"Round the result to (\d) decimal places", question)
    assert digits
    return ("def gc_content(seq):\n    letters = [c for c in seq.upper() if c in 'ACGT']\n"
            "    if not letters:\n        return 0.0\n"
            f"    return round(sum(c in 'GC' for c in letters) / len(letters), {digits.group(1)})\n")


async def test_function_task_correct_wrong_crash_timeout_and_format_errors(
    pack_home: Path, caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    task_id = _task(pack_home, "function: gc-content")
    secrets = _secrets(pack_home, task_id)
    handle = build_server(_settings(pack_home))
    async with Client(handle.mcp) as client:
        session = Session(client, task_id)
        view = await session.open()
        assert view["answer_format"]["kind"] == "code" and view["scorable"]
        sandbox_id = await _agent_sandbox_untouched(session, handle)
        for answer in (42, "", "this is not code", "def gc(seq):\n    return 0.5\n", ["def gc_content(s): pass"]):
            assert "not counted" in await session.refused(answer)
        wrong = await session.submit("def gc_content(seq):\n    return 0.5\n", "function")
        assert not wrong["correct"] and "wrong output" in wrong["feedback"] and wrong["attempts_used"] == 1
        crash = await session.submit("def gc_content(seq):\n    raise SystemExit(3)\n", "function")
        assert not crash["correct"] and "crashed (exit code 3)" in crash["feedback"]
        interrupted = await session.submit("def gc_content(seq):\n    raise KeyboardInterrupt\n", "function")
        assert "crashed with KeyboardInterrupt" in interrupted["feedback"]
        async with anyio.create_task_group() as group:
            seen_grader: list[dict[str, Any]] = []

            async def watch() -> None:
                while not seen_grader:
                    seen_grader.extend(_graders(handle))
                    await anyio.sleep(0.2)

            group.start_soon(watch)
            started = time.monotonic()
            endless = await session.submit("def gc_content(seq):\n    while True:\n        pass\n", "function")
            group.cancel_scope.cancel()
        assert not endless["correct"] and "timed out" in endless["feedback"]
        assert time.monotonic() - started < GRADE_TIMEOUT_S + 20
        assert seen_grader and seen_grader[0]["Labels"]["medgym.episode"] == f"{session.episode}-grader"
        assert _graders(handle) == []  # every grader container is gone
        await _check_agent_sandbox(session, handle, sandbox_id, secrets)
        right = await session.submit(_gc_content(view["question"]), "function")
        assert right["correct"] and right["attempts_used"] == 5 and right["episode_ended"]
        assert _graders(handle) == []
    _assert_nothing_hidden(session.seen, caplog.text, pack_home, tmp_path, secrets, task_id)


def _fraction_code(question: str, folder: str) -> str:
    gene = re.search(r"non-silent (\S+) mutation", question)
    assert gene
    return (
        "import csv\n"
        f"rows = lambda name: list(csv.DictReader(open('{folder}/' + name)))\n"
        "owner = {s['SAMPLE_ID']: s['PATIENT_ID'] for s in rows('clinical_sample.csv')}\n"
        f"hit = {{owner[m['Tumor_Sample_Barcode']] for m in rows('mutations.csv') if m['Hugo_Symbol'] == "
        f"'{gene.group(1)}' and m['Variant_Classification'] != 'Silent'}}\n"
        "patients = [p['PATIENT_ID'] for p in rows('clinical_patient.csv')]\n"
        "frac_mutated = sum(p in hit for p in patients) / len(patients)\n"
    )


async def test_analysis_task_correct_failing_assert_crash_timeout_and_format_errors(
    pack_home: Path, caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    task_id = _task(pack_home, "analysis: fraction-mutated")
    secrets = _secrets(pack_home, task_id)
    handle = build_server(_settings(pack_home))
    async with Client(handle.mcp) as client:
        session = Session(client, task_id)
        view = await session.open()
        folder = re.search(r"in (/data/medgym_bio/cohorts/\w+)/", view["context"])
        assert folder
        sandbox_id = await _agent_sandbox_untouched(session, handle)
        for answer in (42, "", "   ", "frac_mutated = (", ["frac_mutated = 1"]):
            assert "not counted" in await session.refused(answer)
        failing = await session.submit("frac_mutated = 0.5", "analysis")
        assert not failing["correct"] and "hidden assert failed" in failing["feedback"]
        missing = await session.submit("x = 1", "analysis")
        assert not missing["correct"] and "NameError" in missing["feedback"]
        crash = await session.submit("raise RuntimeError('boom')", "analysis")
        assert not crash["correct"] and "raised RuntimeError" in crash["feedback"]
        escape = await session.submit("import os\nos._exit(0)", "analysis")
        assert not escape["correct"] and "before the tests ran" in escape["feedback"]
        endless = await session.submit("while True:\n    pass", "analysis")
        assert not endless["correct"] and "timed out" in endless["feedback"]
        assert _graders(handle) == []
        await _check_agent_sandbox(session, handle, sandbox_id, secrets)
        right = await session.submit(_fraction_code(view["question"], folder.group(1)), "analysis")
        assert right["correct"], right["feedback"]
        assert right["attempts_used"] == 6 and _graders(handle) == []
    _assert_nothing_hidden(session.seen, caplog.text, pack_home, tmp_path, secrets, task_id)


def _assert_nothing_hidden(seen: list[str], logs: str, home: Path, tmp_path: Path, secrets: set[str],
                           task_id: str) -> None:
    for text in [*seen, logs]:
        assert_no_code_secrets(text, secrets)
        assert_no_ground_truth(text, set())
    records = RecordStore(home / "medgym.sqlite")
    records.flush()
    episodes = [e for e in records.episodes(dataset="medgym_bio") if e.task_id == task_id]
    dumped = [json.dumps(records.trajectory(e.episode_id).model_dump(mode="json")) for e in episodes]  # type: ignore[union-attr]
    records.close()
    assert dumped
    out = tmp_path / "raw.jsonl"
    export(home / "medgym.sqlite", "raw", out, dataset="medgym_bio")
    for text in [*dumped, out.read_text()]:
        assert_no_code_secrets(text, secrets)


async def test_files_under_the_datasets_data_folder_hold_no_hidden_parts(pack_home: Path) -> None:
    store = TaskStore.open(pack_home / "medgym.sqlite", Settings(home=pack_home).roots())
    ids, cursor = [], None
    while True:
        page = store.query(TaskFilter(dataset="medgym_bio"), limit=200, cursor=cursor)
        ids += [t.task_id for t in page.tasks]
        if not (cursor := page.next_cursor):
            break
    secrets = set().union(*(code_key_secrets(store.answer_key(i)) for i in ids))
    store.close()
    assert len(ids) >= 80 and len(secrets) > 150
    code = ("import os\nfor d, _, files in os.walk('/data/medgym_bio'):\n    for f in sorted(files):\n"
            "        p = os.path.join(d, f)\n        print('FILE', p)\n        print(open(p).read())")
    async with Client(build_server(_settings(pack_home)).mcp) as client:
        result = await call_ok(client, "run_code", task_id=ids[0], code=code)
    files = [line for line in result["stdout"].splitlines() if line.startswith("FILE ")]
    assert len(files) == 9 and all(f.endswith(".csv") and "/cohorts/" in f for f in files)
    assert not result["output_truncated"]
    assert_no_code_secrets(result["stdout"], secrets)


@pytest.fixture(scope="module", autouse=True)
def _report_timings() -> Any:
    yield
    for style, values in TIMINGS.items():
        print(f"\nmedian grading time ({style}, {len(values)} gradings): {statistics.median(values):.2f} s")
