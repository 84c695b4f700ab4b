"""The public BioCoder and BioDSBench records graded for real, certification of code datasets (a data
directory's and the built-in `medgym_bio`), quarantine, and the oracle on `medgym_bio` (real Docker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from medgym_cli import certify
from sandbox.docker_backend import DockerBackend
from task_store.store import TaskStore
from tests.conftest import IMAGE
from tests.mcp_calls import call_error, call_ok
from tools.sandboxes import SandboxProvider
from trajectory.rundir import RunDir
from trajectory.store import RecordStore

pytestmark = pytest.mark.usefixtures("docker_ready", "no_leftover_containers")

FILTER_KMERS = "biocoder/test/98b443b728881547cc9d48a5ccb5f26c65aa1cbafd482b962b85a4b2e4725d3f"
RANDOM_REPEAT = "biocoder/test/roll"  # a BioCoder-shaped record whose harness prints unseeded randomness
MEDGYM = str(Path(sys.executable).parent / "medgym")
ROLL = {
    "idx": "roll", "problem": "Write a function roll() returning a random float.", "signature": "def roll()",
    "solution": "def roll():\n    import random\n    return random.random()\n",
    "context": "import random\n<<insert solution here>>\nprint(roll())\n", "code": "",
}


@pytest.fixture
def code_dir(tmp_path: Path, shared_dir: Path) -> Path:
    """A data directory with one public BioCoder record and one nondeterministic record (built in tmp)."""
    records = [json.loads(line) for line in (shared_dir / "biocoder" / "test_tasks.jsonl").read_text().splitlines()]
    real = next(r for r in records if FILTER_KMERS.endswith(r["idx"]))
    (tmp_path / "data" / "biocoder").mkdir(parents=True)
    lines = [json.dumps(real), json.dumps(ROLL)]
    (tmp_path / "data" / "biocoder" / "test_tasks.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path / "data"


def _settings(home: Path, shared: Path) -> Settings:
    return Settings(home=home, data_dir=shared, image=IMAGE, pack=False, max_attempts=3)


def _solution(data: Path, task_id: str) -> str:
    idx = task_id.rsplit("/", 1)[1]
    for line in (data / "biocoder" / "test_tasks.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["idx"] == idx:
            return str(record["solution"])
    raise AssertionError(idx)


@pytest.mark.anyio
async def test_real_biocoder_tasks_are_graded(tmp_path: Path, code_dir: Path) -> None:
    handle = build_server(_settings(tmp_path / "home", code_dir))
    async with Client(handle.mcp) as client:
        view = await call_ok(client, "get_task", task_id=FILTER_KMERS)
        assert view["scorable"] and "def filter_kmers" not in view["context"].split("marked):")[1]
        wrong = await call_ok(client, "submit_answer", task_id=FILTER_KMERS,
                              answer="def filter_kmers(kmers, kmer_len, rate):\n    return []\n")
        assert not wrong["correct"] and "wrong output" in wrong["feedback"]
        timings = []
        for _ in range(2):  # the first grading computes the reference's output, the second reuses it
            started = time.monotonic()
            right = await call_ok(client, "submit_answer", task_id=FILTER_KMERS,
                                  answer=_solution(code_dir, FILTER_KMERS))
            timings.append(time.monotonic() - started)
            assert right["correct"], right["feedback"]
            await call_ok(client, "reset_task", task_id=FILTER_KMERS)
        print(f"\nBioCoder grading: {timings[0]:.2f} s (reference cached already), {timings[1]:.2f} s")
        refused = await call_error(client, "submit_answer", task_id=RANDOM_REPEAT,
                                   answer=_solution(code_dir, RANDOM_REPEAT))
        assert "cannot be scored" in refused and "repeated runs" in refused
        again = await call_ok(client, "get_task", task_id=RANDOM_REPEAT)
        assert again["attempts_used"] == 0
    assert list((tmp_path / "home" / "grader-cache").glob("*.json"))  # server-side cache, never mounted


@pytest.mark.anyio
async def test_biodsbench_tasks_are_listed_but_not_solvable_without_their_study(tmp_path: Path,
                                                                                shared_dir: Path) -> None:
    async with Client(build_server(_settings(tmp_path / "home", shared_dir)).mcp) as client:
        page = await call_ok(client, "list_tasks", dataset="biodsbench", limit=5)
        task_id = page["tasks"][0]["task_id"]
        view = await call_ok(client, "get_task", task_id=task_id)
        assert view["scorable"] and not view["data_available"] and not view["solvable"]
        assert "/data/biodsbench/data/" in view["context"] and str(shared_dir) not in view["solvable_reason"]
        message = await call_error(client, "submit_answer", task_id=task_id, answer="x = 1")
        assert "cannot be solved on this server" in message and "not counted" in message
        assert (await call_ok(client, "get_task", task_id=task_id))["attempts_used"] == 0


def test_certifying_a_data_directory_dataset_quarantines_with_the_reason(tmp_path: Path, code_dir: Path) -> None:
    home = tmp_path / "home"
    settings = _settings(home, code_dir)
    store = TaskStore.open(settings.db_path, settings.roots())
    tasks = [store.get(FILTER_KMERS), store.get(RANDOM_REPEAT)]
    sandboxes = SandboxProvider(store, IMAGE, certify.LIMITS, DockerBackend("tests-certify-code").start)
    reports, outcomes = certify.certify(store, sandboxes, tasks)
    store.close()
    assert [(o.reference_ok, o.constants_ok) for o in outcomes] == [(True, True), (False, True)]
    assert "repeated runs" in outcomes[1].detail and reports["biocoder"].tasks == 2
    assert certify.record_data_dir(home, outcomes) == 1
    reopened = TaskStore.open(settings.db_path, settings.roots())
    task = reopened.get(RANDOM_REPEAT)
    assert not task.scorable and "repeated runs" in task.instructions
    assert reopened.answer_key(RANDOM_REPEAT).kind == "unscorable"
    assert reopened.get(FILTER_KMERS).scorable
    reopened.close()


def test_the_certify_command_takes_a_data_directory_dataset(tmp_path: Path, shared_dir: Path) -> None:
    env = {**os.environ, "MEDGYM_HOME": str(tmp_path / "home"), "MEDGYM_IMAGE": IMAGE, "MEDGYM_PACK": "0"}
    done = subprocess.run([MEDGYM, "tasks", "certify", "--dataset", "biocoder", "--limit", "2", "--dry-run",
                           "--data-dir", str(shared_dir)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "biocoder" in done.stdout and "2/2 (100.0%)" in done.stdout
    skipped = subprocess.run([MEDGYM, "tasks", "certify", "--dataset", "biodsbench", "--limit", "1", "--dry-run",
                              "--data-dir", str(shared_dir)], env=env, capture_output=True, text=True, timeout=600)
    assert skipped.returncode == 0 and "SKIPPED" in skipped.stdout and "not on this server" in skipped.stdout


def test_certify_medgym_bio_one_task_per_category(pack_home: Path) -> None:
    """A stratified sample (one task per template; the full 90-task run takes about 3 minutes)."""
    store = TaskStore.open(pack_home / "medgym.sqlite", Settings(home=pack_home).roots())
    tasks = certify.select(store, "medgym_bio", 30)
    assert len({t.category for t in tasks}) == 30
    sandboxes = SandboxProvider(store, IMAGE, certify.LIMITS, DockerBackend("tests-certify-bio").start)
    reports, outcomes = certify.certify(store, sandboxes, tasks)
    store.close()
    print(f"\nmedgym_bio sample: {reports['medgym_bio'].tasks} tasks in {reports['medgym_bio'].seconds} s")
    assert [o.detail for o in outcomes if not (o.reference_ok and o.constants_ok)] == []


def test_oracle_solves_medgym_bio(pack_home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MEDGYM_HOME": str(pack_home), "MEDGYM_IMAGE": IMAGE, "MEDGYM_POOL_SIZE": "2"}
    started = time.monotonic()
    command = [MEDGYM, "eval", "--agent", "oracle", "--dataset", "medgym_bio", "--limit", "24", "--run-dir",
               str(tmp_path / "run"), "--concurrency", "4", "--quiet"]  # all 90: tests/test_eval.py (whole pack)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| all |" in done.stdout and "100.0%" in done.stdout
    print(f"\noracle on medgym_bio: {time.monotonic() - started:.0f} s")
    ids = {row.episode_id for row in RunDir(tmp_path / "run").rows()}
    records = RecordStore(pack_home / "medgym.sqlite")
    flagged = {e.episode_id: e.used_reference_solution for e in records.episodes() if e.episode_id in ids}
    records.close()
    assert len(flagged) == len(ids) == 24 and all(flagged.values())  # the submitted reference code is noticed


@pytest.mark.anyio
async def test_a_biodsbench_study_is_mounted_at_workdir_in_the_grader(tmp_path: Path) -> None:
    """A BioDSBench-shaped record over a synthetic study: its prefix, reference and asserts read /workdir."""
    folder = tmp_path / "data" / "biodsbench"
    (folder / "data" / "999").mkdir(parents=True)
    (folder / "data" / "999" / "data_clinical_patient.csv").write_text("PATIENT_ID,AGE\nP1,40\nP2,60\n")
    record = {"queries": "Mean age as `mean_age`.", "dataframes": "`/workdir/data_clinical_patient.csv`",
              "code_histories": "['import os']", "study_ids": "999", "question_ids": "0",
              "test_cases": "import os\nassert os.path.isdir('/workdir')\nassert mean_age == 50",
              "reference_answer": "import pandas as pd\nmean_age = pd.read_csv('/workdir/data_clinical_patient.csv')"
                                  "['AGE'].mean()", "cot_instructions": ""}
    (folder / "train_tasks.jsonl").write_text(json.dumps(record) + "\n")
    async with Client(build_server(_settings(tmp_path / "home", tmp_path / "data")).mcp) as client:
        view = await call_ok(client, "get_task", task_id="biodsbench/train/999-0")
        assert view["data_available"] and "/data/biodsbench/data/999/data_clinical_patient.csv" in view["context"]
        shown_path = ("import pandas as pd\nmean_age = pd.read_csv('/data/biodsbench/data/999/"
                      "data_clinical_patient.csv')['AGE'].mean()")
        wrong = await call_ok(client, "submit_answer", task_id="biodsbench/train/999-0", answer="mean_age = 49")
        assert not wrong["correct"]
        right = await call_ok(client, "submit_answer", task_id="biodsbench/train/999-0", answer=shown_path)
        assert right["correct"], right["feedback"]
